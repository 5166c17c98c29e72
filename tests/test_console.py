"""The terminal chat: the same Application and handlers, a Bot API stand-in that prints replies."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

from bot.app import build_application
from bot.config import BotConfig
from bot.console import CONSOLE_TOKEN, ConsoleRequest, run_console
from bot.newsindex import NewsIndex

ROOT = Path(__file__).resolve().parents[1]
TITLE = "【央视快评】筑牢基层社区疫情防控的严密防线"
SEED_SENTENCE = "社区防控,要以网格化为基础,守住门,突出“严”。"


async def test_console_chat_answers_pages_and_lists(hash_seed_retriever):
    out = io.StringIO()
    request = ConsoleRequest(out)
    application = build_application(
        BotConfig(token=CONSOLE_TOKEN, passages=2), NewsIndex(hash_seed_retriever), request=request,
        get_updates_request=request,
    )
    lines = io.StringIO("社区防控要突出什么\n#1\n#2\n\n/latest 3\n/latest abc\n")

    await run_console(application, lines, out)

    text = out.getvalue()
    answer, more, article, latest, usage = text.split("\n> ")[0:5]
    assert answer.startswith("> 社区防控要突出什么\n")
    assert "    ┆ " + SEED_SENTENCE in answer  # the quote, indented; ┆: collapsed in Telegram (a long passage)
    assert f"—— {TITLE}\n2020-02-09 23:26 · 观察者网" in answer
    assert "[#1 更多 ▸]  [#2 全文]" in answer
    assert more.startswith("#1\n") and more.count("\n    ") >= 1 and SEED_SENTENCE not in more
    assert article.startswith("#2\n" + TITLE) and SEED_SENTENCE in article
    assert latest.startswith("/latest 3\n最新 3 条标题：") and latest.count("• ") == 3
    assert usage.startswith("/latest abc\n用法：")
    assert "<blockquote>" not in text and "&lt;" not in text


def _config_for(tmp_path: Path) -> Path:
    """The project's config with the index in tmp_path (so the run must build it), passages at nice 1
    (as conftest's default_encoder: at nice 10 the build would wait behind every other process)."""
    raw = tomllib.loads((ROOT / "config.toml").read_text(encoding="utf-8"))
    index = dict(raw["index"], seeds=[str(ROOT / "seeds")], dir=str(tmp_path / "index"), passage_nice=1)
    lines = ["[index]"] + [f"{k} = {json.dumps(v, ensure_ascii=False)}" for k, v in index.items()]
    config = tmp_path / "config.toml"
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return config


def test_python_m_bot_without_a_token_answers_from_a_pipe(tmp_path, default_encoder):
    # default_encoder: the model is converted (once per machine) before the subprocess needs it.
    config = _config_for(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TELEGRAM_")}
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", TELEGRAM_BOT_TOKEN="")

    run = subprocess.run(
        [sys.executable, "-m", "bot", "--config", str(config)],
        input="社区防控要突出什么\n",
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=ROOT,
        env=env,
        timeout=300,
    )

    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.startswith("> 社区防控要突出什么\n"), run.stdout
    assert SEED_SENTENCE in run.stdout
    assert TITLE in run.stdout and "2020-02-09 23:26" in run.stdout
    assert (tmp_path / "index" / "current").exists()  # built from seeds/ because it was missing
    assert "Traceback" not in run.stderr


async def test_a_hedged_answer_says_so_first_in_the_terminal_chat():
    from tests.fakeretriever import FakeRetriever

    out = io.StringIO()
    request = ConsoleRequest(out)
    application = build_application(
        BotConfig(token=CONSOLE_TOKEN, passages=2), NewsIndex(FakeRetriever(found_every=1, confident=False)),
        request=request, get_updates_request=request,
    )
    await run_console(application, io.StringIO("口罩产量是多少\n"), out)

    answer = out.getvalue()
    assert answer.startswith("> 口罩产量是多少\n不确定是否回答了你的问题，最接近的是：\n")
    assert "    第一句。" in answer  # the passage is still quoted, under the hedge
    assert "<blockquote>" not in answer and "&lt;" not in answer
