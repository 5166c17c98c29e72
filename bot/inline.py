"""Inline mode: ``@bot 问题`` in any chat offers the best passages as articles to send.

The question goes through the ask service like a chat message (the same per-user limit); an empty
query (or a "what's new" one) offers the newest headlines. Retrieval and answerability are
the private chat's: a question nothing answers gets one "没有找到" article with the nearest headlines.
The results are the same for everyone (``is_personal`` false) and cached briefly by Telegram.
Inline mode must be switched on in @BotFather (/setinline); the bot works without it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from telegram import InlineQueryResultArticle, InputTextMessageContent, LinkPreviewOptions, Update
from telegram.constants import ParseMode
from telegram.ext import ContextTypes

from index.schema import HEADLINE, SearchResult

from . import formatting
from .analysis.digest import EXTRACT_CHARS, DigestItem
from .answers import Answer
from .ask import TOO_FAST, Asking, Headlines, NotFound, Quotes, Reply, Surface, TooFast, ask
from .services import services
from .text import CHINA_TZ, esc, shorten

if TYPE_CHECKING:
    from .llm.compose import Generated

CACHE_SECONDS = 30  # Telegram keeps the results of one query this long; the index may change meanwhile
MAX_TITLE = 100
MAX_DESCRIPTION = 120
NOT_FOUND_TITLE = "没有找到能回答的内容"
TOO_FAST_TITLE = "提问太快了，请稍后再问"


def _content(html: str) -> InputTextMessageContent:
    """A message to send in HTML, at most one message long, without link previews."""
    return InputTextMessageContent(
        html, parse_mode=ParseMode.HTML, link_preview_options=LinkPreviewOptions(is_disabled=True)
    )


def _day(published_at: str | None) -> str:
    return formatting.format_time(published_at)


def hit_results(result: SearchResult, limit: int) -> list[InlineQueryResultArticle]:
    """One article per passage found (the first ``limit``), its message the quote formatted like an answer."""
    out, seen = [], set()
    for hit in result.hits:
        p = hit.passage
        if p.id in seen:
            continue
        seen.add(p.id)
        [first, *_] = formatting.format_hits(
            [hit], date_range=result.date_range, confident=result.confident, outside_range=result.outside_range
        )
        sentence = p.text if p.kind == HEADLINE else (hit.best_sentence or p.text)
        hedge = "（不确定）" if not result.confident else ""
        out.append(InlineQueryResultArticle(
            id=f"p{p.id}",
            title=shorten(p.title or p.text, MAX_TITLE),
            input_message_content=_content(first),
            description=shorten(f"{hedge}{_day(p.published_at)} · {sentence}", MAX_DESCRIPTION),
        ))
        if len(out) >= limit:
            break
    return out


ANSWER_TITLE = "🤖 回答（附引文）"


def answer_result(kept: Answer, generated: Generated) -> InlineQueryResultArticle:
    """The article of a checked model answer: the answer paragraph, then the first page's quotes, numbered."""
    [first, *_] = formatting.format_hits(
        kept.page(0), date_range=kept.date_range, confident=kept.confident, outside_range=kept.outside_range,
        lead=formatting.format_generated(generated.text), numbers=generated.numbers,
    )
    return InlineQueryResultArticle(id="answer", title=ANSWER_TITLE, input_message_content=_content(first),
                                    description=shorten(generated.text, MAX_DESCRIPTION))


def not_found_result(result: SearchResult) -> InlineQueryResultArticle:
    """The single article of a question nothing answers: it says so and lists the nearest headlines."""
    [first, *_] = formatting.format_not_found(result.query, result.nearest_headlines, date_range=result.date_range)
    nearest = result.nearest_headlines[0].title if result.nearest_headlines else "换个说法试试"
    return InlineQueryResultArticle(
        id="not-found", title=NOT_FOUND_TITLE, input_message_content=_content(first),
        description=shorten(f"最接近：{nearest}", MAX_DESCRIPTION),
    )


def headline_results(items: Sequence[DigestItem]) -> list[InlineQueryResultArticle]:
    """One article per headline: time and extract as the description, the headline line and extract as the message."""
    out, seen = [], set()
    for item in items:
        h = item.headline
        key = "h" + hashlib.sha1(f"{h.article_id}|{h.title}|{h.published_at}".encode()).hexdigest()[:20]
        if key in seen:
            continue
        seen.add(key)
        text = formatting.headline_line(h)
        if item.extract:
            text += f"\n<i>{esc(shorten(item.extract, EXTRACT_CHARS))}</i>"
        out.append(InlineQueryResultArticle(
            id=key, title=shorten(h.title, MAX_TITLE), input_message_content=_content(text),
            description=shorten(f"{_day(h.published_at)} · {item.extract}" if item.extract else _day(h.published_at),
                                 MAX_DESCRIPTION),
        ))
    return out


def too_fast_result(per_minute: int) -> InlineQueryResultArticle:
    """The single article of a user over the question limit."""
    text = TOO_FAST.format(n=per_minute)
    return InlineQueryResultArticle(id="too-fast", title=TOO_FAST_TITLE, input_message_content=_content(esc(text)),
                                    description=shorten(text, MAX_DESCRIPTION))


def inline_results(reply: Reply, limit: int) -> list[InlineQueryResultArticle]:
    """The articles offered for one inline query, from the ask service's reply."""
    match reply:
        case TooFast(per_minute=n):
            return [too_fast_result(n)]
        case Headlines(found=found):
            return headline_results(found.items)
        case NotFound(result=result):
            return [not_found_result(result)]
        case Quotes(result=result, answer=kept, generated=generated):
            results = hit_results(result, limit)
            if generated is not None:  # [llm]: the checked answer with the quotes it cites, offered first
                results = [answer_result(kept, generated), *results[: limit - 1]]
            return results
    return []  # Unaskable: inline mode turns an empty query into headlines, so it never comes


async def answer_inline(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Answer ``@bot 问题`` with passages (or the newest headlines for an empty query)."""
    query = update.inline_query
    shared = services(context)
    asking = Asking(Surface.INLINE, None, query.from_user.id, datetime.now(CHINA_TZ))
    reply = await ask(shared, query.query, asking)
    results = inline_results(reply, shared.config.max_passages)
    if isinstance(reply, TooFast):
        # The notice is this user's alone: not cached, so another user's same query is still searched.
        await query.answer(results, cache_time=0, is_personal=True)
        return
    await query.answer(results, cache_time=CACHE_SECONDS, is_personal=False)
