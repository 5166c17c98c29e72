"""The conversation memory: what a follow-up question may lean on, per chat and per answer, in memory only.

In a private chat the last question's topic and answer are kept for ``[telegram] followup_minutes``;
in a group only a reply to one of the bot's answers carries that answer's context (found by its
key). Nothing is written to disk: a restart forgets every conversation, as /forget does one.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

MAX_CHATS = 10_000  # private conversations kept at most: a flood of new chats must not grow memory


@dataclass(frozen=True)
class Turn:
    """One answered question, as a follow-up sees it."""

    chat_id: int
    question: str
    topic: tuple[str, ...]  # the topic words the conversation carries (bot.analysis.followup.topic_after)
    articles: tuple[str, ...]  # the articles the answer quoted: evidence for the next search
    key: str | None  # the kept answer (bot.answers.AnswerStore) for 还有吗; None when nothing was found
    offset: int  # where the last page shown of that answer starts
    at: float  # Services.clock time of the question


class Conversations:
    """Bounded, thread-safe memory of the last turn per private chat and of the turn behind each answer key."""

    def __init__(self, minutes: float, max_answers: int = 500, max_chats: int = MAX_CHATS):
        self.seconds = minutes * 60
        self._chats: OrderedDict[int, Turn] = OrderedDict()
        self._answers: OrderedDict[str, Turn] = OrderedDict()
        self._max_chats, self._max_answers = max_chats, max_answers
        self._lock = threading.Lock()

    def last(self, chat_id: int, now: float) -> Turn | None:
        """The chat's last turn, unless it is older than the follow-up window (then it is dropped)."""
        with self._lock:
            turn = self._chats.get(chat_id)
            if turn is not None and now - turn.at > self.seconds:
                del self._chats[chat_id]
                return None
            return turn

    def of_answer(self, key: str) -> Turn | None:
        """The turn that produced the answer kept under ``key`` (a group reply to it leans on it)."""
        with self._lock:
            return self._answers.get(key)

    def remember(self, turn: Turn, *, private: bool) -> None:
        """Keep a turn: by its answer key always, as the chat's last turn in a private chat."""
        with self._lock:
            if private:
                self._chats[turn.chat_id] = turn
                self._chats.move_to_end(turn.chat_id)
                while len(self._chats) > self._max_chats:
                    self._chats.popitem(last=False)
            if turn.key is not None:
                self._answers[turn.key] = turn
                while len(self._answers) > self._max_answers:
                    self._answers.popitem(last=False)

    def forget(self, chat_id: int) -> bool:
        """Drop everything kept of a chat; whether there was anything."""
        with self._lock:
            had = self._chats.pop(chat_id, None) is not None
            keys = [k for k, t in self._answers.items() if t.chat_id == chat_id]
            for k in keys:
                del self._answers[k]
            return had or bool(keys)
