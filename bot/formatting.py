"""Pure functions that turn search results into Telegram HTML messages.

Nothing here talks to Telegram. Every function returns text that is escaped for Telegram's HTML
parse mode, and the ones that return ``list[str]`` return messages that each fit
``MAX_MESSAGE_CHARS`` (split by ``bot.html_split``, never inside a tag). The limits, ``esc`` and
``shorten`` come from ``bot.text``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from html import escape

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from index.schema import HEADLINE, Article, Headline, Hit

from .html_split import split_message
from .text import MAX_CALLBACK_DATA_BYTES, MAX_MESSAGE_CHARS, esc, first_chars, shorten

MAX_ECHOED_QUESTION = 80
# A link longer than this (escaped, as it stands in the tag) is dropped: a tag is never split, and
# one of 4,096 characters would not fit any message. Only http(s) links are kept (no javascript:, data:).
MAX_URL_CHARS = 2048
_SAFE_URL = re.compile(r"https?://[^\s\x00-\x1f\x7f]+", re.IGNORECASE)
# 全文 of a long article: at most this many messages, then a link to the rest.
MAX_ARTICLE_MESSAGES = 3
# A passage longer than this (a feed item that is one endless sentence) is quoted around its best
# sentence: splitting 2.4 MB into messages took the handler 90 s and would have sent hundreds.
MAX_QUOTE_CHARS = 1000


def format_time(published_at: str | None) -> str:
    """Return 'YYYY-MM-DD HH:MM' from an ISO timestamp, the date alone, or '时间不详'."""
    if not published_at:
        return "时间不详"
    match = re.match(r"(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2}))?", published_at)
    if not match:
        return published_at
    return f"{match[1]} {match[2]}" if match[2] else match[1]


def safe_url(url: str | None) -> str | None:
    """The link if it is an http(s) URL without spaces or controls that fits in a tag, else None."""
    url = (url or "").strip()
    if not _SAFE_URL.fullmatch(url) or len(escape(url, quote=True)) > MAX_URL_CHARS:
        return None
    return url


def _link(url: str | None, label: str) -> str:
    """The label linked to url, or the plain label when the url is not safe to link."""
    url = safe_url(url)
    return f'<a href="{escape(url, quote=True)}">{esc(label)}</a>' if url else esc(label)


# --- answers ---------------------------------------------------------------------------------


# A passage longer than this is quoted collapsed (<blockquote expandable>), its best sentence shown first.
LONG_PASSAGE_CHARS = 150


def quote_passage(text: str, best_sentence: str | None, label: str = "") -> str:
    """Return the passage as a blockquote with the best-matching sentence in bold.

    A long passage goes in an expandable blockquote; unless it opens with the best sentence, that
    sentence comes first in a short quote of its own, so it is read without expanding. ``label``
    (an answer's marker, "[1]") opens the first quote.
    """
    mark = f"{esc(label)} " if label else ""
    text, best_sentence = cut_around(text, best_sentence, MAX_QUOTE_CHARS)
    start = text.find(best_sentence) if best_sentence else -1
    if start < 0:
        body = esc(text)
    else:
        end = start + len(best_sentence or "")
        body = f"{esc(text[:start])}<b>{esc(text[start:end])}</b>{esc(text[end:])}"
    if len(text) <= LONG_PASSAGE_CHARS:
        return f"<blockquote>{mark}{body}</blockquote>"
    if start > 0:
        return f"<blockquote>{mark}<b>{esc(best_sentence or '')}</b></blockquote>\n<blockquote expandable>{body}</blockquote>"
    return f"<blockquote expandable>{mark}{body}</blockquote>"


def cut_around(text: str, best: str | None, limit: int) -> tuple[str, str | None]:
    """At most `limit` characters of the passage around its best sentence (cut to fit), "…" where cut."""
    if len(text) <= limit:
        return text, best
    start = text.find(best) if best else -1
    if start < 0:
        return text[: limit - 1] + "…", best
    best = best[:limit]
    a = max(0, min(start - (limit - len(best)) // 2, len(text) - limit))
    return ("…" if a else "") + text[a : a + limit] + ("…" if a + limit < len(text) else ""), best


def attribution(
    title: str | None,
    published_at: str | None,
    source: str | None,
    url: str | None,
    tag: str | None = None,
) -> str:
    """Return the lines under a quote: the bold title (if given), then time · source · link."""
    details = [format_time(published_at)]
    if source:
        details.append(esc(source))
    if tag:
        details.append(esc(tag))
    if safe_url(url):
        details.append(_link(url, "原文链接"))
    line = " · ".join(details)
    return f"—— <b>{esc(title)}</b>\n{line}" if title else line


def group_hits(hits: Sequence[Hit]) -> list[list[Hit]]:
    """Group hits by article, groups in order of their best hit, passages in article order."""
    groups: dict[object, list[Hit]] = {}
    for hit in hits:
        p = hit.passage
        key = p.article_id if p.article_id is not None else ("passage", p.id)
        groups.setdefault(key, []).append(hit)
    return [sorted(g, key=lambda h: h.passage.position) for g in groups.values()]


def date_range_note(date_range: tuple[str, str] | None) -> str:
    """Say which dates a time-restricted search looked at ("" when it was not restricted)."""
    if not date_range:
        return ""
    first, last = date_range
    span = first if first == last else f"{first} 至 {last}"
    return f"🗓 检索范围：{esc(span)}（北京时间）"


HEDGE = "不确定是否回答了你的问题，最接近的是："


def outside_range_note(date_range: tuple[str, str], first: Hit) -> str:
    """Say that nothing in the asked-for dates answered, and when the nearest passage is from."""
    first_day, last_day = date_range
    span = first_day if first_day == last_day else f"{first_day} 至 {last_day}"
    when = format_time(first.passage.published_at).split(" ")[0] if first.passage.published_at else "日期不详"
    return f"🗓 {esc(span)}（北京时间）没有相关报道；最接近的是 {esc(when)} 的："


def format_hits(
    hits: Sequence[Hit],
    *,
    limit: int = MAX_MESSAGE_CHARS,
    date_range: tuple[str, str] | None = None,
    confident: bool = True,
    outside_range: bool = False,
    lead: str | None = None,
    numbers: Mapping[int, int] | None = None,
) -> list[str]:
    """Format hits as quoted passages, grouped under their article's title.

    Args:
        hits: the passages to quote, best first.
        limit: the longest message allowed.
        date_range: the publication window the question asked for, said in a first line when given.
        confident: False puts the hedge line first: the passages only may answer.
        outside_range: nothing in date_range answered; the first line says so and when these are from.
        lead: an answer paragraph (Telegram HTML) between those first lines and the quotes ([llm]).
        numbers: passage id -> the marker ("[1]") that opens its quote, as the lead cites them.

    Returns:
        Messages in Telegram HTML, each at most ``limit`` characters.
    """
    numbers = numbers or {}
    blocks = []
    for group in group_hits(hits):
        first = group[0].passage
        lines = []
        for hit in group:
            n = numbers.get(hit.passage.id)
            label = f"[{n}]" if n else ""
            if hit.passage.kind == HEADLINE:
                # A headline has no body to quote: the headline is the whole quote.
                mark = f"{esc(label)} " if label else ""
                lines.append(f"<blockquote>{mark}<b>{esc(hit.passage.text)}</b></blockquote>")
            else:
                lines.append(quote_passage(hit.passage.text, hit.best_sentence, label))
        only_headline = all(h.passage.kind == HEADLINE and h.passage.text == first.title for h in group)
        lines.append(
            attribution(
                None if only_headline else first.title,
                first.published_at,
                first.source,
                first.url,
                first.tag,
            )
        )
        also = next((h.also_reported_by for h in group if h.also_reported_by), ())
        if also:
            lines.append(also_reported(also))
        blocks.append("\n".join(lines))
    if outside_range and date_range and hits:
        note = outside_range_note(date_range, hits[0])
    else:
        note = "\n".join(n for n in (date_range_note(date_range), "" if confident else esc(HEDGE)) if n)
    if lead:  # the answer under the hedge, above the quotes it cites
        note = f"{note}\n{lead}\n" if note else f"{lead}\n"
    return split_message((note + "\n" if note else "") + "\n\n".join(blocks), limit)


ANSWER_MARK = "🤖"  # opens a model's answer paragraph: it is generated, the quotes below are not


def format_generated(text: str) -> str:
    """A checked model answer as the lead of a reply (or a draft of it; "" while the model starts: the mark alone)."""
    return f"{ANSWER_MARK} {esc(text)}".rstrip()


def format_not_found(
    question: str,
    headlines: Sequence[Headline],
    *,
    limit: int = MAX_MESSAGE_CHARS,
    date_range: tuple[str, str] | None = None,
) -> list[str]:
    """Say plainly that nothing answers ``question`` and offer the nearest headlines."""
    text = f"抱歉，没有找到能回答“{esc(shorten(question, MAX_ECHOED_QUESTION))}”的内容。"
    if date_range:
        text += "\n" + date_range_note(date_range)
    if headlines:
        text += "\n最接近的几条新闻标题：\n" + "\n".join(headline_line(h) for h in headlines)
    else:
        text += "\n换个说法试试，或用 /latest 看看最新标题。"
    return split_message(text, limit)


def answer_keyboard(
    key: str, next_offset: int | None, articles: Sequence[tuple[int, str]]
) -> InlineKeyboardMarkup | None:
    """Return the "more" and "full article" buttons for one page of an answer.

    Args:
        key: the server-side id of the answer.
        next_offset: where the next page starts, or None when there is no next page.
        articles: (index in the answer's article list, title) for each article on this page.
    """
    buttons = []
    if next_offset is not None:
        buttons.append(InlineKeyboardButton("更多 ▸", callback_data=f"more:{key}:{next_offset}"))
    for index, title in articles:
        label = "全文" if len(articles) == 1 else f"全文：{shorten(title, 12)}"
        buttons.append(InlineKeyboardButton(label, callback_data=f"full:{key}:{index}"))
    for button in buttons:
        if len(str(button.callback_data).encode()) > MAX_CALLBACK_DATA_BYTES:
            raise ValueError(f"callback data too long: {button.callback_data!r}")
    return InlineKeyboardMarkup([[b] for b in buttons]) if buttons else None


# --- headlines, articles, help ------------------------------------------------------------------


def also_reported(sources: Sequence[str]) -> str:
    """Name the outlets whose copies of the same story were merged into the one shown."""
    return "另见：" + "、".join(esc(shorten(s, 30)) for s in sources[:5]) + (" 等" if len(sources) > 5 else "")


def headline_line(headline: Headline) -> str:
    """Return one bullet line: time, title (linked when it has a url), tag, and where else it was reported."""
    title = _link(headline.url, headline.title)
    tag = f"〔{esc(headline.tag)}〕" if headline.tag else ""
    also = f"（{also_reported(headline.also_reported_by)}）" if headline.also_reported_by else ""
    return f"• {format_time(headline.published_at)}  {title}{tag}{also}"


def headline_list(
    headlines: Sequence[Headline],
    *,
    keyword: str | None = None,
    limit: int = MAX_MESSAGE_CHARS,
) -> list[str]:
    """Format the newest headlines (already in the order to show) as messages."""
    if not headlines:
        if keyword:
            return [f"没有找到含“{esc(shorten(keyword, MAX_ECHOED_QUESTION))}”的标题。"]
        return ["还没有收录任何标题。"]
    what = f"含“{esc(shorten(keyword, MAX_ECHOED_QUESTION))}”的" if keyword else ""
    header = f"{what}最新 {len(headlines)} 条标题："
    return split_message(header + "\n" + "\n".join(headline_line(h) for h in headlines), limit)


def format_article(article: Article, *, limit: int = MAX_MESSAGE_CHARS) -> list[str]:
    """Format a whole cleaned article: title, time · source · link, then its paragraphs.

    A long article is cut to at most MAX_ARTICLE_MESSAGES messages, the last saying how much was
    left out and linking the original.
    """
    details = [format_time(article.published_at)]
    if article.source:
        details.append(esc(article.source))
    if safe_url(article.url):
        details.append(_link(article.url, "原文链接"))
    head = f"<b>{esc(article.title)}</b>\n" + " · ".join(details)
    paragraphs = [p for p in article.paragraphs if p.strip()]
    total = sum(map(len, paragraphs))
    budget = MAX_ARTICLE_MESSAGES * limit
    while True:
        shown = first_chars(paragraphs, budget)
        body = "\n\n".join(esc(p) for p in shown)
        cut = sum(map(len, shown))
        if cut < total:
            body += "\n\n" + _rest_note(total - cut, article.url)
        messages = split_message(head + ("\n\n" + body if body else ""), limit)
        if len(messages) <= MAX_ARTICLE_MESSAGES:
            return messages
        budget = budget * 3 // 4  # escaping and the breaks between messages took more room than guessed



def _rest_note(left: int, url: str | None) -> str:
    """Say that `left` characters of the article were not sent, and where to read them."""
    if safe_url(url):
        return f"（全文较长，余下 {left} 字未显示，请看{_link(url, '原文')}）"
    return f"（全文较长，余下 {left} 字未显示）"


def format_help(stats: Mapping[str, object]) -> str:
    """Explain briefly, in Chinese, what the bot knows and how to ask."""
    articles = stats.get("articles") or 0
    headlines = stats.get("headlines") or 0
    date_min, date_max = stats.get("date_min"), stats.get("date_max")
    if date_min and date_max:
        span = f"时间从 {str(date_min)[:10]} 到 {str(date_max)[:10]}"
    else:
        span = "暂无日期信息"
    return (
        "我用新闻原文回答问题：引用最相关的段落，并注明标题、时间和来源。\n"
        f"目前收录 {articles} 篇文章、{headlines} 条标题，{span}。\n\n"
        "怎么问：直接发问题，例如“社区防控要突出什么”；问“今天有什么新闻”看最新标题。\n"
        "在任何聊天框输入“@机器人用户名 问题”也能查（若已开启 inline 模式）。\n"
        "在群里：用 /ask 问题，或 @我，或回复我的消息；/summary 总结最近的讨论。\n\n"
        "/latest — 最新标题（/latest 20 或 /latest 疫情）\n"
        "/digest — 一天的新闻摘要（/digest on 08:00 每天推送）\n"
        "/ask 问题 — 提问\n"
        "/help — 显示本说明"
    )
