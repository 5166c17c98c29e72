"""Searching the seed index with the real default model: quotes, script folding, not-found."""

from __future__ import annotations

import json
import subprocess
import sys

from index.schema import PARAGRAPH

from .conftest import ROOT

SEED_TITLE = "【央视快评】筑牢基层社区疫情防控的严密防线"


def test_question_quotes_a_seed_paragraph(seed_retriever):
    result = seed_retriever.search("社区防控要突出什么", k=3)
    assert result.found
    top = result.hits[0]
    assert top.passage.kind == PARAGRAPH and top.passage.title == SEED_TITLE
    assert top.passage.published_at == "2020-02-09T23:26:08+08:00"
    assert top.passage.source == "观察者网 guancha.cn"
    assert "突出" in top.best_sentence and top.best_sentence in top.passage.text
    assert top.dense_score is not None  # the hybrid path ran
    assert [h.rank for h in result.hits] == list(range(1, len(result.hits) + 1))


def test_traditional_and_fullwidth_questions_find_the_same_passages(seed_retriever):
    simplified = seed_retriever.search("社区防控要突出什么")
    for variant in ("社區防控要突出什麼", "社區防控要突出什麼？", "ＣＯＶＩＤ 社区防控要突出什么"):
        other = seed_retriever.search(variant)
        assert other.hits[0].passage.id == simplified.hits[0].passage.id, variant


def test_paraphrase_reaches_the_right_paragraph(seed_retriever):
    # No word of "返程" + "提前告知" appears as such in the question; the dense leg carries it.
    result = seed_retriever.search("对疫情高发区准备返程的人应该怎么办")
    assert result.found
    assert any("暂缓回程" in h.passage.text for h in result.hits)


def test_off_topic_question_is_not_found(seed_retriever):
    for q in ("巴西足球比赛的比分是多少", "如何做红烧肉", "🙂🙂🙂", "？？？", "   "):
        result = seed_retriever.search(q)
        assert not result.found, q
        assert result.hits == []
        assert len(result.nearest_headlines) == 3


def test_latest_orders_dated_before_undated(seed_retriever):
    heads = seed_retriever.latest(100)
    dated = [h for h in heads if h.published_at]
    assert heads[: len(dated)] == dated  # undated never above dated
    assert heads[0].title == SEED_TITLE  # 23:26, the newest
    assert [h.published_at for h in dated] == sorted((h.published_at for h in dated), reverse=True)
    assert all("武汉" in h.title for h in seed_retriever.latest(10, "武漢"))


def test_cli_search_json(seed_index, project_config, tmp_path):
    config = tmp_path / "config.toml"
    # The configured question backend: with onnx-int8 the search process never imports torch (seconds).
    index = project_config.index
    config.write_text(f'[index]\ndir = "{seed_index}"\nmodel = "{index.model}"\n'
                      f'query_backend = "{index.query_backend}"\n', encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "index", "--config", str(config), "search", "--json"],
        input="社区防控要突出什么\n巴西足球比赛的比分是多少\n", capture_output=True, text=True, cwd=ROOT, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    first, second = [json.loads(line) for line in proc.stdout.splitlines()]
    assert first[0]["title"] == SEED_TITLE and first[0]["kind"] == "paragraph"
    assert set(first[0]) >= {"rank", "score", "passage_id", "article_id", "title", "published_at", "kind", "text", "best_sentence"}
    assert second == []


def test_no_pinyin_anywhere_in_the_stored_index(seed_index):
    from index import store
    from index.ingest.clean import count_pinyin

    db = store.open_db(store.current_version(seed_index) / store.DB)
    texts = [v for row in db.execute("SELECT title, text, index_text, tag FROM passages") for v in row if v]
    texts += [v for row in db.execute("SELECT title, meta, paragraphs FROM articles") for v in row if v]
    db.close()
    assert len(texts) > 80
    assert sum(count_pinyin(t) for t in texts) == 0
    assert not any(ch in t for t in texts for ch in "區發嚴") # Traditional forms are gone
