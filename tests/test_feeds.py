"""Feeds and article pages: real RSS/Atom/HTML served over loopback HTTP, polled into the index."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from telegram import Update
from telegram.ext import CallbackContext

from bot import admin
from bot import feeds as bot_feeds
from index import IndexConfig, Retriever, build_index, store
from index.__main__ import main as index_main
from index.feeds import FeedPoller, parse_feed
from tests.fakebotapi import ALICE

ADMIN = {"id": 4242, "is_bot": False, "first_name": "Root"}
ADMIN_CHAT = {"id": ADMIN["id"], "type": "private", "first_name": "Root"}
INTERVAL = 60.0


def rss(items: list[tuple[str, str, str, str]], title: str = "测试新闻网") -> str:
    """RSS 2.0 with (guid, title, html description, pubDate) items."""
    body = "".join(
        f"<item><guid>{g}</guid><title>{t}</title><link>http://news.example/{g}</link>"
        f"<description><![CDATA[{d}]]></description><pubDate>{p}</pubDate></item>"
        for g, t, d, p in items
    )
    return f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>{title}</title>{body}</channel></rss>'


ITEM_A = ("a1", "长江流域迎来新一轮强降雨", "<p>气象台发布<b>暴雨</b>预警。</p><p>多地启动防汛应急响应。</p>",
          "Mon, 02 Mar 2026 09:30:00 +0000")
ITEM_B = ("b2", "新能源汽车出口继续增长", "<div>海关数据显示，一季度出口同比增长。<br>企业加快海外布局。</div>",
          "Mon, 02 Mar 2026 08:00:00")  # no zone: China time
ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>原子日报</title><id>urn:atom</id><updated>2026-03-02T10:00:00Z</updated>
<entry><id>urn:atom:1</id><title>城市更新项目集中开工</title><link href="http://atom.example/1"/>
<updated>2026-03-02T11:15:00+08:00</updated>
<content type="html">&lt;p&gt;今年计划改造老旧小区两千个。&lt;/p&gt;&lt;p&gt;资金来源多元。&lt;/p&gt;</content></entry>
</feed>"""
PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>春耕备耕有序推进 - 农业网</title>
<meta property="og:site_name" content="农业网">
<meta property="article:published_time" content="2026-03-01 07:45:00"></head>
<body><nav><a href="/">首页</a> <a href="/news">新闻</a></nav>
<article><h1>春耕备耕有序推进</h1>
<p>各地抢抓农时，春耕备耕工作有序推进，农资供应总体充足，价格基本稳定，农民种粮积极性较高。</p>
<p>农业农村部门组织技术人员深入田间地头，指导农民科学施肥、合理用药，确保粮食生产开好局。</p>
</article><footer>版权所有 农业网</footer></body></html>"""
SEED = {"id": "seed1", "title": "种子新闻标题", "published_at": "2020-02-09T10:00:00+08:00", "source": "种子社",
        "body": "这是一篇种子新闻的第一段。\n种子新闻的第二段。"}


@pytest.fixture
def index_dir(tmp_path) -> Path:
    """A tiny lexical-only index of one seed article."""
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "seed.jsonl").write_text(json.dumps(SEED, ensure_ascii=False) + "\n", encoding="utf-8")
    folder = tmp_path / "index"
    build_index([seeds], folder, None, IndexConfig(), embed=False, progress=False)
    return folder


def poller(urls, index_dir, **kw) -> FeedPoller:
    return FeedPoller(urls, index_dir, config=IndexConfig(), embed=False, interval=INTERVAL, timeout=kw.pop("timeout", 2.0), **kw)


def titles(index_dir: Path) -> list[str]:
    r = Retriever.load(index_dir)
    try:
        return [h.title for h in r.latest(20)]
    finally:
        r.close()


def version(index_dir: Path) -> str:
    return store.current_version(index_dir).name


def test_feeds_parse_html_bodies_and_keep_publication_times(feed_server):
    articles = parse_feed(rss([ITEM_A, ITEM_B]).encode(), "http://x/rss")
    a, b = articles
    assert a.title == ITEM_A[1] and a.paragraphs == ["气象台发布暴雨预警。", "多地启动防汛应急响应。"]
    assert a.published_at == "2026-03-02T17:30:00+08:00"  # the same instant, in China time
    assert b.published_at == "2026-03-02T08:00:00+08:00"  # no zone given: China time
    assert b.paragraphs == ["海关数据显示，一季度出口同比增长。", "企业加快海外布局。"]  # <br> splits
    assert a.source == "测试新闻网" and a.url == "http://news.example/a1"
    assert parse_feed(rss([ITEM_A]).encode(), "http://other/rss")[0].id == a.id  # stable ids from the guid
    (atom,) = parse_feed(ATOM.encode(), "http://x/atom")
    assert atom.title == "城市更新项目集中开工" and atom.published_at == "2026-03-02T11:15:00+08:00"
    assert len(atom.paragraphs) == 2


def test_a_poll_adds_new_items_and_an_unchanged_feed_adds_nothing(feed_server, index_dir):
    route = feed_server.route("/rss", rss([ITEM_A]), etag='"v1"')
    atom = feed_server.route("/atom", ATOM, content_type="application/atom+xml")  # no validators
    p = poller([feed_server.url("/rss"), feed_server.url("/atom")], index_dir)
    before = version(index_dir)
    report = p.poll(now=1000.0)
    assert report.added == 2 and report.version and report.version != before
    assert {"长江流域迎来新一轮强降雨", "城市更新项目集中开工", "种子新闻标题"} <= set(titles(index_dir))
    assert len(list((index_dir / "feeds").glob("*.jsonl"))) == 2

    # 304 for the RSS feed, the same bytes for the Atom feed: no new version.
    v1 = version(index_dir)
    report = p.poll(now=1000.0 + INTERVAL)
    assert route.conditional == 1 and atom.requests == 2
    assert report.added == 0 and report.version is None and version(index_dir) == v1
    assert [s.last_status for s in p.status()] == ["not modified", "not modified"]

    # A fresh poller (a restart) gets the same content again: the index already holds it.
    again = poller([feed_server.url("/atom")], index_dir).poll(now=5000.0)
    assert again.added == 0 and again.version is None and version(index_dir) == v1

    # A new item and a changed one: only those two are written.
    changed = (ITEM_A[0], ITEM_A[1], "<p>气象台升级暴雨预警为橙色。</p>", ITEM_A[3])
    feed_server.route("/rss", rss([changed, ITEM_B]), etag='"v2"')
    report = p.poll(now=1000.0 + 2 * INTERVAL)
    assert report.added == 2 and report.version
    r = Retriever.load(index_dir)
    try:
        assert r.stats()["articles"] == 4
        hit = r.search("橙色暴雨预警", k=1).hits[0]
        assert "橙色" in hit.passage.text
    finally:
        r.close()


def test_failing_feeds_back_off_and_the_others_still_update(feed_server, index_dir):
    good = feed_server.route("/good", rss([ITEM_A]))
    slow = feed_server.route("/slow", rss([ITEM_B]), delay=1.5)
    broken = feed_server.route("/500", "oops", status=500, content_type="text/plain")
    bad = feed_server.route("/bad", '<?xml version="1.0"?><rss version="2.0"><channel><title>坏')
    urls = [feed_server.url(p) for p in ("/slow", "/500", "/bad", "/good")]
    p = poller(urls, index_dir, timeout=0.5)
    report = p.poll(now=1000.0)
    assert report.fetched == [feed_server.url("/good")] and len(report.failed) == 3
    assert report.added == 1 and "长江流域迎来新一轮强降雨" in titles(index_dir)
    state = {s.url: s for s in p.status()}
    for path in ("/slow", "/500", "/bad"):
        s = state[feed_server.url(path)]
        assert s.failures == 1 and s.next_attempt == 1000.0 + 2 * INTERVAL and s.last_status.startswith("error")
    assert "timed out" in state[feed_server.url("/slow")].last_status
    assert "HTTP 500" in state[feed_server.url("/500")].last_status

    # One interval later only the good feed is due.
    p.poll(now=1000.0 + INTERVAL)
    assert good.requests == 2 and broken.requests == bad.requests == slow.requests == 1
    # When they are due and fail again, the wait doubles; a recovered feed is back to the interval.
    feed_server.route("/500", rss([ITEM_B]))
    p.poll(now=1000.0 + 2 * INTERVAL)
    state = {s.url: s for s in p.status()}
    assert state[feed_server.url("/bad")].next_attempt == 1000.0 + 2 * INTERVAL + 4 * INTERVAL
    assert state[feed_server.url("/500")].failures == 0
    assert state[feed_server.url("/500")].next_attempt == 1000.0 + 3 * INTERVAL
    assert "新能源汽车出口继续增长" in titles(index_dir)


def test_the_same_story_in_two_feeds_is_stored_once(feed_server, index_dir):
    feed_server.route("/one", rss([ITEM_A]))
    feed_server.route("/two", rss([ITEM_A, ITEM_B], title="另一家"))
    renamed = ("other-guid",) + ITEM_A[1:]  # same content under another guid
    feed_server.route("/three", rss([renamed]))
    p = poller([feed_server.url(x) for x in ("/one", "/two", "/three")], index_dir)
    report = p.poll(now=1000.0)
    assert report.added == 2
    r = Retriever.load(index_dir)
    try:
        assert r.stats()["articles"] == 3
        assert titles(index_dir).count("长江流域迎来新一轮强降雨") == 1
    finally:
        r.close()


def test_index_add_takes_feed_and_page_urls(feed_server, tmp_path, capsys):
    feed_server.route("/page.html", PAGE, content_type="text/html; charset=utf-8")
    feed_server.route("/atom", ATOM, content_type="application/atom+xml")
    (tmp_path / "config.toml").write_text('[index]\nseeds = []\ndir = "idx"\nembed_on_build = false\n')
    cfg = str(tmp_path / "config.toml")
    assert index_main(["--config", cfg, "add", feed_server.url("/page.html"), feed_server.url("/atom")]) == 0
    r = Retriever.load(tmp_path / "idx")
    try:
        page = next(h for h in r.latest(10) if h.title == "春耕备耕有序推进")
        assert page.published_at == "2026-03-01T07:45:00+08:00"
        article = r.article(page.article_id)
        assert article.source == "农业网" and article.url == feed_server.url("/page.html")
        assert any("春耕备耕工作有序推进" in p for p in article.paragraphs)
        assert not any("版权所有" in p or "首页" in p for p in article.paragraphs)
        v = r.stats()["version"]
    finally:
        r.close()
    # The same URLs again add nothing.
    assert index_main(["--config", cfg, "add", feed_server.url("/page.html"), feed_server.url("/atom")]) == 0
    assert "nothing new to add" in capsys.readouterr().out
    assert version(tmp_path / "idx") == v


async def feed_update(application, update: dict) -> None:
    await application.process_update(Update.de_json(update, application.bot))


async def test_the_bot_polls_feeds_and_latest_shows_them(make_reliable_bot, fake_bot_api, handler_errors,
                                                         feed_server, index_dir):
    feed_server.route("/rss", rss([ITEM_A, ITEM_B]))
    feed_server.route("/500", "oops", status=500, content_type="text/plain")
    p = poller([feed_server.url("/rss"), feed_server.url("/500")], index_dir)
    application = make_reliable_bot(Retriever.load(index_dir), admins=frozenset({ADMIN["id"]}))
    # What build_application(feeds_poller=…, reload_index=…) puts there.
    application.bot_data["feeds"] = p
    application.bot_data["reload_index"] = lambda: Retriever.load(index_dir)
    async with application:
        old = application.bot_data["retriever"]
        await bot_feeds.poll_job(CallbackContext(application))
        new = application.bot_data["retriever"]
        assert new is not old and [j.name for j in application.job_queue.jobs()] == ["retire-index"]
        await feed_update(application, fake_bot_api.message_update("/latest"))
        await feed_update(application, fake_bot_api.message_update("/feeds", user=ADMIN, chat=ADMIN_CHAT))
        await feed_update(application, fake_bot_api.message_update("/feeds", user=ALICE))
    latest, status, refused = fake_bot_api.texts()
    assert "长江流域迎来新一轮强降雨" in latest and "新能源汽车出口继续增长" in latest
    assert latest.index("长江流域") < latest.index("种子新闻标题")  # newest first
    assert "ok: 2 items, 2 new" in status and "HTTP 500" in status and "连续失败 1 次" in status
    assert refused == admin.REFUSED
    assert application.bot_data["usage"]["feed_articles"] == 2 and handler_errors == []
    old.close()
    new.close()
