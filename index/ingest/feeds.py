"""Feeds and article pages: fetch them (conditionally), parse them into articles, poll them.

Fetched articles are written as JSONL files under ``<index dir>/feeds/`` (one article per line,
ids stable across polls: from the entry's guid or link, or the page's URL) and added with
``build_index(add=True)``, so dedupe, the embedding cache and the atomic publish all apply.
A feed poll writes only articles the index does not already hold (same id and content, or the
same content under another id); an unchanged feed writes nothing and publishes no version.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import ipaddress
import json
import logging
import re
import socket
import sqlite3
import threading
import time
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import httpcore
import httpx

from index import store
from index.ingest.clean import clean_text
from index.config import IndexConfig
from index.errors import NewsIndexError
from index.schema import Article
from index.chinatime import parse_published
from index.ingest.seeds import content_hash

logger = logging.getLogger(__name__)

FEEDS_DIR = "feeds"  # under the index folder
# A feed or page larger than this is refused: as sent, and after each layer of decompression.
MAX_BYTES = 10 << 20
MAX_LAYERS = 3  # compression layers (Content-Encoding and gzip files inside) undone at most
MAX_REDIRECTS = 5
# Items read from one feed, first ones first (feeds list the newest first and hold 10–100): 10 MB
# of items would otherwise hold ~30,000 articles, and adding those takes a minute.
MAX_ITEMS = 1000
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


def fetch(url: str, etag: str | None = None, modified: str | None = None, timeout: float = 10.0) -> FetchResult:
    """GET a URL with If-None-Match / If-Modified-Since; the whole fetch, redirects included, ends within timeout.

    Policy: http and https only, at most MAX_REDIRECTS redirects, any host and port, but an address
    that is not public (loopback, private, link-local such as cloud metadata, reserved) only when
    the URL asked for is itself on one (a local feed the admin chose); checked on the address
    actually connected to. At most MAX_BYTES as sent and after each decompression.
    Raises FeedError on a network error, a timeout, an HTTP error status, a refused redirect or an oversized body.
    """
    headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "gzip, deflate"}
    if etag:
        headers["If-None-Match"] = etag
    if modified:
        headers["If-Modified-Since"] = modified
    _require_http(url)
    deadline = time.monotonic() + timeout
    try:
        backend = _DeadlineBackend(deadline, private_ok=is_private_url(url, timeout))
        with httpx.Client(transport=_Transport(backend), timeout=timeout) as client:
            for _ in range(MAX_REDIRECTS + 1):
                with client.stream("GET", url, headers=headers) as r:
                    if r.has_redirect_location:
                        url = _redirect_target(r, backend)
                        continue
                    return _result(url, r, etag, modified)
    except (httpx.TimeoutException, TimeoutError):
        raise FeedError(f"timed out after {timeout:g} s") from None
    except httpx.InvalidURL as e:  # httpx reads a redirect's Location before handing the response back
        raise FeedError(f"not a valid http(s) URL (or redirect): {e}") from None
    except httpx.HTTPError as e:
        raise FeedError(f"{type(e).__name__}: {e}") from None
    raise FeedError(f"more than {MAX_REDIRECTS} redirects")


def _require_http(url: str) -> None:
    if not re.match(r"https?://", url, re.IGNORECASE):
        raise FeedError(f"not an http(s) URL: {url[:100]}")


def _redirect_target(r: httpx.Response, backend: "_DeadlineBackend") -> str:
    """Where a redirect points, if the policy allows it (see fetch)."""
    location = r.headers["location"]
    try:
        target = str(r.url.join(location))
    except httpx.InvalidURL:
        raise FeedError(f"redirect to a URL that is not http(s): {location[:100]}") from None
    _require_http(target)
    if not address_allowed(target, backend.private_ok, backend.left(None, TimeoutError)):
        raise FeedError(f"redirect to a non-public address refused: {target[:100]}")
    return target


def _result(url: str, r: httpx.Response, etag: str | None, modified: str | None) -> FetchResult:
    """The response as a FetchResult: its raw bytes capped, then decompressed layer by layer within the cap."""
    if r.status_code == 304:
        return FetchResult(url, 304, None, r.headers.get("etag") or etag, r.headers.get("last-modified") or modified)
    if r.status_code >= 400:
        raise FeedError(f"HTTP {r.status_code}")
    if int(r.headers.get("content-length") or 0) > MAX_BYTES:
        raise FeedError(f"larger than {MAX_BYTES} bytes")
    chunks, size = [], 0
    for chunk in r.iter_raw():  # raw: httpx would inflate each chunk without a bound
        size += len(chunk)
        if size > MAX_BYTES:
            raise FeedError(f"larger than {MAX_BYTES} bytes")
        chunks.append(chunk)
    content = decompress(b"".join(chunks), r.headers.get("content-encoding", ""))
    return FetchResult(url, r.status_code, content, r.headers.get("etag"), r.headers.get("last-modified"),
                       r.headers.get("content-type", ""))


def decompress(data: bytes, encodings: str = "") -> bytes:
    """Undo Content-Encoding layers (gzip, deflate), then gzip files inside, each output capped at MAX_BYTES."""
    layers = [e for e in (e.strip().lower() for e in encodings.split(",")) if e and e != "identity"]
    if len(layers) > MAX_LAYERS:
        raise FeedError(f"more than {MAX_LAYERS} Content-Encoding layers")
    for encoding in reversed(layers):
        if encoding in ("gzip", "x-gzip"):
            data = _inflate(data, 16 + zlib.MAX_WBITS)
        elif encoding == "deflate":
            data = _inflate(data, zlib.MAX_WBITS) if data[:1] == b"\x78" else _inflate(data, -zlib.MAX_WBITS)
        else:
            raise FeedError(f"unsupported Content-Encoding {encoding[:30]!r}")
    for _ in range(MAX_LAYERS):
        if data[:2] != b"\x1f\x8b":  # not (or no longer) a gzip file
            return data
        data = _inflate(data, 16 + zlib.MAX_WBITS)
    raise FeedError(f"more than {MAX_LAYERS} layers of compression")


def _inflate(data: bytes, wbits: int) -> bytes:
    """One layer decompressed, refused as soon as it would pass MAX_BYTES."""
    inflater = zlib.decompressobj(wbits)
    try:
        out = inflater.decompress(data, MAX_BYTES + 1)
    except zlib.error as e:
        raise FeedError(f"bad compressed data: {e}") from None
    if len(out) > MAX_BYTES or inflater.unconsumed_tail:
        raise FeedError(f"larger than {MAX_BYTES} bytes once decompressed")
    return out


def read_file(path: Path) -> bytes:
    """A saved feed or page, bounded like a download (MAX_BYTES, then gzip layers inside)."""
    with Path(path).open("rb") as f:
        data = f.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise FeedError(f"larger than {MAX_BYTES} bytes")
    return decompress(data)


def _addresses(host: str, timeout: float | None = None) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """The addresses a host name (or literal) stands for; [] when it does not resolve.

    Raises TimeoutError when the lookup takes longer than timeout: the system resolver has no
    timeout of ours, so it runs in a daemon thread that is left behind if it hangs.
    """
    try:
        return [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        pass
    infos: list = []

    def lookup() -> None:
        try:
            infos.extend(socket.getaddrinfo(host, None, type=socket.SOCK_STREAM))
        except (OSError, UnicodeError):
            pass

    thread = threading.Thread(target=lookup, name=f"resolve {host[:50]}", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise TimeoutError(f"looking up {host[:50]} timed out")
    return [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]


def _public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    mapped = getattr(ip, "ipv4_mapped", None)
    return (mapped or ip).is_global


def is_private_url(url: str, timeout: float | None = None) -> bool:
    """Whether the URL's host is (or resolves to) a non-public address: loopback, private, link-local…"""
    host = urlsplit(url).hostname or ""
    return any(not _public(ip) for ip in _addresses(host, timeout))


def address_allowed(url: str, private_ok: bool, timeout: float | None = None) -> bool:
    """The redirect policy on addresses: public ones always, others only when private_ok."""
    host = urlsplit(url).hostname or ""
    addresses = _addresses(host, timeout)
    return bool(addresses) and (private_ok or all(_public(ip) for ip in addresses))


class _DeadlineBackend(httpcore.NetworkBackend):
    """httpcore's sockets with every wait cut to what is left of one deadline, and the address policy.

    httpx's timeouts are per operation: a server sending a byte a second would never trip them.
    """

    def __init__(self, deadline: float, private_ok: bool):
        self.deadline, self.private_ok = deadline, private_ok
        self._sync = httpcore.SyncBackend()

    def left(self, timeout: float | None, error: type[Exception]) -> float:
        """Seconds a socket operation may wait: its own timeout, at most what is left of the deadline."""
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise error("the whole fetch timed out")
        return left if timeout is None else min(timeout, left)

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        # Connect to an address checked here, not to the name: DNS cannot answer differently later.
        try:
            found = _addresses(host, self.left(timeout, httpcore.ConnectTimeout))
        except TimeoutError as e:
            raise httpcore.ConnectTimeout(str(e)) from None
        allowed = [ip for ip in found if self.private_ok or _public(ip)]
        if not allowed:
            raise httpcore.ConnectError(f"{host}: " + ("no public address (not fetched)" if found else "not found"))
        error = None
        for ip in allowed:  # the next address when one is unreachable (IPv6 first on an IPv4 network)
            try:
                stream = self._sync.connect_tcp(str(ip), port, self.left(timeout, httpcore.ConnectTimeout),
                                                local_address, socket_options)
                return _DeadlineStream(stream, self)
            except httpcore.ConnectError as e:
                error = e
        raise error

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class _DeadlineStream(httpcore.NetworkStream):
    """A stream whose reads and writes wait no longer than the backend's deadline allows."""

    def __init__(self, stream, backend: _DeadlineBackend):
        self.stream, self.backend = stream, backend

    def read(self, max_bytes, timeout=None):
        return self.stream.read(max_bytes, self.backend.left(timeout, httpcore.ReadTimeout))

    def write(self, buffer, timeout=None):
        self.stream.write(buffer, self.backend.left(timeout, httpcore.WriteTimeout))

    def close(self):
        self.stream.close()

    def start_tls(self, ssl_context, server_hostname=None, timeout=None):
        left = self.backend.left(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self.stream.start_tls(ssl_context, server_hostname, left), self.backend)

    def get_extra_info(self, info):
        return self.stream.get_extra_info(info)


class _Transport(httpx.HTTPTransport):
    """httpx's transport over a _DeadlineBackend (httpx has no public switch for the network backend)."""

    def __init__(self, backend: _DeadlineBackend):
        super().__init__()
        self._pool = httpcore.ConnectionPool(ssl_context=httpx.create_ssl_context(), network_backend=backend)


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


def stable_id(key: str) -> str:
    """An article id from a guid, link or URL: the same item gets the same id on every poll."""
    return "web-" + hashlib.sha256(key.strip().encode()).hexdigest()[:16]


MAX_LINK_CHARS = 2048


def web_link(link: str | None) -> str | None:
    """An item's link if it is a plain http(s) URL of sane length; None for javascript:, data:, 5,000 chars…"""
    link = (link or "").strip()
    ok = re.fullmatch(r"https?://[^\s\x00-\x1f\x7f]+", link, re.IGNORECASE) and len(link) <= MAX_LINK_CHARS
    return link if ok else None


def looks_like_feed(content: bytes, content_type: str = "") -> bool:
    """Whether fetched bytes are an RSS/Atom/RDF feed rather than an HTML page."""
    if any(t in content_type for t in ("rss", "atom", "xml")) and "html" not in content_type:
        return True
    head = content[:2000].lstrip().lower()
    return head.startswith(b"<?xml") or any(t in head for t in (b"<rss", b"<feed", b"<rdf:rdf"))


def parse_feed(content: bytes, url: str) -> list[Article]:
    """Parse RSS or Atom into articles (HTML bodies stripped to paragraphs); FeedError if not a feed."""
    import feedparser

    parsed = feedparser.parse(as_declared(content))
    if parsed.bozo and not parsed.entries:
        raise FeedError(f"malformed feed: {parsed.get('bozo_exception')}")
    if not parsed.entries and not parsed.get("version"):
        raise FeedError("not an RSS or Atom feed")
    source = clean_text(parsed.feed.get("title") or "") or urlsplit(url).hostname
    articles = []
    if len(parsed.entries) > MAX_ITEMS:
        logger.warning("%s: %d items, only the first %d read", url, len(parsed.entries), MAX_ITEMS)
    for n, e in enumerate(parsed.entries[:MAX_ITEMS], 1):
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
            published_at=parse_published(e.get("published") or e.get("updated") or e.get("created")),
            source=source, url=web_link(e.get("link")), origin=f"{url}#{n}",
        ))
    return articles


# The page-time scan is linear: tags are found by their start, each read up to its ">" within
# MAX_TAG_CHARS, and the attribute patterns run on that slice only (a regex over the whole page that
# looked for a tag's end from every "<meta" took a minute on 93 KB of "<meta ").
MAX_TAG_CHARS = 2000
_TAG_START = re.compile(r"<(meta|time)\s", re.IGNORECASE)
_META_NAME = re.compile(
    r"(?:property|name|itemprop)\s*=\s*[\"'](?:article:published_time|og:release_date|pubdate|"
    r"publishdate|datePublished|date)[\"']", re.IGNORECASE)
_CONTENT = re.compile(r"content\s*=\s*[\"']([^\"']+)[\"']", re.IGNORECASE)
_DATETIME = re.compile(r"datetime\s*=\s*[\"']([^\"']+)[\"']", re.IGNORECASE)


def _page_time(html: str, fallback: str | None) -> str | None:
    """The publication time a page's <meta> tags give, else its first <time datetime>, else fallback."""
    first_time = None
    for m in _TAG_START.finditer(html):
        end = html.find(">", m.end(), m.end() + MAX_TAG_CHARS)
        if end < 0:
            continue
        tag = html[m.start() : end]
        if m.group(1).lower() == "meta":
            if _META_NAME.search(tag) and (c := _CONTENT.search(tag)) and (t := parse_published(c.group(1))):
                return t
        elif first_time is None and (d := _DATETIME.search(tag)):
            first_time = d.group(1)
    return parse_published(first_time) or parse_published(fallback)


# An encoding declared in the first bytes of a feed or page.
_DECLARED = re.compile(rb"""(?:encoding|charset)\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)


def as_declared(content: bytes, content_type: str = "") -> bytes:
    """Bytes said (or assumed) to be UTF-8 that are not, but are valid GB18030 (GBK), re-encoded as UTF-8.

    Chinese sites that moved to UTF-8 templates often still serve GBK text; read as UTF-8 it is mojibake.
    """
    declared = re.search(r"charset=\s*[\"']?([\w.:-]+)", content_type or "", re.IGNORECASE)
    name = declared.group(1) if declared else ((m := _DECLARED.search(content[:1024])) and m.group(1).decode())
    if (name or "utf-8").lower().replace("-", "").replace("_", "") != "utf8":
        return content
    try:
        content.decode("utf-8")
        return content
    except UnicodeDecodeError:
        pass
    try:
        return content.decode("gb18030").encode("utf-8")
    except UnicodeDecodeError:
        return content


def parse_page(content: bytes, url: str) -> Article | None:
    """Extract an article page's main text, title and publication time (trafilatura); None if no text."""
    import trafilatura

    content = as_declared(content)
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
    if len(content) > MAX_BYTES:  # fetch and read_file refuse these; callers with bytes of their own too
        raise FeedError(f"larger than {MAX_BYTES} bytes")
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


@dataclass
class Fetched:
    """What one round of fetching got: each due feed with its result or its error."""

    now: float
    results: list[tuple[FeedState, object]] = field(default_factory=list)


class FeedPoller:
    """Poll feeds and add what is new to the index; thread-safe, one poll at a time.

    Each due feed is fetched in its own thread, bounded by `timeout` in all, so a slow feed holds
    the others up by at most that; fetching takes no index lock (`fetch_due`), only adding does (`add`).
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
        self._lock = threading.Lock()  # one add at a time
        self._fetch_lock = threading.Lock()  # one round of fetching at a time

    def status(self) -> list[FeedState]:
        """Each feed's state (copies), in configuration order."""
        return [FeedState(**vars(s)) for s in self.feeds.values()]

    def poll(self, now: float | None = None) -> PollReport:
        """Fetch the feeds that are due, write their new articles, add them to the index (blocking)."""
        return self.add(self.fetch_due(now))

    def fetch_due(self, now: float | None = None) -> Fetched:
        """Fetch and parse the feeds that are due, in parallel (network and parsing only)."""
        with self._fetch_lock:
            now = time.time() if now is None else now
            # A tenth of an interval of slack: a job running every interval finds its feeds due.
            due = [s for s in self.feeds.values() if s.next_attempt <= now + self.interval / 10]
            if not due:
                return Fetched(now)
            with concurrent.futures.ThreadPoolExecutor(min(self.max_workers, len(due))) as pool:
                return Fetched(now, list(zip(due, pool.map(self._fetch_one, due))))

    def add(self, fetched: Fetched) -> PollReport:
        """Record the outcome of each fetched feed, write the new articles and add them to the index."""
        with self._lock:
            now, report = fetched.now, PollReport()
            known = known_articles(self.index_dir) if fetched.results else ({}, set())
            written: list[tuple[FeedState, Path, int]] = []
            for state, result in fetched.results:
                state.last_checked = now
                if isinstance(result, Exception):
                    self._failed(state, now, result, report)
                    continue
                state.failures = 0
                state.next_attempt = now + self.interval
                report.fetched.append(state.url)
                response, articles = result
                if response.not_modified or articles is None:
                    state.last_status = "not modified"
                    continue
                fresh = new_articles(articles, known)
                # The next feed must not write these again (the same story in two feeds).
                known[0].update({a.id: content_hash(a.title, a.paragraphs) for a in fresh})
                known[1].update(known[0][a.id] for a in fresh)
                state.last_status = f"ok: {len(articles)} items, {len(fresh)} new"
                if fresh:
                    written.append((state, write_jsonl(self.index_dir, slug(state.url), fresh), len(fresh)))
                    state.added += len(fresh)
                    report.added += len(fresh)
            if written:
                self._publish(written, report, now)
                report.files = [path for _, path, _ in written if path.exists()]
                logger.info("feeds: %d new articles, index version %s", report.added, report.version)
            return report

    def _publish(self, written: list[tuple[FeedState, Path, int]], report: PollReport, now: float) -> None:
        """Add the written files in one build; if that fails, feed by feed, so one feed whose
        articles break the build does not hold back the others (it is retried after its backoff)."""
        try:
            report.version = self._build([path for _, path, _ in written])
            return
        except Exception as e:  # noqa: BLE001 — which feed broke it is found below
            if len(written) == 1:
                self._not_added(written[0], e, report, now)
                return
            logger.warning("feeds: adding %d feeds at once failed (%s); adding them one by one", len(written), e)
        for item in written:
            try:
                report.version = self._build([item[1]])
            except Exception as e:  # noqa: BLE001 — logged, the feed marked failed
                self._not_added(item, e, report, now)

    def _build(self, files: list[Path]) -> str:
        """Add the files to the index; the published version."""
        from index.build.operations import build_index

        return build_index(files, self.index_dir, self.encoder, self.config, add=True, embed=self.embed,
                           progress=False).version

    def _not_added(self, item: tuple[FeedState, Path, int], error: Exception, report: PollReport, now: float) -> None:
        """Forget a feed's file and validators (its next poll fetches and adds it all again); count a failure."""
        state, path, n = item
        logger.warning("feed %s: its %d new articles could not be added", state.url, n, exc_info=error)
        path.unlink(missing_ok=True)
        state.etag = state.modified = state.content_sha = None
        state.added -= n
        report.added -= n
        report.fetched.remove(state.url)
        self._failed(state, now, f"could not add: {error}", report)

    def _failed(self, state: FeedState, now: float, error: object, report: PollReport) -> None:
        """Count a failure: the feed is retried after interval × 2^failures (at most MAX_BACKOFF)."""
        state.failures += 1
        delay = min(self.interval * 2 ** state.failures, max(MAX_BACKOFF, self.interval))
        state.next_attempt = now + delay
        state.last_status = f"error: {error}"
        report.failed.append(state.url)
        logger.warning("feed %s failed (%d in a row, next try in %.0f s): %s", state.url, state.failures, delay, error)

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
