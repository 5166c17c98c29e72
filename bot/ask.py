"""The ask service: a question from any surface (private chat, group, inline mode, the terminal
chat) to a finished answer that the surface only formats and delivers.

``ask`` does, in order: clean the question, the per-user rate limit, the "what's new" routing, the
follow-up reading (``bot.analysis.followup`` against the conversation the question leans on), the
search (off the event loop), keeping the hits for the buttons and the turn for the next follow-up,
and the feedback log. It returns one of the ``Reply`` types; nothing here knows Telegram.
"""

from __future__ import annotations

import asyncio
import dataclasses
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING

from index.schema import SearchResult

from .analysis import followup, whatsnew
from .answers import Answer
from .conversation import Turn
from .limits import Verdict
from .questions import clean_question, is_askable
from .services import Services

if TYPE_CHECKING:
    from .llm.compose import Generated

__all__ = ["Surface", "Asking", "Unaskable", "TooFast", "Headlines", "Quotes", "Page", "NotFound", "Reply", "ask",
           "TOO_FAST", "USAGE_ASK"]

USAGE_ASK = "用法：/ask 你的问题，例如 /ask 社区防控要突出什么"
TOO_FAST = "提问太快了：每人每分钟最多 {n} 个问题，请稍后再问。"


class Surface(Enum):
    """Where a question was asked (the terminal chat is a private chat)."""

    PRIVATE = "private"
    GROUP = "group"
    INLINE = "inline"


@dataclass(frozen=True)
class Asking:
    """Who asks, where and when."""

    surface: Surface
    chat_id: int | None  # None in inline mode: the query belongs to no chat the bot sees
    user_id: int | None  # None for an anonymous group admin or a channel: the chat is limited instead
    now: datetime  # China time of the question: 今天 and 昨天 are read against it
    replied_key: str | None = None  # a group message replying to one of the bot's answers: that answer's key


@dataclass(frozen=True)
class Unaskable:
    """Nothing to search for (only emoji, punctuation or blanks): the surface shows how to ask."""

    question: str


@dataclass(frozen=True)
class TooFast:
    """The user asked more than ``per_minute`` questions in a minute; ``notify`` only on the first."""

    per_minute: int
    notify: bool


@dataclass(frozen=True)
class Headlines:
    """A "what's new" question: the headlines of the asked window (or the newest)."""

    question: str
    found: whatsnew.WhatsNew
    key: str | None  # the key votes refer to; None in inline mode (no buttons)


@dataclass(frozen=True)
class Quotes:
    """Passages that answer the question (``answer.confident`` False: under a hedge)."""

    question: str
    result: SearchResult  # the retrieval result as the retriever gave it
    answer: Answer  # the hits to quote, page by page
    key: str | None  # the key of the kept answer for the buttons; None in inline mode
    generated: Generated | None = None  # [llm]: a checked answer paragraph over the first page
    followup: tuple[str, ...] = ()  # the topic words of the question before, when it was searched with them


@dataclass(frozen=True)
class Page:
    """还有吗 / 更多 after an answer: its page at ``offset``, as the 更多 button gives; None: nothing more."""

    question: str
    answer: Answer
    key: str
    offset: int | None


@dataclass(frozen=True)
class NotFound:
    """Nothing answers the question; ``result.nearest_headlines`` are the closest there are."""

    question: str
    result: SearchResult


Reply = Unaskable | TooFast | Headlines | Quotes | Page | NotFound


async def ask(services: Services, question: str, asking: Asking,
              *, working: Callable[[], Awaitable[object]] | None = None,
              draft: Callable[[str], Awaitable[object]] | None = None) -> Reply:
    """Take a question to a finished answer: limit, route, search, keep, log.

    Args:
        services: the bot's services (the retriever is read once, here).
        question: what the user typed, as typed.
        asking: the surface, chat, user and time of the question.
        working: awaited once the question is admitted, before the search (a chat shows "typing…").
        draft: with [llm] on, awaited with the checked sentences of the answer as they come (a
            private chat's sendMessageDraft); "" first, while the model starts.

    Returns:
        One of ``Unaskable``, ``TooFast``, ``Headlines``, ``Quotes``, ``Page``, ``NotFound``.
    """
    # Zero-width and control characters would only confuse the search and the echoed question.
    question = clean_question(question)
    inline = asking.surface is Surface.INLINE
    askable = is_askable(question)
    if not askable and not inline:  # inline mode offers the newest headlines for an empty query
        return Unaskable(question)
    # One user must not starve the others, on any surface: past the limit, one notice, then silence.
    asker = asking.user_id if asking.user_id is not None else asking.chat_id or 0
    verdict = services.limiter.check(asker, services.clock())
    if verdict is not Verdict.ANSWER:
        services.usage["rate_limited"] += 1
        return TooFast(services.limiter.per_minute, notify=verdict is Verdict.NOTIFY)
    services.usage["inline" if inline else "questions"] += 1
    if working is not None:
        await working()
    retriever = services.retriever  # once: a /reindex swap mid-question must not mix two indexes
    config = services.config
    # 今天有什么新闻: the newest headlines, not a search; 湖北有什么新消息: the newest about 湖北.
    if not askable or whatsnew.is_whats_new(question) or whatsnew.topic_of(question):
        if not inline:
            services.usage["whats_new"] += 1
        found = await asyncio.to_thread(
            whatsnew.answer, retriever, question, asking.now, config.latest_default, config.summary.digest_hours
        )
        key = None if inline else secrets.token_hex(4)  # no pages or articles to keep: only votes refer to it
        if key is not None:
            await _log_answer(services, asking, key, question, [])
        return Headlines(question, found, key)
    before = _turn_before(services, asking)
    kind = followup.classify(question) if before is not None else followup.Kind.NEW
    if kind is followup.Kind.MORE and before.key is not None and (shown := services.answers.get(before.key)):
        offset = shown.next_offset(before.offset)
        if offset is not None:
            _remember(services, asking, dataclasses.replace(before, offset=offset, at=services.clock()))
        return Page(question, shown, before.key, offset)
    # Encoding the question takes a while: keep it off the event loop so other chats go on.
    result = await asyncio.to_thread(retriever.search, question, config.max_passages, now=asking.now)
    topic, merged = followup.topic_after(question), False
    if kind is not followup.Kind.NEW:  # a follow-up (or 还有吗 after an expired answer): searched with the topic too
        query = followup.merged_query(question, before.topic)
        extra = {"prefer_articles": before.articles} if before.articles else {}
        with_topic = await asyncio.to_thread(retriever.search, query, config.max_passages, now=asking.now, **extra)
        if followup.merged_wins(_best(result), _best(with_topic)):
            result, topic, merged = with_topic, followup.topic_after(question, before.topic), True
            services.usage["followups"] += 1
    if not result.found:
        if not inline:
            services.usage["not_found"] += 1
            await _log_not_found(services, asking, question)
        if not merged:  # a new topic that found nothing still replaces the old one
            _remember(services, asking, Turn(asking.chat_id or 0, question, topic, (), None, 0, services.clock()))
        return NotFound(question, result)
    kept = Answer(question, tuple(result.hits), config.passages, result.date_range, result.confident,
                  result.outside_range)
    key = None if inline else services.answers.add(kept)
    if key is not None:
        await _log_answer(services, asking, key, question, [h.passage.id for h in kept.hits])
        _remember(services, asking, Turn(asking.chat_id or 0, question, topic, tuple(kept.article_ids), key, 0,
                                         services.clock()))
    generated = None
    if services.llm is not None:  # [llm] on; never for "not found": no answer from the model's memory
        from .llm.compose import generate

        generated = await generate(services, question, kept, asking, draft)
    return Quotes(question, result, kept, key, generated, followup=before.topic if merged else ())


def _best(result: SearchResult) -> float:
    """The probability of the best passage found (0 when none)."""
    return max((h.score for h in result.hits), default=0.0)


def _turn_before(services: Services, asking: Asking) -> Turn | None:
    """What the question may lean on: the private chat's last turn, or the turn of the answer a group message replies to."""
    if services.config.followup_minutes == 0 or asking.chat_id is None:
        return None
    if asking.surface is Surface.PRIVATE:
        return services.conversations.last(asking.chat_id, services.clock())
    if asking.surface is Surface.GROUP and asking.replied_key is not None:
        turn = services.conversations.of_answer(asking.replied_key)
        return turn if turn is not None and turn.chat_id == asking.chat_id else None
    return None  # inline mode, and a group message that replies to no answer


def _remember(services: Services, asking: Asking, turn: Turn) -> None:
    """Keep a turn for the next follow-up: a private chat's last, or a group answer's for replies to it."""
    if asking.surface is not Surface.INLINE and services.config.followup_minutes > 0:
        services.conversations.remember(turn, private=asking.surface is Surface.PRIVATE)


# Inline queries are not logged: Telegram sends one as the user types, so the log would fill with
# half-typed questions that were never asked.


def _chat_label(services: Services, asking: Asking) -> str:
    return services.feedback.chat_label(asking.chat_id or 0, asking.surface is Surface.PRIVATE)


async def _log_answer(services: Services, asking: Asking, key: str, question: str, passage_ids: list[int]) -> None:
    """Keep an answer (question, passages, time) so votes on it can be counted."""
    await asyncio.to_thread(services.feedback.record_answer, key, _chat_label(services, asking), question,
                            passage_ids, asking.now.timestamp())


async def _log_not_found(services: Services, asking: Asking, question: str) -> None:
    """Log a question the index could not answer."""
    await asyncio.to_thread(services.feedback.record_not_found, _chat_label(services, asking), question,
                            asking.now.timestamp())
