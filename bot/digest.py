"""The news digest: the newest headlines of a day of news, each with one sentence of its article.

``build_digest`` reads the retriever (call it off the event loop); ``format_digest`` is pure.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from index.schema import Headline

from .formatting import headline_line
from .html_split import split_message
from .sentence_picker import representative_sentence
from .text import CHINA_TZ, MAX_MESSAGE_CHARS, esc, first_chars, shorten

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
        t = datetime.fromisoformat(headline.published_at)
    except ValueError:
        return None
    # The corpus is Chinese news: a time without an offset is China time.
    return t if t.tzinfo is not None else t.replace(tzinfo=CHINA_TZ)


def build_digest(retriever: object, hours: float, max_items: int) -> Digest:
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


def extract(retriever: object, headline: Headline) -> str:
    if not headline.article_id:
        return ""
    article = retriever.article(headline.article_id)
    if article is None or not article.paragraphs:
        return ""
    return representative_sentence(first_chars(article.paragraphs, EXTRACT_SOURCE_CHARS), title=article.title)



def format_digest(
    digest: Digest, now: datetime, *, limit: int = MAX_MESSAGE_CHARS
) -> list[str]:
    """Return the digest as Telegram HTML messages: a header, then a line (and extract) per headline."""
    if not digest.items or digest.end is None:
        return ["新闻库里还没有带日期的标题，暂时没有新闻摘要。"]
    end = digest.end.astimezone(CHINA_TZ)
    hours = f"{digest.hours:g}"
    header = (
        f"<b>新闻摘要</b>：截至 {end:%Y-%m-%d %H:%M}（北京时间）的 {hours} 小时内，"
        f"最新 {len(digest.items)} 条"
    )
    if now - digest.end > timedelta(hours=digest.hours):
        # Say so when the newest news is old, so nobody takes 2020 for today.
        header += f"\n（新闻库最新的新闻是 {end:%Y-%m-%d} 的）"
    return split_message("\n".join([header, "", *item_lines(digest.items)]), limit)


def item_lines(items) -> list[str]:
    """Each headline's line, with its one-sentence extract in italics below it."""
    lines = []
    for item in items:
        lines.append(headline_line(item.headline))
        if item.extract:
            lines.append(f"　<i>{esc(shorten(item.extract, EXTRACT_CHARS))}</i>")
    return lines

