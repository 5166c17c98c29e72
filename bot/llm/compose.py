"""The optional answer paragraph: from the quoted passages to a checked answer, or None (quotes alone).

``generate`` is what the ask service calls once retrieval found passages (confident or hedged).
It keeps the per-user budget, streams the model's answer, checks each sentence as soon as it is
complete (``bot.llm.guard``) and hands only checked sentences to ``draft`` (a private chat's
``sendMessageDraft``, the terminal), so nothing unchecked is ever shown. Any failure (budget,
timeout, HTTP error, malformed stream, a failed check) gives None, is logged with its reason, and
the reply is today's quotes, unchanged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING

from . import prompt
from .client import ChatClient, LLMError
from .guard import MAX_ANSWER_CHARS, MAX_SENTENCES, check_answer, check_sentence, normalize_markers, split_sentences

if TYPE_CHECKING:
    import httpx

    from ..answers import Answer
    from ..ask import Asking
    from ..config import LLMConfig
    from ..services import Services

logger = logging.getLogger(__name__)

MAX_CONCURRENT = 4  # answers generated at once; more wait (within their timeout) for a slot
MAX_USERS_KEPT = 100_000  # the budget's table of users is cleared past this (a new day clears it too)

Draft = Callable[[str], Awaitable[object]]


@dataclass(frozen=True)
class Generated:
    """A checked answer: plain text with [n] markers, and the marker of each quoted passage."""

    text: str
    numbers: dict[int, int]  # passage id -> its marker number


class _Rejected(Exception):
    """A sentence failed the guard mid-stream."""


class LLMService:
    """The model's client, the per-user budget and the concurrency limit (one per bot)."""

    def __init__(self, config: LLMConfig, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.config = config
        self.client = ChatClient(config.base_url, config.model, api_key=config.api_key,
                                 timeout_seconds=config.timeout_seconds, max_tokens=config.max_tokens,
                                 temperature=config.temperature, transport=transport)
        self._used: dict[int, int] = {}
        self._day: date | None = None
        self._slots = asyncio.Semaphore(MAX_CONCURRENT)

    def take(self, user: int, day: date) -> bool:
        """Count one answer for ``user`` on ``day``; False when the user's budget for the day is spent."""
        limit = self.config.answers_per_user_per_day
        if day != self._day or len(self._used) > MAX_USERS_KEPT:
            self._used, self._day = {}, day
        if limit and self._used.get(user, 0) >= limit:
            return False
        self._used[user] = self._used.get(user, 0) + 1
        return True

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self.client.aclose()

    async def answer(self, messages: list[dict[str, str]], numbered: list[prompt.Source],
                     draft: Draft | None = None) -> str:
        """The checked answer's text; raises LLMError, _Rejected or TimeoutError."""
        instructions = messages[0]["content"]
        text, shown = "", 0
        async with asyncio.timeout(self.config.timeout_seconds):
            async with self._slots:
                if draft is not None:
                    await draft("")  # the answer is coming
                stream = self.client.stream(messages)
                async with contextlib.aclosing(stream) as pieces:
                    async for piece in pieces:
                        text += piece
                        if len(text) > 2 * MAX_ANSWER_CHARS:
                            raise _Rejected(f"answer longer than {MAX_ANSWER_CHARS} characters")
                        sentences, _ = split_sentences(normalize_markers(text), final=False)
                        if len(sentences) > MAX_SENTENCES:
                            raise _Rejected(f"more than {MAX_SENTENCES} sentences")
                        for sentence in sentences[shown:]:
                            reason = check_sentence(sentence, numbered)
                            if reason:
                                raise _Rejected(reason)
                        if len(sentences) > shown and draft is not None:
                            await draft("".join(sentences))
                        shown = len(sentences)
                verdict = check_answer(text, numbered, instructions)  # the last sentence, and the whole
                if not verdict.ok:
                    raise _Rejected(verdict.reason)
                sentences, _ = split_sentences(normalize_markers(text).strip(), final=True)
                if len(sentences) > shown and draft is not None:
                    await draft("".join(sentences))
        return "".join(sentences)


async def generate(services: Services, question: str, kept: Answer, asking: Asking,
                   draft: Draft | None = None) -> Generated | None:
    """The answer paragraph over the first page of ``kept``, checked; None (logged why) to show the quotes alone."""
    hits = kept.page(0)
    numbered = prompt.sources(hits)
    user = asking.user_id if asking.user_id is not None else asking.chat_id or 0
    label = None
    if asking.chat_id is not None:  # inline queries are not logged (half-typed questions)
        label = services.feedback.chat_label(asking.chat_id, asking.surface.value == "private")
    text = await checked(services, prompt.messages(question, numbered), numbered, user, asking.now, label,
                         question, draft)
    return None if text is None else Generated(text, {hit.passage.id: n for n, hit in enumerate(hits, 1)})


async def checked(services: Services, messages: list[dict[str, str]], numbered: list[prompt.Source], user: int,
                  now: datetime, label: str | None, question: str, draft: Draft | None = None) -> str | None:
    """The model's checked answer to ``messages``, within ``user``'s budget; None (logged why) on any failure."""
    llm: LLMService = services.llm
    if not llm.take(user, now.date()):
        reason = f"budget: {llm.config.answers_per_user_per_day} answers a day spent"
    else:
        try:
            text = await llm.answer(messages, numbered, draft)
        except TimeoutError:
            reason = f"timed out after {llm.config.timeout_seconds:g} s"
        except (LLMError, _Rejected) as e:
            reason = str(e)
        except Exception as e:  # noqa: BLE001 - whatever goes wrong, the quotes still go out
            logger.exception("the model answer failed unexpectedly")
            reason = f"unexpected {type(e).__name__}"
        else:
            services.usage["llm_answers"] += 1
            return text
    services.usage["llm_fallbacks"] += 1
    logger.info("model answer not shown (%s): quotes alone", reason)
    if label is not None:
        await asyncio.to_thread(services.feedback.record_llm_fallback, label, question, reason, now.timestamp())
    return None
