"""Feeds and article pages: real RSS/Atom/HTML served over loopback HTTP, polled into the index."""

from __future__ import annotations

import asyncio
import errno
import gzip
import os
import socket
import subprocess
import sys
import threading
import time
import tracemalloc
import zlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from telegram.ext import CallbackContext

from bot import admin
from bot import feeds as bot_feeds
from bot.newsindex import RETIRE_JOB, NewsIndex
from index import IndexConfig, Retriever, store
from index.writer import articles as build_mod
from index.writer import add_articles
from index.errors import FeedError
from index.ingest import fetch as fetch_mod
from index.ingest import pages as pages_mod
from index.__main__ import main as index_main
from index.ingest.pages import parse_feed
from index.ingest.poll import FeedPoller
from tests.fakebotapi import ALICE
from tests.helpers import feed, one_article_index, started

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
def index_dir(tmp_path):
    """A tiny lexical-only index of one seed article."""
    return one_article_index(tmp_path, SEED)


def poller(urls, **kw) -> FeedPoller:
    return FeedPoller(urls, interval=INTERVAL, timeout=kw.pop("timeout", 2.0), **kw)


def adder(index_dir: Path):
    """What `python -m bot` gives the poller: index.writer.add_articles bound to the index folder (lexical only here)."""
    return lambda batches: add_articles(batches, index_dir, None, IndexConfig(), embed=False)


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
    p = poller([feed_server.url("/rss"), feed_server.url("/atom")])
    before = version(index_dir)
    report = p.poll(adder(index_dir), now=1000.0)
    assert report.added == 2 and report.version and report.version != before
    assert {"长江流域迎来新一轮强降雨", "城市更新项目集中开工", "种子新闻标题"} <= set(titles(index_dir))
    assert len(list((index_dir / "added").glob("*.jsonl"))) == 2

    # 304 for the RSS feed, the same bytes for the Atom feed: no new version.
    v1 = version(index_dir)
    report = p.poll(adder(index_dir), now=1000.0 + INTERVAL)
    assert route.conditional == 1 and atom.requests == 2
    assert report.added == 0 and report.version is None and version(index_dir) == v1
    assert [s.last_status for s in p.status()] == ["not modified", "not modified"]

    # A fresh poller (a restart) gets the same content again: the index already holds it.
    again = poller([feed_server.url("/atom")]).poll(adder(index_dir), now=5000.0)
    assert again.added == 0 and again.version is None and version(index_dir) == v1

    # A new item and a changed one: only those two are written.
    changed = (ITEM_A[0], ITEM_A[1], "<p>气象台升级暴雨预警为橙色。</p>", ITEM_A[3])
    feed_server.route("/rss", rss([changed, ITEM_B]), etag='"v2"')
    report = p.poll(adder(index_dir), now=1000.0 + 2 * INTERVAL)
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
    slow = feed_server.route("/slow", rss([ITEM_B]), delay=6.0)
    broken = feed_server.route("/500", "oops", status=500, content_type="text/plain")
    bad = feed_server.route("/bad", '<?xml version="1.0"?><rss version="2.0"><channel><title>坏')
    urls = [feed_server.url(p) for p in ("/slow", "/500", "/bad", "/good")]
    p = poller(urls, timeout=2.0)
    report = p.poll(adder(index_dir), now=1000.0)
    assert report.fetched == [feed_server.url("/good")] and len(report.failed) == 3
    assert report.added == 1 and "长江流域迎来新一轮强降雨" in titles(index_dir)
    state = {s.url: s for s in p.status()}
    for path in ("/slow", "/500", "/bad"):
        s = state[feed_server.url(path)]
        assert s.failures == 1 and s.next_attempt == 1000.0 + 2 * INTERVAL and s.last_status.startswith("error")
    assert "timed out" in state[feed_server.url("/slow")].last_status
    assert "HTTP 500" in state[feed_server.url("/500")].last_status

    # One interval later only the good feed is due.
    p.poll(adder(index_dir), now=1000.0 + INTERVAL)
    assert good.requests == 2 and broken.requests == bad.requests == slow.requests == 1
    # When they are due and fail again, the wait doubles; a recovered feed is back to the interval.
    feed_server.route("/500", rss([ITEM_B]))
    p.poll(adder(index_dir), now=1000.0 + 2 * INTERVAL)
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
    p = poller([feed_server.url(x) for x in ("/one", "/two", "/three")])
    report = p.poll(adder(index_dir), now=1000.0)
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


async def test_the_bot_polls_feeds_and_latest_shows_them(make_bot, fake_bot_api, handler_errors,
                                                         feed_server, index_dir):
    feed_server.route("/rss", rss([ITEM_A, ITEM_B]))
    feed_server.route("/500", "oops", status=500, content_type="text/plain")
    p = poller([feed_server.url("/rss"), feed_server.url("/500")])
    # What `python -m bot` wires: the poller, and reload loading the new version.
    news = NewsIndex(Retriever.load(index_dir), reload=lambda: Retriever.load(index_dir),
                     add=adder(index_dir), poller=p)
    application = make_bot(news, admins=frozenset({ADMIN["id"]}))
    async with started(application):  # post_init starts the index service with the job queue
        old = news.retriever
        await bot_feeds.poll_job(CallbackContext(application))
        new = news.retriever
        retiring = [j.name for j in application.job_queue.jobs() if j.name == RETIRE_JOB]
        assert new is not old and retiring == [RETIRE_JOB]
        await feed(application, fake_bot_api.message_update("/latest"))
        await feed(application, fake_bot_api.message_update("/feeds", user=ADMIN, chat=ADMIN_CHAT))
        await feed(application, fake_bot_api.message_update("/feeds", user=ALICE))
    latest, status, refused = fake_bot_api.texts()
    assert "长江流域迎来新一轮强降雨" in latest and "新能源汽车出口继续增长" in latest
    assert latest.index("长江流域") < latest.index("种子新闻标题")  # newest first
    assert "ok: 2 items, 2 new" in status and "HTTP 500" in status and "连续失败 1 次" in status
    assert refused == admin.REFUSED
    assert application.bot_data["services"].usage["feed_articles"] == 2 and handler_errors == []
    news.close()  # the new retriever and the retired old one



# --- hostile input to `python -m index add` ------------------------------------------------------

def _config(tmp_path) -> str:
    (tmp_path / "config.toml").write_text('[index]\nseeds = []\ndir = "idx"\nembed_on_build = false\n')
    return str(tmp_path / "config.toml")


def test_add_of_a_good_and_a_bad_file_leaves_nothing_behind(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(fetch_mod, "MAX_BYTES", 4000)
    (tmp_path / "ok.xml").write_text(rss([ITEM_A]), encoding="utf-8")
    (tmp_path / "huge.xml").write_text(rss([ITEM_B]) + " " * 5000, encoding="utf-8")
    cfg = _config(tmp_path)
    assert index_main(["--config", cfg, "add", str(tmp_path / "ok.xml"), str(tmp_path / "huge.xml")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "huge.xml" in err and "larger than 4000 bytes" in err
    assert not list((tmp_path / "idx").rglob("*.jsonl")) and store.current_version(tmp_path / "idx") is None


def test_an_oversized_url_is_named_in_the_error(tmp_path, capsys, monkeypatch, feed_server):
    monkeypatch.setattr(fetch_mod, "MAX_BYTES", 4000)
    feed_server.route("/big", rss([ITEM_A]) + " " * 5000)
    assert index_main(["--config", _config(tmp_path), "add", feed_server.url("/big")]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: {feed_server.url('/big')}: ") and "larger than 4000 bytes" in err


@pytest.mark.parametrize("errno_", [errno.ENOSPC, errno.EACCES])
def test_a_full_disk_ends_add_with_an_error_line_and_no_feed_files(tmp_path, capsys, monkeypatch, errno_):
    (tmp_path / "ok.xml").write_text(rss([ITEM_A]), encoding="utf-8")

    def full_disk(*args, **kwargs):
        raise OSError(errno_, os.strerror(errno_), str(tmp_path / "idx" / "x"))

    monkeypatch.setattr("index.writer.add_to_index", full_disk)  # what the CLI calls
    assert index_main(["--config", _config(tmp_path), "add", str(tmp_path / "ok.xml")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and os.strerror(errno_) in err and "Traceback" not in err
    assert not list((tmp_path / "idx").rglob("*.jsonl"))


# --- hostile servers -------------------------------------------------------------------------------

class Hostile:
    """A loopback server whose answers are raw bytes, sent at once or a few bytes at a time."""

    def __init__(self):
        self.answers: dict[str, tuple[bytes, float]] = {}
        self.requests: dict[str, int] = {}
        self.sent: dict[str, int] = {}  # bytes sent before the client hung up (or all)
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def answer(self, path: str, status: str = "200 OK", headers: dict | None = None, body: bytes = b"",
               trickle: float = 0.0) -> None:
        head = f"HTTP/1.1 {status}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        head += f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        self.answers[path] = (head.encode() + body, trickle)

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn):
        with conn:
            request = b""
            while b"\r\n\r\n" not in request:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                request += chunk
            path = request.split(b" ")[1].decode()
            self.requests[path] = self.requests.get(path, 0) + 1
            data, trickle = self.answers.get(path, (b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", 0.0))
            step = 1 if trickle else len(data)
            try:
                for i in range(0, len(data), step):
                    conn.sendall(data[i : i + step])
                    self.sent[path] = i + step
                    if trickle:
                        time.sleep(trickle)
            except OSError:
                pass

    def close(self):
        self.sock.close()


@pytest.fixture
def hostile():
    server = Hostile()
    yield server
    server.close()


def test_a_server_trickling_its_headers_is_cut_off_at_the_total_timeout(hostile):
    hostile.answer("/slow", headers={"X-Padding": "p" * 150}, body=rss([ITEM_A]).encode(), trickle=0.02)
    with pytest.raises(FeedError, match="timed out"):
        fetch_mod.fetch(hostile.url("/slow"), timeout=0.5)
    time.sleep(0.1)
    # A timeout per read would have waited for every byte (each came within 0.02 s).
    assert hostile.sent["/slow"] < 150


def _gzip_layers(data: bytes, layers: int) -> bytes:
    for _ in range(layers):
        data = gzip.compress(data, 9)
    return data


@pytest.mark.parametrize("encoding,layers", [("gzip", 1), ("gzip, gzip", 2), ("gzip", 2), ("deflate, gzip", 2)])
def test_compression_bombs_are_refused_at_every_layer_with_bounded_memory(hostile, monkeypatch, encoding, layers):
    monkeypatch.setattr(fetch_mod, "MAX_BYTES", 1 << 20)
    bomb = b"<rss>" + b"\0" * (40 << 20)
    body = _gzip_layers(bomb, layers) if "deflate" not in encoding else gzip.compress(zlib.compress(bomb, 9), 9)
    hostile.answer("/bomb", headers={"Content-Encoding": encoding}, body=body)
    tracemalloc.start()
    try:
        with pytest.raises(FeedError, match="larger than"):
            fetch_mod.fetch(hostile.url("/bomb"), timeout=5)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20  # the bomb decompresses to 40 MB; no layer may hold more than the cap


def test_a_gzipped_page_file_is_bounded_like_a_download(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(fetch_mod, "MAX_BYTES", 1 << 20)
    (tmp_path / "bomb.html").write_bytes(_gzip_layers(b"<html>" + b"\0" * (40 << 20), 2))
    assert index_main(["--config", _config(tmp_path), "add", str(tmp_path / "bomb.html")]) == 1
    assert "bomb.html" in capsys.readouterr().err


@pytest.mark.parametrize("target,message", [("ftp://127.0.0.1/x", "http"), ("file:///etc/passwd", "http"),
                                            ("javascript:alert(1)", "http"), ("/loop", "redirects")])
def test_redirects_follow_the_policy(hostile, target, message):
    hostile.answer("/loop", "302 Found", {"Location": target if target != "/loop" else hostile.url("/loop")})
    hostile.answer("/start", "301 Moved Permanently", {"Location": target if target != "/loop" else "/loop"})
    with pytest.raises(FeedError, match=message):
        fetch_mod.fetch(hostile.url("/start"), timeout=5)
    assert hostile.requests.get("/loop", 0) <= fetch_mod.MAX_REDIRECTS


def test_a_redirect_to_another_path_is_followed(hostile):
    hostile.answer("/old", "302 Found", {"Location": "/new"})
    hostile.answer("/new", headers={"Content-Type": "application/rss+xml"}, body=rss([ITEM_A]).encode())
    r = fetch_mod.fetch(hostile.url("/old"), timeout=5)
    assert r.url == hostile.url("/new") and b"<rss" in r.content


@pytest.mark.parametrize("start,target,allowed", [
    ("http://93.184.216.34/feed", "https://151.101.1.69/feed", True),  # public to public: allowed
    ("http://93.184.216.34/feed", "http://127.0.0.1:8080/admin", False),  # public to loopback
    ("http://93.184.216.34/feed", "http://10.0.0.5/", False),  # public to private
    ("http://93.184.216.34/feed", "http://169.254.169.254/latest/meta-data", False),  # cloud metadata
    ("http://93.184.216.34/feed", "http://[::1]/", False),
    ("http://127.0.0.1:8000/feed", "http://127.0.0.1:8001/feed", True),  # a local feed the admin chose
])
def test_the_redirect_address_policy(start, target, allowed):
    assert fetch_mod.address_allowed(target, private_ok=fetch_mod.is_private_url(start)) is allowed


def _ran_within_cpu_seconds(code: str, seconds: int) -> bool:
    """Whether python code finishes within a CPU-time limit (not wall time: a busy machine does not matter)."""
    limit = f"import resource; resource.setrlimit(resource.RLIMIT_CPU, ({seconds}, {seconds}))\n"
    done = subprocess.run([sys.executable, "-c", limit + code], cwd=Path(__file__).parent.parent, timeout=600)
    return done.returncode == 0


def test_the_page_time_scan_is_linear_in_hostile_markup():
    code = ("from index.ingest.pages import page_time\n"
            "for junk in ('<meta ' * 16000, '<time ' * 16000, '<meta name=\"date\" content=\"' * 4000):\n"
            "    assert page_time(junk, None) is None\n"
            "assert page_time('<meta name=\"pubdate\" content=\"2026-03-01 07:45\">', None).startswith('2026-03-01T07:45')\n")
    assert _ran_within_cpu_seconds(code, 20)  # ~100 KB each: the quadratic regex took ~60 s


def test_a_feed_declared_utf8_in_gbk_bytes_is_read_as_gbk():
    xml = rss([("g1", "国务院常务会议部署稳就业", "<p>会议指出，要加大援企稳岗力度。</p>", "Mon, 02 Mar 2026 09:30:00 +0000")])
    (article,) = parse_feed(xml.encode("gbk"), "http://x/gbk")
    assert article.title == "国务院常务会议部署稳就业" and article.paragraphs == ["会议指出，要加大援企稳岗力度。"]
    # A feed that says GBK and is GBK, and one in UTF-8, are read as they say.
    (same,) = parse_feed(xml.replace("utf-8", "gbk").encode("gbk"), "http://x/gbk")
    assert same.title == article.title
    assert parse_feed(xml.encode(), "http://x/utf8")[0].title == article.title


async def test_feeds_are_fetched_outside_the_reindex_lock(make_bot, index_dir, feed_server):
    route = feed_server.route("/rss", rss([ITEM_A]))
    p = poller([feed_server.url("/rss")])
    building, finish = threading.Event(), threading.Event()

    def rebuild():  # a /reindex that holds the index lock until the test lets it finish
        building.set()
        assert finish.wait(30), "the rebuild was never let finish"
        return Retriever.load(index_dir)

    news = NewsIndex(Retriever.load(index_dir), rebuild=rebuild, reload=lambda: Retriever.load(index_dir),
                     add=adder(index_dir), poller=p)
    application = make_bot(news)
    async with started(application):
        reindexing = asyncio.create_task(news.rebuild())
        assert await asyncio.to_thread(building.wait, 10)
        polled = asyncio.create_task(news.poll_feeds())
        fetching = asyncio.create_task(asyncio.to_thread(route.requested.wait, 10))
        done, _ = await asyncio.wait({polled, fetching}, return_when=asyncio.FIRST_COMPLETED)
        assert done == {fetching} and fetching.result()  # fetched while the rebuild holds the lock
        assert news.busy and not polled.done()  # adding to the index waits for the lock
        finish.set()
        await reindexing
        assert await polled == 1
    assert route.requests == 1
    assert "长江流域迎来新一轮强降雨" in [h.title for h in news.retriever.latest(5)]
    news.close()



def test_a_feed_of_thousands_of_items_is_read_up_to_the_cap(monkeypatch):
    monkeypatch.setattr(pages_mod, "MAX_ITEMS", 3)
    items = [(f"g{i}", f"第{i}号新闻标题", f"<p>第{i}条新闻的正文。</p>", "Mon, 02 Mar 2026 09:30:00 +0000") for i in range(5)]
    assert [a.title for a in parse_feed(rss(items).encode(), "http://x/many")] == ["第0号新闻标题", "第1号新闻标题", "第2号新闻标题"]


def test_item_links_that_are_not_plain_web_links_are_not_stored():
    links = ["javascript:alert(1)", "data:text/html,x", "http://x.example/" + "a" * 5000, "https://ok.example/1"]
    items = "".join(f"<item><guid>l{i}</guid><title>第{i}号新闻标题</title><link>{link}</link>"
                    f"<description>第{i}条新闻的正文。</description></item>" for i, link in enumerate(links))
    xml = f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>链接</title>{items}</channel></rss>'
    assert [a.url for a in parse_feed(xml.encode(), "http://x/links")] == [None, None, None, "https://ok.example/1"]


def test_a_hanging_name_lookup_counts_against_the_timeout(monkeypatch):
    release = threading.Event()

    def hanging_lookup(*args, **kwargs):
        release.wait(30)
        raise OSError("no answer")

    monkeypatch.setattr(socket, "getaddrinfo", hanging_lookup)
    try:
        with pytest.raises(FeedError, match="timed out"):
            fetch_mod.fetch("http://feeds.example/rss", timeout=0.3)
    finally:
        release.set()


@pytest.mark.parametrize("when", ["9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+14:00",
                                  "1 Jan 10000000000000000000 00:00 GMT", "Mon, 02 Mar 99999 09:30:00 +0000"])
def test_an_impossible_item_time_leaves_the_item_undated(when):
    xml = rss([ITEM_A, ("t1", "时间错乱的新闻标题", "<p>正文一段。</p>", when)])
    a, odd = parse_feed(xml.encode(), "http://x/times")
    assert a.published_at and odd.title == "时间错乱的新闻标题" and odd.published_at is None


_xml_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=60).map(
    lambda t: t.replace("&", "&amp;").replace("<", "&lt;").replace("]]>", "]] >"))


@settings(max_examples=150, deadline=None)
@given(fields=st.lists(st.tuples(_xml_text, _xml_text, _xml_text, _xml_text), min_size=1, max_size=4))
def test_any_item_fields_parse_or_raise_feed_error(fields):
    try:
        articles = parse_feed(rss(fields).encode("utf-8", "surrogatepass"), "http://x/any")
    except FeedError:
        return
    assert all(a.title and a.paragraphs for a in articles)


@settings(max_examples=150, deadline=None)
@given(content=st.binary(max_size=3000) | st.sampled_from([b"<rss", b"<?xml", b"<html><meta ", b"\x1f\x8b"]).flatmap(
    lambda head: st.binary(max_size=2000).map(lambda tail: head + tail)))
def test_any_bytes_parse_or_raise_feed_error(content):
    try:
        articles = pages_mod.parse(content, "http://x/bytes", "")
    except FeedError:
        return
    assert isinstance(articles, list)


def test_a_feed_whose_articles_break_the_build_does_not_hold_back_the_others(feed_server, index_dir, monkeypatch):
    feed_server.route("/good", rss([ITEM_A]))
    feed_server.route("/poison", rss([ITEM_B]))
    real = build_mod.add_to_index

    def build(sources, *args, **kwargs):
        if any("poison" in Path(s).name for s in sources):
            raise ValueError("a bug on this feed's articles")
        return real(sources, *args, **kwargs)

    monkeypatch.setattr(build_mod, "add_to_index", build)
    p = poller([feed_server.url("/good"), feed_server.url("/poison")])
    report = p.poll(adder(index_dir), now=1000.0)
    assert report.added == 1 and report.version and "长江流域迎来新一轮强降雨" in titles(index_dir)
    bad = {s.url: s for s in p.status()}[feed_server.url("/poison")]
    assert bad.failures == 1 and "could not add" in bad.last_status and bad.next_attempt == 1000.0 + 2 * INTERVAL
    assert report.failed == [feed_server.url("/poison")]
    assert not [f for f in (index_dir / "added").glob("*.jsonl") if "poison" in f.name]
    monkeypatch.setattr(build_mod, "add_to_index", real)  # fixed: the next poll adds it
    p.poll(adder(index_dir), now=1000.0 + 2 * INTERVAL)
    assert "新能源汽车出口继续增长" in titles(index_dir)


def test_an_unreachable_first_address_falls_back_to_the_next(hostile, monkeypatch):
    hostile.answer("/rss", headers={"Content-Type": "application/rss+xml"}, body=rss([ITEM_A]).encode())
    addresses = [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, 0)) for ip in ("127.0.0.2", "127.0.0.1")]
    real = socket.getaddrinfo
    # feeds.test has two addresses; 127.0.0.2 refuses (nothing listens there).
    monkeypatch.setattr(socket, "getaddrinfo", lambda host, *a, **kw: addresses if host == "feeds.test" else real(host, *a, **kw))
    r = fetch_mod.fetch(f"http://feeds.test:{hostile.port}/rss", timeout=5)
    assert b"<rss" in r.content
