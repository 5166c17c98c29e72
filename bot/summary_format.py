"""Telegram HTML for /summary replies (pure; every user-provided string is escaped)."""

from __future__ import annotations

import html
import re
import unicodedata
from datetime import datetime

from bot.analysis.summarize import Summary
from bot.text import CHINA_TZ, MAX_MESSAGE_CHARS, shorten, tg_len


# Joiners stay: they hold emoji sequences and some scripts together, and cannot reorder text.
_KEEP_FORMAT = frozenset("\u200c\u200d")


def _visible(text: str) -> str:
    """Drop control and format characters (bidi overrides and isolates among them)."""
    # A right-to-left override in a sender's name would reverse the rest of the line in clients.
    return "".join(
        ch for ch in text if ch in _KEEP_FORMAT or unicodedata.category(ch) not in ("Cc", "Cf")
    )


def _shown(text: str, limit: int) -> str:
    """The text without control and format characters, shortened to ``limit``."""
    return shorten(_visible(" ".join(text.split())), limit)


def _when(t: datetime | None) -> str:
    return t.astimezone(CHINA_TZ).strftime("%m-%d %H:%M") if t else ""


def _related_line(item: object) -> str:
    """Render a related news item: a str, or anything with .title/.url (or a Hit's .passage)."""
    if isinstance(item, str):
        title, url, when = item, None, None
    else:
        obj = getattr(item, "passage", item)
        title = str(getattr(obj, "title", None) or obj)
        url = getattr(obj, "url", None)
        when = getattr(obj, "published_at", None)
    text = html.escape(_shown(title, 80))
    if url and url.startswith(("http://", "https://")):
        text = f'<a href="{html.escape(url, quote=True)}">{text}</a>'
    if when:
        text += f"（{html.escape(str(when)[:10])}）"
    return "• " + text


def too_few_text(summary: Summary) -> str:
    """Return the one-line answer for a window too small to summarize."""
    return (
        f"这段时间只有 {summary.messages_read} 条消息、{summary.chars_read} 字，不够总结"
        f"（至少需要 {summary.min_chars} 字或 {summary.min_messages} 条消息）。"
    )


def format_summary(
    summary: Summary,
    *,
    chat_id: int,
    username: str | None = None,
    window_label: str = "",
    quote_chars: int = 400,
    max_chars: int = MAX_MESSAGE_CHARS,
    lead: str | None = None,
) -> str:
    """Return the summary as Telegram HTML of at most `max_chars` characters.

    ``lead`` ([llm] summaries): a checked paragraph whose markers [n] cite the picks, which are then numbered.
    """
    if summary.too_few:
        return html.escape(too_few_text(summary))
    # Shorter quotes first, then fewer of them, until the message fits.
    for limit in (quote_chars, 120, 60, 30):
        for keep in range(len(summary.picks), -1, -1):
            text = _render(summary, chat_id, username, window_label, limit, keep, lead)
            if tg_len(text) <= max_chars:
                return text
    # Unreachable in practice: header, keywords and three headlines are far below the limit.
    return _render(summary, chat_id, username, window_label, 30, 0, lead)


def _render(
    summary: Summary, chat_id: int, username: str | None, label: str, limit: int, keep: int, lead: str | None = None
) -> str:
    head = "<b>讨论摘要</b>"
    if label:
        head += f"（{html.escape(_visible(label))}）"
    span = ""
    if summary.first_time and summary.last_time:
        span = f"，{_when(summary.first_time)}–{_when(summary.last_time)}"
    lines = [head, f"读了 {summary.messages_read} 条消息，{summary.participants} 人参与{span}。"]
    links = [message_link(p.message.chat_id or chat_id, p.message.message_id, username) for p in summary.picks]
    if lead:
        lines.append(_linked_lead(lead, links))
    if summary.keywords:
        lines.append("<b>话题：</b>" + html.escape(_visible("、".join(summary.keywords))))
    if summary.picks[:keep]:
        lines += ["", "<b>代表性发言：</b>"]
        for n, pick in enumerate(summary.picks[:keep], 1):
            m = pick.message
            quote = html.escape(_shown(pick.text, limit))
            link = message_link(m.chat_id or chat_id, m.message_id, username)
            if link:
                quote = f'<a href="{html.escape(link, quote=True)}">{quote}</a>'
            mark = f"[{n}] " if lead else "• "
            lines.append(f"{mark}<b>{html.escape(_shown(m.sender, 40))}</b>：{quote}")
    if summary.related:
        lines += ["", "<b>相关新闻：</b>"] + [_related_line(item) for item in summary.related]
    return "\n".join(lines)


def _linked_lead(lead: str, links: list[str | None]) -> str:
    """🤖 and the paragraph, each marker [n] a link to the message it cites (where Telegram has links)."""
    def link(match: re.Match) -> str:
        n = int(match[1])
        url = links[n - 1] if 1 <= n <= len(links) else None
        return f'<a href="{html.escape(url, quote=True)}">[{n}]</a>' if url else match[0]

    return "🤖 " + re.sub(r"\[(\d{1,3})\]", link, html.escape(lead, quote=False))


def message_link(chat_id: int, message_id: int, username: str | None = None) -> str | None:
    """Return a t.me link to a group message, or None where Telegram has none (basic groups)."""
    if username:
        return f"https://t.me/{username.lstrip('@')}/{message_id}"
    s = str(chat_id)
    if s.startswith("-100") and len(s) > 4:
        return f"https://t.me/c/{s[4:]}/{message_id}"
    return None
