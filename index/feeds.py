"""Feeds and article pages: fetch them (conditionally), parse them into articles, poll them.

Fetched articles are written as JSONL files under ``<index dir>/feeds/`` (one article per line,
ids stable across polls: from the entry's guid or link, or the page's URL) and added with
``build_index(add=True)``, so dedupe, the embedding cache and the atomic publish all apply.
A feed poll writes only articles the index does not already hold (same id and content, or the
same content under another id); an unchanged feed writes nothing and publishes no version.
"""

from __future__ import annotations

import concurrent.futures
import email.utils
import hashlib
import json
import logging
import re
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from . import store
from .clean import clean_text
from .config import IndexConfig
from .errors import NewsIndexError
from .models import Article
from .seeds import CHINA_TZ, content_hash

logger = logging.getLogger(__name__)

FEEDS_DIR = "feeds"  # under the index folder
MAX_BYTES = 10 << 20  # a feed or page larger than this is refused
MAX_BACKOFF = 24 * 3600.0  # seconds: a failing feed is still tried at least daily
FEED_SUFFIXES = {".xml", ".rss", ".atom"}
PAGE_SUFFIXES = {".html", ".htm"}
USER_AGENT = "newsbot-feeds/0.1 (+https://github.com/)"


class FeedError(NewsIndexError):
    """A feed or page could not be fetched or parsed."""


@dataclass(frozen=True)
class FetchResult:
    """One HTTP fetch: 200 with content, or 304 (not modified) without."""

    url: str
    status: int
    content: bytes | None
    etag: str | None
    modified: str | None
    content_type: str = ""

    @property
    def not_modified(self) -> bool:
        return self.status == 304


def fetch(url: str, etag: str | None = None, modified: str | None = None, timeout: float = 10.0,
          client: httpx.Client | None = None) -> FetchResult:
    """GET a URL with If-None-Match / If-Modified-Since; the whole transfer must end within timeout.

    Raises FeedError on a network error, a timeout, an HTTP error status or an oversized body.
    """
    headers = {"User-Agent": USER_AGENT}
    if etag:
        headers["If-None-Match"] = etag
    if modified:
        headers["If-Modified-Since"] = modified
    own = client is None
    client = client or httpx.Client(follow_redirects=True)
    deadline = time.monotonic() + timeout
    try:
        with client.stream("GET", url, headers=headers, timeout=timeout) as r:
            if r.status_code == 304:
                return FetchResult(url, 304, None, r.headers.get("etag") or etag,
                                   r.headers.get("last-modified") or modified)
            if r.status_code >= 400:
                raise FeedError(f"HTTP {r.status_code}")
            chunks, size = [], 0
            for chunk in r.iter_bytes():
                size += len(chunk)
                if size > MAX_BYTES:
                    raise FeedError(f"larger than {MAX_BYTES} bytes")
                if time.monotonic() > deadline:  # httpx's timeout is per read; this bounds the whole
                    raise FeedError(f"timed out after {timeout:g} s")
                chunks.append(chunk)
            return FetchResult(url, r.status_code, b"".join(chunks), r.headers.get("etag"),
                               r.headers.get("last-modified"), r.headers.get("content-type", ""))
    except httpx.TimeoutException:
        raise FeedError(f"timed out after {timeout:g} s") from None
    except httpx.HTTPError as e:
        raise FeedError(f"{type(e).__name__}: {e}") from None
    finally:
        if own:
            client.close()


# --- parsing ---------------------------------------------------------------------------------

_BLOCKS = {"p", "div", "br", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote",
           "tr", "table", "section", "article", "pre", "hr", "figure", "figcaption", "dd", "dt"}
_SKIP = {"script", "style", "noscript", "iframe", "svg", "head"}


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in _SKIP:
            self.skip += 1
        elif tag in _BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag):
        if tag in _SKIP:
            self.skip = max(0, self.skip - 1)
        elif tag in _BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data):
        if not self.skip:
            self.parts.append(data)


def html_paragraphs(html: str) -> list[str]:
    """Strip HTML (or plain text) to cleaned, non-empty paragraphs, one per block element or line."""
    if "<" not in html:
        lines = html.splitlines()
    else:
        parser = _Text()
        parser.feed(html)
        parser.close()
        lines = "".join(parser.parts).splitlines()
    return [p for p in (clean_text(line) for line in lines) if p]


def feed_time(raw: str | None) -> str | None:
    """An RFC 822 or ISO 8601 time as ISO 8601 in China time; a time without a zone is China time."""
    if not raw:
        return None
    raw = raw.strip()
    dt = None
    try:
        dt = email.utils.parsedate_to_datetime(raw)  # naive when the time has no zone
    except (TypeError, ValueError, IndexError):
        try:
            dt = datetime.fromisoformat(raw.replace("Z", "+00:00").replace("/", "-"))
        except ValueError:
            return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=CHINA_TZ)
    return dt.astimezone(CHINA_TZ).isoformat()


def stable_id(key: str) -> str:
    """An article id from a guid, link or URL: the same item gets the same id on every poll."""
    return "web-" + hashlib.sha256(key.strip().encode()).hexdigest()[:16]


def looks_like_feed(content: bytes, content_type: str = "") -> bool:
    """Whether fetched bytes are an RSS/Atom/RDF feed rather than an HTML page."""
    if any(t in content_type for t in ("rss", "atom", "xml")) and "html" not in content_type:
        return True
    head = content[:2000].lstrip().lower()
    return head.startswith(b"<?xml") or any(t in head for t in (b"<rss", b"<feed", b"<rdf:rdf"))


def parse_feed(content: bytes, url: str) -> list[Article]:
    """Parse RSS or Atom into articles (HTML bodies stripped to paragraphs); FeedError if not a feed."""
    import feedparser

    parsed = feedparser.parse(content)
    if parsed.bozo and not parsed.entries:
        raise FeedError(f"malformed feed: {parsed.get('bozo_exception')}")
    if not parsed.entries and not parsed.get("version"):
        raise FeedError("not an RSS or Atom feed")
    source = clean_text(parsed.feed.get("title") or "") or urlsplit(url).hostname
    articles = []
    for n, e in enumerate(parsed.entries, 1):
        title = clean_text(e.get("title") or "")
        bodies = [c.get("value", "") for c in e.get("content", [])] + [e.get("summary") or ""]
        paragraphs = max((html_paragraphs(b) for b in bodies), key=lambda ps: sum(map(len, ps)), default=[])
        if paragraphs and paragraphs[0] == title:
            paragraphs = paragraphs[1:]
        key = e.get("id") or e.get("link") or (title and f"{url}#{title}")
        if not title or not paragraphs or not key:
            logger.debug("%s: entry %d skipped (no title, body or id)", url, n)
            continue
        articles.append(Article(
            id=stable_id(key), title=title, paragraphs=paragraphs,
            published_at=feed_time(e.get("published") or e.get("updated") or e.get("created")),
            source=source, url=e.get("link") or None, origin=f"{url}#{n}",
        ))
    return articles


_META_TIME = re.compile(
    r"<meta\s[^>]*(?:property|name|itemprop)\s*=\s*[\"'](?:article:published_time|og:release_date|pubdate|"
    r"publishdate|datePublished|date)[\"'][^>]*>", re.IGNORECASE)
_CONTENT = re.compile(r"content\s*=\s*[\"']([^\"']+)[\"']", re.IGNORECASE)
_TIME_TAG = re.compile(r"<time\s[^>]*datetime\s*=\s*[\"']([^\"']+)[\"']", re.IGNORECASE)


def _page_time(html: str, fallback: str | None) -> str | None:
    for m in _META_TIME.finditer(html):
        c = _CONTENT.search(m.group(0))
        if c and (t := feed_time(c.group(1))):
            return t
    m = _TIME_TAG.search(html)
    if m and (t := feed_time(m.group(1))):
        return t
    return feed_time(fallback)


def parse_page(content: bytes, url: str) -> Article | None:
    """Extract an article page's main text, title and publication time (trafilatura); None if no text."""
    import trafilatura

    # Precision over recall: a menu or footer line quoted as news is worse than a lost paragraph.
    doc = trafilatura.bare_extraction(content, url=url, with_metadata=True, include_comments=False,
                                      include_tables=False, favor_precision=True)
    if doc is None:
        return None
    meta = doc.as_dict() if hasattr(doc, "as_dict") else dict(doc)
    title = clean_text(meta.get("title") or "")
    paragraphs = [p for p in (clean_text(line) for line in (meta.get("text") or "").splitlines()) if p]
    if paragraphs and paragraphs[0] == title:
        paragraphs = paragraphs[1:]
    if not title or not paragraphs:
        return None
    html = content.decode("utf-8", errors="replace")
    return Article(
        id=stable_id(url), title=title, paragraphs=paragraphs, published_at=_page_time(html, meta.get("date")),
        source=clean_text(meta.get("sitename") or "") or urlsplit(url).hostname, url=url, origin=url,
    )


def parse(content: bytes, url: str, content_type: str = "") -> list[Article]:
    """Parse a feed or an article page, telling them apart by content."""
    if looks_like_feed(content, content_type):
        return parse_feed(content, url)
    page = parse_page(content, url)
    return [page] if page else []


# --- writing into the index ------------------------------------------------------------------

def feeds_dir(index_dir: Path) -> Path:
    """Where fetched articles are kept as JSONL (part of the index's sources from then on)."""
    return Path(index_dir) / FEEDS_DIR


def with_feed_files(sources: list[Path], index_dir: Path) -> list[Path]:
    """The seed sources plus the fetched-articles folder when there is one (so rebuilds keep them)."""
    folder = feeds_dir(index_dir)
    return [*sources, folder] if folder.is_dir() else list(sources)


def slug(url: str) -> str:
    """A short file-name-safe name for a URL."""
    parts = urlsplit(url)
    name = re.sub(r"[^A-Za-z0-9]+", "-", f"{parts.hostname or ''}{parts.path}").strip("-")[:40] or "feed"
    return f"{name}-{hashlib.sha256(url.encode()).hexdigest()[:6]}"


def known_articles(index_dir: Path) -> tuple[dict[str, str], set[str]]:
    """The current index's article ids with their content hashes, and the set of those hashes."""
    version = store.current_version(index_dir)
    if version is None:
        return {}, set()
    db = sqlite3.connect(f"file:{version / store.DB}?mode=ro", uri=True)
    try:
        ids = dict(db.execute("SELECT id, content_hash FROM articles"))
    finally:
        db.close()
    return ids, set(ids.values())


def new_articles(articles: list[Article], known: tuple[dict[str, str], set[str]]) -> list[Article]:
    """Those articles the index lacks: new ids, or known ids whose content changed; each content once."""
    ids, hashes = known
    out, seen, seen_ids = [], set(), set()
    for a in articles:
        h = content_hash(a.title, a.paragraphs)
        if ids.get(a.id) == h or (a.id not in ids and h in hashes) or h in seen or a.id in seen_ids:
            continue
        seen.add(h)
        seen_ids.add(a.id)
        out.append(a)
    return out


def write_jsonl(index_dir: Path, name: str, articles: list[Article]) -> Path:
    """Write articles to a new ``<index>/feeds/<UTC time>-<name>.jsonl`` (written whole, then renamed)."""
    folder = feeds_dir(index_dir)
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%f")
    path = folder / f"{stamp}-{name}.jsonl"
    tmp = folder / f".{path.name}.tmp"
    with tmp.open("w", encoding="utf-8") as f:
        for a in articles:
            f.write(json.dumps({"id": a.id, "title": a.title, "body": "\n".join(a.paragraphs),
                                "published_at": a.published_at, "source": a.source, "url": a.url},
                               ensure_ascii=False) + "\n")
    tmp.replace(path)
    return path


# --- polling ---------------------------------------------------------------------------------

@dataclass
class FeedState:
    """One feed's conditional-request validators, failures and last outcome."""

    url: str
    etag: str | None = None
    modified: str | None = None
    content_sha: str | None = None
    failures: int = 0
    next_attempt: float = 0.0  # time.time() from which the next fetch is due
    last_checked: float | None = None
    last_status: str = "not fetched yet"
    added: int = 0  # articles this feed has added since start-up


@dataclass
class PollReport:
    """What one poll did."""

    fetched: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    added: int = 0
    files: list[Path] = field(default_factory=list)
    version: str | None = None  # the published version, None when nothing was added


class FeedPoller:
    """Poll feeds and add what is new to the index; thread-safe, one poll at a time.

    A feed that fails (timeout, HTTP error, malformed XML) is retried after interval × 2^failures
    (at most MAX_BACKOFF); the others are polled as usual.
    """

    def __init__(self, urls: list[str], index_dir: Path, *, encoder=None, config: IndexConfig | None = None,
                 interval: float = 1800.0, timeout: float = 10.0, embed: bool | None = None,
                 max_workers: int = 8):
        self.index_dir = Path(index_dir)
        self.encoder, self.config, self.embed = encoder, config or IndexConfig(), embed
        self.interval, self.timeout, self.max_workers = float(interval), float(timeout), max_workers
        self.feeds = {u: FeedState(u) for u in dict.fromkeys(urls)}
        self._lock = threading.Lock()

    def status(self) -> list[FeedState]:
        """Each feed's state (copies), in configuration order."""
        return [FeedState(**vars(s)) for s in self.feeds.values()]

    def poll(self, now: float | None = None) -> PollReport:
        """Fetch the feeds that are due, write their new articles, add them to the index (blocking)."""
        with self._lock:
            now = time.time() if now is None else now
            # A tenth of an interval of slack: a job running every interval finds its feeds due.
            due = [s for s in self.feeds.values() if s.next_attempt <= now + self.interval / 10]
            report = PollReport()
            if not due:
                return report
            with concurrent.futures.ThreadPoolExecutor(min(self.max_workers, len(due))) as pool:
                results = list(pool.map(self._fetch_one, due))
            known = known_articles(self.index_dir)
            for state, result in zip(due, results):
                state.last_checked = now
                if isinstance(result, Exception):
                    state.failures += 1
                    delay = min(self.interval * 2 ** state.failures, max(MAX_BACKOFF, self.interval))
                    state.next_attempt = now + delay
                    state.last_status = f"error: {result}"
                    report.failed.append(state.url)
                    logger.warning("feed %s failed (%d in a row, next try in %.0f s): %s",
                                   state.url, state.failures, delay, result)
                    continue
                state.failures = 0
                state.next_attempt = now + self.interval
                report.fetched.append(state.url)
                fetched, articles = result
                if fetched.not_modified or articles is None:
                    state.last_status = "not modified"
                    continue
                fresh = new_articles(articles, known)
                # The next feed must not write these again (the same story in two feeds).
                known[0].update({a.id: content_hash(a.title, a.paragraphs) for a in fresh})
                known[1].update(known[0][a.id] for a in fresh)
                state.last_status = f"ok: {len(articles)} items, {len(fresh)} new"
                if fresh:
                    report.files.append(write_jsonl(self.index_dir, slug(state.url), fresh))
                    state.added += len(fresh)
                    report.added += len(fresh)
            if report.files:
                from .build import build_index

                try:
                    built = build_index(report.files, self.index_dir, self.encoder, self.config, add=True,
                                        embed=self.embed, progress=False)
                except Exception:
                    # Forget the files and validators, so the next poll fetches and adds them again.
                    for path in report.files:
                        path.unlink(missing_ok=True)
                    for state in due:
                        state.etag = state.modified = state.content_sha = None
                    raise
                report.version = built.version
                logger.info("feeds: %d new articles, index version %s", report.added, built.version)
            return report

    def _fetch_one(self, state: FeedState) -> tuple[FetchResult, list[Article] | None] | Exception:
        """Fetch and parse one feed; an error is returned, not raised, so the others go on."""
        try:
            r = fetch(state.url, state.etag, state.modified, self.timeout)
            if r.not_modified:
                return r, None
            sha = hashlib.sha256(r.content).hexdigest()
            articles = None if sha == state.content_sha else parse(r.content, state.url, r.content_type)
            # Validators are kept only once the content parsed: a broken feed is fetched whole again.
            state.etag, state.modified, state.content_sha = r.etag, r.modified, sha
            return r, articles
        except Exception as e:  # noqa: BLE001 — any failure of one feed is logged, never raised
            if not isinstance(e, FeedError):
                logger.debug("feed %s", state.url, exc_info=True)
            return e
