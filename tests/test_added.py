"""Nothing an operator adds is lost: the index is the seeds plus everything added, minus what was removed."""

from __future__ import annotations

from pathlib import Path

import pytest
from telegram.ext import Application

from bot.config import FeedsConfig
from bot.newsindex import FOLLOW_JOB, NewsIndex
from index import IndexConfig, Retriever, add_articles, build_index, load_config, store
from index.__main__ import main as index_main
from tests.hashencoder import HashEncoder
from index.schema import Article
from tests.helpers import jsonl

SEED = {"id": "seed1", "title": "种子新闻标题", "published_at": "2020-02-09T10:00:00+08:00", "source": "种子社",
        "body": "这是一篇种子新闻的第一段。\n种子新闻的第二段。"}
ADDED = [
    {"id": "a1", "title": "长江大桥今日通车", "published_at": "2023-11-15T06:13:00+08:00",
     "body": "全长十公里的长江大桥今天正式通车。\n预计每天通行车辆五万辆。"},
    {"id": "a2", "title": "春耕备耕有序推进", "published_at": "2023-11-16T08:00:00+08:00",
     "body": "各地抢抓农时，春耕备耕工作有序推进。"},
]
NEW_SEED = {"id": "seed2", "title": "第二篇种子新闻", "published_at": "2020-02-10T10:00:00+08:00",
            "body": "种子文件夹里新放进来的一篇。"}


@pytest.fixture
def deployment(tmp_path):
    """A config.toml over a seed folder, built by the CLI (lexical only)."""
    (tmp_path / "seeds").mkdir()
    jsonl(tmp_path / "seeds" / "seed.jsonl", [SEED])
    jsonl(tmp_path / "a1.jsonl", ADDED)
    # model names the fake, so the CLI's lexical build and the bot's check agree on it.
    (tmp_path / "config.toml").write_text(
        '[index]\nseeds = ["seeds"]\ndir = "idx"\nmodel = "hash-bigram-64"\nembed_on_build = false\n')
    assert cli(tmp_path, "build") == 0
    return tmp_path


def seed_index(tmp_path, encoder=None) -> Path:
    """An index of the one seed article (embedded with `encoder`, lexical only without)."""
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    jsonl(seeds / "seed.jsonl", [SEED])
    config = IndexConfig(model=encoder.name) if encoder else IndexConfig()
    build_index([seeds], tmp_path / "idx", encoder, config, embed=encoder is not None, progress=False)
    return tmp_path / "idx"


def published_counts(monkeypatch) -> list[dict]:
    """The manifest counts of every version published from now on, in order."""
    counts: list[dict] = []
    real = store.publish
    monkeypatch.setattr(store, "publish", lambda index_dir, tmp: counts.append(
        store.read_manifest(tmp)["counts"]) or real(index_dir, tmp))
    return counts


def cli(folder, *args) -> int:
    return index_main(["--config", str(folder / "config.toml"), *args])


def bot_index(folder) -> NewsIndex:
    """What `python -m bot` does at start: open the index (building it if its seeds changed); the fake encoder."""
    return NewsIndex.open(load_config(folder / "config.toml"), FeedsConfig(), encoder=HashEncoder())


def ids(retriever) -> set[str]:
    return {a for a in ("seed1", "seed2", "a1", "a2") if retriever.article(a) is not None}


def test_articles_added_with_the_cli_are_there_when_the_bot_starts(deployment):
    assert cli(deployment, "add", str(deployment / "a1.jsonl")) == 0
    (deployment / "a1.jsonl").unlink()  # the operator's copy may go: the index keeps its own
    news = bot_index(deployment)
    try:
        assert ids(news.retriever) == {"seed1", "a1", "a2"}
    finally:
        news.close()


def test_a_changed_seed_folder_rebuilds_with_the_added_articles(deployment):
    assert cli(deployment, "add", str(deployment / "a1.jsonl")) == 0
    jsonl(deployment / "seeds" / "more.jsonl", [NEW_SEED])
    before = store.current_version(deployment / "idx")
    news = bot_index(deployment)
    try:
        assert store.current_version(deployment / "idx") != before  # the seeds changed: rebuilt
        assert ids(news.retriever) == {"seed1", "seed2", "a1", "a2"}
    finally:
        news.close()


async def test_removed_stays_removed_through_a_rebuild_and_reindex(deployment):
    assert cli(deployment, "add", str(deployment / "a1.jsonl")) == 0
    assert cli(deployment, "remove", "a1") == 0
    jsonl(deployment / "seeds" / "more.jsonl", [NEW_SEED])
    news = bot_index(deployment)  # rebuilt: its seeds changed
    try:
        assert ids(news.retriever) == {"seed1", "seed2", "a2"}
        await news.rebuild()  # /reindex
        assert ids(news.retriever) == {"seed1", "seed2", "a2"}
    finally:
        news.close()


def test_removed_stays_removed_through_a_rebuild_from_scratch_until_given_again(deployment):
    assert cli(deployment, "add", str(deployment / "a1.jsonl")) == 0
    assert cli(deployment, "remove", "a1") == 0
    assert cli(deployment, "build", "--rebuild") == 0  # nothing of the current version reused
    r = Retriever.load(deployment / "idx")
    try:
        assert ids(r) == {"seed1", "a2"}
    finally:
        r.close()
    assert cli(deployment, "add", str(deployment / "a1.jsonl")) == 0  # its file given again: back
    r = Retriever.load(deployment / "idx")
    try:
        assert ids(r) == {"seed1", "a1", "a2"}
    finally:
        r.close()
    assert (deployment / "idx" / "removed.txt").read_text() == ""


async def test_a_running_bot_swaps_in_a_version_the_cli_published(deployment):
    news = bot_index(deployment)
    application = Application.builder().token("1:x").build()
    try:
        news.start(application.job_queue)
        assert [j.name for j in application.job_queue.jobs()] == [FOLLOW_JOB]
        assert await news.follow() is False  # nothing new yet
        old = news.retriever
        assert cli(deployment, "add", str(deployment / "a1.jsonl")) == 0
        assert await news.follow() is True
        assert news.retriever is not old and ids(news.retriever) == {"seed1", "a1", "a2"}
        assert await news.follow() is False
    finally:
        news.close()


def test_an_added_batch_survives_a_rebuild_from_scratch(tmp_path):
    idx = seed_index(tmp_path)
    post = Article(id="tg-1-5", title="频道消息标题", paragraphs=["频道里发的一条新闻。"])
    added = add_articles({"telegram-1": [post]}, idx, None, IndexConfig(), embed=False)
    assert added.added == {"telegram-1": 1} and added.version
    build_index([tmp_path / "seeds"], idx, None, IndexConfig(), embed=False, progress=False, rebuild=True)
    r = Retriever.load(idx)
    try:
        assert r.article("tg-1-5") is not None and r.article("seed1") is not None
    finally:
        r.close()


def test_a_small_add_publishes_one_version_with_its_vectors(tmp_path, monkeypatch):
    enc = HashEncoder()
    idx = seed_index(tmp_path, enc)
    counts = published_counts(monkeypatch)
    post = Article(id="tg-1-6", title="频道消息标题", paragraphs=["频道里发的一条新闻。", "第二段。"])
    assert add_articles({"telegram-1": [post]}, idx, enc, IndexConfig(model=enc.name)).version
    (version,) = counts  # not a lexical version first and a vectors one after
    assert version["vectors"] == version["passages"]


def test_one_cli_add_of_a_file_and_a_feed_url_is_one_version(deployment, feed_server, monkeypatch):
    feed_server.route("/rss", '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>网</title>'
                      '<item><guid>f1</guid><title>城市更新项目集中开工</title><link>http://x/f1</link>'
                      '<description>今年计划改造老旧小区两千个。</description></item></channel></rss>')
    counts = published_counts(monkeypatch)
    assert cli(deployment, "add", str(deployment / "a1.jsonl"), feed_server.url("/rss")) == 0
    assert len(counts) == 1
    jsonl(deployment / "seeds" / "more.jsonl", [NEW_SEED])
    news = bot_index(deployment)  # rebuilt from the seeds and both added sources
    try:
        assert ids(news.retriever) == {"seed1", "seed2", "a1", "a2"}
        assert "城市更新项目集中开工" in [h.title for h in news.retriever.latest(10)]
    finally:
        news.close()


def test_a_large_add_is_published_lexical_first_then_with_its_vectors(tmp_path, monkeypatch):
    from index.writer import vectors

    enc = HashEncoder()
    idx = seed_index(tmp_path, enc)
    monkeypatch.setattr(vectors, "EMBED_FIRST_MAX", 2)  # "large": more passages than this to embed
    counts = published_counts(monkeypatch)
    post = Article(id="tg-1-7", title="频道消息标题", paragraphs=["频道里发的一条新闻。", "第二段。", "第三段。"])
    add_articles({"telegram-1": [post]}, idx, enc, IndexConfig(model=enc.name))
    (lexical, embedded) = counts  # searchable by words at once, by meaning when embedded
    assert lexical["vectors"] < lexical["passages"] and embedded["vectors"] == embedded["passages"]


def test_a_seed_file_given_to_add_is_not_copied_so_its_edits_win(deployment):
    jsonl(deployment / "seeds" / "more.jsonl", [NEW_SEED])
    assert cli(deployment, "add", str(deployment / "seeds" / "more.jsonl")) == 0
    assert not (deployment / "idx" / "added").exists()  # a seed: every build reads it anyway
    jsonl(deployment / "seeds" / "more.jsonl", [NEW_SEED | {"body": "种子文件改过之后的正文。"}])
    news = bot_index(deployment)
    try:
        assert news.retriever.article("seed2").paragraphs == ["种子文件改过之后的正文。"]
    finally:
        news.close()
