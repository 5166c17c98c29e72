"""Settings are checked once, at start: a bad value is one `config error:` line from either program, never a
traceback on every question; unknown tables and keys are named in a warning. Also the CLI's own edges."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest

from bot.__main__ import main as bot_main
from bot.config import ConfigError, load_feeds_config
from index.__main__ import main as index_main
from index.config import RetrievalConfig, load_config
from tests.helpers import one_article_index

ROOT = Path(__file__).resolve().parents[1]

# Read by both programs: each refuses the file before anything else happens.
BOTH = [
    ("[retrieval]\ncandidates = 0", "[retrieval] candidates must be between 1 and"),
    ("[retrieval]\ncandidates = -5", "[retrieval] candidates must be between 1 and"),
    ('[retrieval]\ncandidates = "100"', "[retrieval] candidates must be an integer"),
    ("[retrieval]\ncandidates = 100.5", "[retrieval] candidates must be an integer"),
    ('[retrieval]\ndense_weight = "high"', "[retrieval] dense_weight must be a number"),
    ("[retrieval]\ndense_weight = 1.5", "[retrieval] dense_weight must be between 0 and 1"),
    ('[retrieval]\nanswer_weights = { cosine = "x" }', "[retrieval] answer_weights must be a table of finite numbers"),
    ("[retrieval]\nanswer_weights = { cosin = 27.8 }", "(not cosin)"),  # a misspelled feature would weigh 0
    ("[retrieval]\nanswer_at = nan", "[retrieval] answer_at must be a finite number"),
    ("[retrieval]\nanswer_bias = -inf", "[retrieval] answer_bias must be a finite number"),
    ("[retrieval]\nhedge_at = 0.9", "hedge_at (0.9) must not be above answer_at"),
    ("[retrieval]\ndate_after_days = 1000000000", "[retrieval] date_after_days must be between 0 and"),
    ('[index]\nquery_backend = "gpu"', '[index] query_backend must be one of "onnx-int8", "torch"'),
    ("[index]\nseeds = 5", "[index] seeds must be a path or a list of paths"),
    ("[index]\ndir = 5", "[index] dir must be a path"),
    ('[index]\ndir = ""', "[index] dir must be a path (not empty)"),
    ('[index]\nbackend = "faiss"', '[index] backend must be one of "local", "milvus"'),
    ('[index]\nmilvus_collection = "news bot"', "[index] milvus_collection must be a collection name"),
    ("[index]\nembed_on_build = 1", "[index] embed_on_build must be true or false"),
    ("index = 5", "[index] must be a table"),
    ("[retrieval\ncandidates = 5", "not a valid TOML file"),
]
# Read by the bot only.
BOT = [
    ('[groups]\nlog_path = "logs"', "[groups] log_path"),  # a folder (made by the test)
    ('[feedback]\nlog_path = "logs"', "[feedback] log_path"),
    ("[feeds]\ntimeout_seconds = inf", "[feeds] timeout_seconds must be a finite number"),
    ("[feeds]\ninterval_minutes = nan", "[feeds] interval_minutes must be a finite number"),
    ("[summary]\ncooldown_seconds = inf", "[summary] cooldown_seconds must be a finite number"),
    ("telegram = []", "[telegram] must be a table"),
]


def _write(tmp_path: Path, text: str) -> str:
    (tmp_path / "logs").mkdir()
    (tmp_path / "config.toml").write_text(text + "\n", encoding="utf-8")
    return str(tmp_path / "config.toml")


def _one_config_error(capsys, needle: str) -> None:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("config error: ") and needle in err[0], err


@pytest.mark.parametrize("text, needle", BOTH)
def test_the_index_cli_refuses_a_bad_setting_in_one_line(tmp_path, capsys, text, needle):
    assert index_main(["--config", _write(tmp_path, text), "stats"]) == 2
    _one_config_error(capsys, needle)


@pytest.mark.parametrize("text, needle", BOTH + BOT)
def test_the_bot_refuses_a_bad_setting_at_start_in_one_line(tmp_path, capsys, text, needle):
    assert bot_main(["--config", _write(tmp_path, text)]) == 2  # before the index is opened
    _one_config_error(capsys, needle)


def test_the_project_config_passes_its_own_checks():
    cfg = load_config(ROOT / "config.toml")
    assert cfg.retrieval.answer_at == 0.607 and cfg.retrieval.candidates == 100
    assert isinstance(cfg.retrieval, RetrievalConfig)


def test_unknown_tables_and_keys_are_named_in_a_warning(tmp_path, caplog):
    path = _write(tmp_path, '[indexx]\ndir = "elsewhere"\n[index]\ncandidats = 5\nmodel = "m"\n[retrieval]\nfoo = 1')
    with caplog.at_level(logging.WARNING, logger="config"):
        cfg = load_config(path)
    messages = [r.getMessage() for r in caplog.records]
    assert any("unknown table [indexx]" in m for m in messages), messages
    assert any("'candidats'" in m and "[index]" in m for m in messages)
    assert any("'foo'" in m and "[retrieval]" in m for m in messages)
    assert cfg.index.model == "m" and cfg.retrieval.candidates == 100  # the known keys are read as ever


def test_a_real_process_prints_the_warning_and_the_error_and_no_traceback(tmp_path):
    path = _write(tmp_path, "[indexx]\n[retrieval]\nanswer_at = nan")
    proc = subprocess.run([sys.executable, "-m", "index", "--config", path, "stats"], capture_output=True,
                          text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert any("unknown table [indexx]" in line for line in lines)
    assert lines[-1] == "config error: [retrieval] answer_at must be a finite number, got nan"


# --- CLI edges (issue 23.11) ---


@pytest.mark.parametrize("value", ["inf", "nan", "-1", "0", "ten"])
def test_add_timeout_must_be_a_positive_finite_number(tmp_path, capsys, value):
    with pytest.raises(SystemExit) as exit_:
        index_main(["--config", _write(tmp_path, ""), "add", "--timeout", value, "http://127.0.0.1:9/x.xml"])
    assert exit_.value.code == 2  # argparse's usage error, before anything is fetched
    err = capsys.readouterr().err
    assert "--timeout" in err and "Traceback" not in err


def test_feeds_timeout_must_be_finite():
    with pytest.raises(ConfigError, match="finite"):
        load_feeds_config({"timeout_seconds": float("inf")})
    assert load_feeds_config({"timeout_seconds": 2.5}).timeout_seconds == 2.5


def test_search_json_reads_undecodable_and_endless_lines_and_answers_the_rest(tmp_path, capsys, monkeypatch):
    """Bytes that are not UTF-8 are replaced and the line named; a line longer than any question is cut."""
    idx = one_article_index(tmp_path, {"id": "a", "title": "社区防控", "published_at": "2020-02-09T10:00:00+08:00",
                                       "body": "社区防控要突出精准施策，做到早发现早报告。"})
    config = _write(tmp_path, f'[index]\ndir = "{idx}"\nembed_on_build = false')
    stdin = b"\xff\xfe\xc3 " + "社区防控\n".encode() + "社".encode() * 100_000 + "\n社区防控\n".encode()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8"))
    assert index_main(["--config", config, "search", "--json", "--lexical"]) == 0
    out, err = capsys.readouterr()
    answers = [json.loads(line) for line in out.splitlines()]
    assert len(answers) == 3  # the damaged line, the cut one and the last one each get an answer
    assert answers[0][0]["article_id"] == "a" and answers[2][0]["article_id"] == "a"
    assert "stdin line 1 is not valid UTF-8" in err and "line 2" not in err and "line 3" not in err
