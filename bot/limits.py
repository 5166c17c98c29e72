"""Per-user question rate limit: a sliding minute, one notice when it is exceeded."""

from __future__ import annotations

from collections import OrderedDict, deque
from enum import Enum

WINDOW = 60.0  # seconds
MAX_USERS = 10_000  # users tracked at most; the longest idle are forgotten first


class Verdict(Enum):
    """What to do with a question: answer it, say once that the user asks too fast, or ignore it."""

    ANSWER = "answer"
    NOTIFY = "notify"
    DROP = "drop"


class QuestionLimiter:
    """Allow each user ``per_minute`` questions in any 60 s; 0 allows everything.

    The first question over the limit gets a notice; later ones in the same burst are dropped
    silently, so a flooding user cannot make the bot flood the chat back.
    """

    def __init__(self, per_minute: int, window: float = WINDOW) -> None:
        self.per_minute = per_minute
        self.window = window
        self._asked: OrderedDict[int, deque[float]] = OrderedDict()
        self._notified: dict[int, float] = {}  # user id -> when the notice was sent

    def check(self, user_id: int, now: float) -> Verdict:
        """Record a question from ``user_id`` at ``now`` (monotonic seconds) and judge it."""
        if self.per_minute <= 0:
            return Verdict.ANSWER
        asked = self._asked.pop(user_id, None) or deque()
        self._asked[user_id] = asked  # most recently active last
        while asked and asked[0] <= now - self.window:
            asked.popleft()
        while len(self._asked) > MAX_USERS:
            old, _ = self._asked.popitem(last=False)
            self._notified.pop(old, None)
        if len(asked) < self.per_minute:
            asked.append(now)
            self._notified.pop(user_id, None)
            return Verdict.ANSWER
        if user_id in self._notified and self._notified[user_id] > now - self.window:
            return Verdict.DROP
        self._notified[user_id] = now
        return Verdict.NOTIFY

    def __len__(self) -> int:
        return len(self._asked)
