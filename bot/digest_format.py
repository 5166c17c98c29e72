"""Telegram HTML for the news digest and for "what's new" answers (pure; every headline escaped)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta

from index.schema import Headline

from .analysis.digest import EXTRACT_CHARS, Digest, DigestItem, headline_time
from .analysis.whatsnew import WhatsNew
from .formatting import headline_line
from .html_split import split_message
from .text import CHINA_TZ, MAX_MESSAGE_CHARS, esc, shorten

__all__ = ["format_digest", "format_whats_new", "item_lines"]


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


def item_lines(items: Sequence[DigestItem]) -> list[str]:
    """Each headline's line, with its one-sentence extract in italics below it."""
    lines = []
    for item in items:
        lines.append(headline_line(item.headline))
        if item.extract:
            lines.append(f"　<i>{esc(shorten(item.extract, EXTRACT_CHARS))}</i>")
    return lines


def _span(window: tuple[date, date], today: date | None) -> str:
    first, last = window
    if first == last:
        name = {0: "今天", 1: "昨天", 2: "前天"}.get((today - first).days) if today else None
        return f"{name}（{first:%Y-%m-%d}）" if name else f"{first:%Y-%m-%d}"
    return f"{first:%Y-%m-%d} 至 {last:%Y-%m-%d}"


def _day(headline: Headline) -> str:
    t = headline_time(headline)
    return f"{t.astimezone(CHINA_TZ):%Y-%m-%d}" if t else "日期不详"


def format_whats_new(found: WhatsNew, *, limit: int = MAX_MESSAGE_CHARS) -> list[str]:
    """The headlines as messages: a header saying which dates they are from, then a line and extract each."""
    if not found.items:
        return ["新闻库里还没有带日期的标题。"]
    newest = _day(found.items[0].headline)
    if found.topic:
        header = _topic_header(found, newest)
    elif found.window is None:
        header = f"<b>最新新闻</b>（新闻库最新的是 {newest} 的）："
    elif found.fallback:
        header = f"🗓 {esc(_span(found.window, found.today))}没有新闻。新闻库最新的是 {newest} 的："
    else:
        header = f"<b>{esc(_span(found.window, found.today))}的新闻</b>，最新 {len(found.items)} 条："
    return split_message("\n".join([header, "", *item_lines(found.items)]), limit)


def _topic_header(found: WhatsNew, newest: str) -> str:
    """The header of a topical answer: about what, of which dates, or that nothing is about it."""
    topic = esc(found.topic)
    if found.off_topic:
        return f"没有找到关于「{topic}」的新闻。新闻库最新的新闻（{newest}）："
    if found.window is None:
        return f"<b>关于「{topic}」的最新新闻</b>（最新的是 {newest} 的）："
    span = esc(_span(found.window, found.today))
    if found.fallback:
        return f"🗓 {span}没有关于「{topic}」的新闻。关于它最新的是 {newest} 的："
    return f"<b>{span}关于「{topic}」的新闻</b>，最新 {len(found.items)} 条："
