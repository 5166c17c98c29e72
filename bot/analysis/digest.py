"""The news digest: the newest headlines of a day of news, each with one sentence of its article.

``build_digest`` reads the retriever (call it off the event loop); ``bot.digest_format`` formats it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from index.chinatime import china_datetime
from index.schema import Article, Headline

from ..text import first_chars
from .sentence_picker import representative_sentence


class NewsReader(Protocol):
    """The two index reads a digest needs (``index.Retriever`` has them)."""

    def latest(self, n: int = 10, keyword: str | None = None) -> list[Headline]: ...

    def article(self, article_id: str) -> Article | None: ...


EXTRACT_CHARS = 200  # an extract longer than this is cut (a few news sentences run on and on)
# The extract is picked from the article's first this-many characters: ranking the sentences of a
# 1 MB feed item took 10 s per headline, and a news article says what it is about early.
EXTRACT_SOURCE_CHARS = 5000


@dataclass(frozen=True)
class DigestItem:
    """One headline of the digest and the most representative sentence of its article."""

    headline: Headline
    extract: str = ""  # "" when the headline has no indexed article


@dataclass(frozen=True)
class Digest:
    """The headlines of the ``hours`` up to ``end``, newest first."""

    items: list[DigestItem]
    hours: float
    end: datetime | None = None  # the newest dated headline; None when the index has none


def headline_time(headline: Headline) -> datetime | None:
    """Return when the headline was published (timezone-aware), or None when it is undated."""
    if not headline.published_at:
        return None
    try:
        return china_datetime(headline.published_at)  # the corpus is Chinese news: naive means China time
    except ValueError:
        return None


def build_digest(retriever: NewsReader, hours: float, max_items: int) -> Digest:
    """Collect up to ``max_items`` headlines of the ``hours`` up to the newest dated one.

    Args:
        retriever: an ``index.Retriever`` (anything with ``latest(n)`` and ``article(id)``).
        hours: how far back from the newest dated headline the digest reaches.
        max_items: the most headlines listed.

    Returns:
        The digest, newest first; each headline with an indexed article gets that article's most
        representative sentence (``sentence_picker.representative_sentence``).
    """
    # The window ends at the newest dated headline, not at the clock. On a live index the two are
    # minutes apart; on an old corpus (the seed page is from 2020-02-09) "the 24 hours before now"
    # would always be empty, while "the last 24 hours of the corpus" is the day a reader wants.
    # Undated headlines (a page's hot list) cannot be placed in a day and are left out.
    # latest() is newest first with undated ones last, so the window is a prefix of it; extra
    # headlines are read only to make up for repeated titles.
    candidates = retriever.latest(3 * max_items)
    dated = [(h, t) for h in candidates if (t := headline_time(h)) is not None]
    if not dated:
        return Digest([], hours)
    end = max(t for _, t in dated)
    start = end - timedelta(hours=hours)
    items: list[DigestItem] = []
    seen: set[str] = set()
    for headline, t in dated:
        if t < start or headline.title in seen:
            continue
        seen.add(headline.title)
        items.append(DigestItem(headline, extract(retriever, headline)))
        if len(items) >= max_items:
            break
    return Digest(items, hours, end)


def extract(retriever: NewsReader, headline: Headline) -> str:
    """The most representative sentence of the headline's article ("" without an indexed article)."""
    if not headline.article_id:
        return ""
    article = retriever.article(headline.article_id)
    if article is None or not article.paragraphs:
        return ""
    return representative_sentence(first_chars(article.paragraphs, EXTRACT_SOURCE_CHARS), title=article.title)

