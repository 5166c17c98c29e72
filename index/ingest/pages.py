"""RSS/Atom feeds and HTML article pages parsed into articles (bodies, stable ids, publication times)."""

from __future__ import annotations

import hashlib
import logging
import re
from html.parser import HTMLParser
from urllib.parse import urlsplit


from index.chinatime import parse_published
from index.errors import FeedError
from index.ingest.fetch import MAX_BYTES
from index.ingest.clean import clean_text
from index.schema import Article

logger = logging.getLogger(__name__)

# Items read from one feed, first ones first (feeds list the newest first and hold 10–100): 10 MB
# of items would otherwise hold ~30,000 articles, and adding those takes a minute.
MAX_ITEMS = 1000
FEED_SUFFIXES = {".xml", ".rss", ".atom"}
PAGE_SUFFIXES = {".html", ".htm"}


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


_CHAR_REF = re.compile(rb"&#(x[0-9a-f]{1,8}|[0-9]{1,10});", re.IGNORECASE)


def _no_surrogate_refs(content: bytes) -> bytes:
    """Character references to lone surrogates ("&#xD800;") as U+FFFD: feedparser raises UnicodeEncodeError on them."""
    def fix(m: re.Match) -> bytes:
        ref = m.group(1)
        code = int(ref[1:], 16) if ref[:1] in b"xX" else int(ref)
        return b"&#xFFFD;" if 0xD800 <= code <= 0xDFFF else m.group(0)

    return _CHAR_REF.sub(fix, content)


def parse_feed(content: bytes, url: str) -> list[Article]:
    """Parse RSS or Atom into articles (HTML bodies stripped to paragraphs); FeedError if not a feed."""
    import feedparser

    parsed = feedparser.parse(_no_surrogate_refs(as_declared(content)))
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


def page_time(html: str, fallback: str | None) -> str | None:
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
        id=stable_id(url), title=title, paragraphs=paragraphs, published_at=page_time(html, meta.get("date")),
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
