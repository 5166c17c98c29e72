"""The bot's services: one typed object in ``bot_data``, made in post_init and closed in post_shutdown.

Handlers reach it with ``services(context)``; nothing else of the bot lives in ``bot_data``.
"""

from __future__ import annotations

import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from telegram.ext import Application, CallbackContext, JobQueue

    from index.schema import Article, Headline, SearchResult

    from .answers import AnswerStore
    from .chatlog import ChatLog
    from .config import BotConfig
    from .conversation import Conversations
    from .feedback import FeedbackLog
    from .limits import QuestionLimiter
    from .llm.compose import LLMService
    from .newsindex import NewsIndex
    from .subscriptions import Subscriptions

__all__ = ["SERVICES", "Retriever", "Services", "services"]

SERVICES = "services"  # the one bot_data key


class Retriever(Protocol):
    """What the bot asks of the index (``index.Retriever``; tests lend fakes of the same shape)."""

    def search(self, query: str, k: int = 3, now: datetime | None = None,
               prefer_articles: Collection[str] = ()) -> SearchResult: ...

    def latest(self, n: int = 10, keyword: str | None = None) -> list[Headline]: ...

    def related(self, text: str, n: int = 3) -> list[Headline]: ...

    def article(self, article_id: str) -> Article | None: ...

    def stats(self) -> dict[str, Any]: ...


@dataclass
class Services:
    """Everything the handlers share: settings, the index, the logs, the limits and the counters."""

    config: BotConfig
    news: NewsIndex  # owns the current retriever; /reindex, feeds and channel posts replace it
    clock: Callable[[], float]  # monotonic seconds: the question limit, the /summary cooldown
    answers: AnswerStore  # the hits behind the "more" and "full article" buttons
    limiter: QuestionLimiter  # questions per user per minute, every surface alike
    chatlog: ChatLog  # group messages for /summary
    subscriptions: Subscriptions  # daily /digest chats
    feedback: FeedbackLog  # answers, 👍/👎 votes, unanswered questions
    conversations: Conversations  # what follow-up questions lean on (memory only)
    llm: LLMService | None = None  # [llm] on: the model that writes an answer above the quotes
    usage: Counter[str] = field(default_factory=Counter)  # what /stats counts
    summary_started: dict[int, float] = field(default_factory=dict)  # chat id -> clock time of its last /summary
    seen_updates: OrderedDict[int, None] = field(default_factory=OrderedDict)  # update ids handled (redeliveries)

    @classmethod
    def open(cls, config: BotConfig, news: NewsIndex, clock: Callable[[], float] = time.monotonic) -> Services:
        """Make the services of ``config``; the logs live in memory when no path is configured."""
        # Imported here: the modules that handlers use import this one for ``services(context)``.
        from .answers import AnswerStore
        from .chatlog import ChatLog
        from .conversation import Conversations
        from .feedback import FeedbackLog
        from .limits import QuestionLimiter
        from .subscriptions import Subscriptions

        llm = None
        if config.llm.enabled:  # bot.llm (and its client) is imported only with [llm] on
            from .llm.compose import LLMService

            llm = LLMService(config.llm)
        # The group message log and the digest subscriptions share one file ([groups] log_path).
        return cls(
            config=config,
            news=news,
            clock=clock,
            answers=AnswerStore(config.answer_cache),
            limiter=QuestionLimiter(config.questions_per_minute),
            chatlog=ChatLog(config.groups.log_path or ":memory:"),
            subscriptions=Subscriptions(config.groups.log_path or ":memory:"),
            feedback=FeedbackLog(config.feedback.log_path or ":memory:"),
            conversations=Conversations(config.followup_minutes, config.answer_cache),
            llm=llm,
        )

    @property
    def retriever(self) -> Retriever:
        """The retriever to use now; read it once per update and keep it for that update."""
        return self.news.retriever

    def start(self, job_queue: JobQueue | None) -> None:
        """Start the index service (it closes replaced retrievers through the job queue)."""
        self.news.start(job_queue)

    def close(self) -> None:
        """Close the logs and the index (a second close does nothing)."""
        self.chatlog.close()
        self.subscriptions.close()
        self.feedback.close()
        self.news.close()


def services(context: CallbackContext | Application) -> Services:
    """The bot's services, from a handler's context or from the Application."""
    return context.bot_data[SERVICES]
