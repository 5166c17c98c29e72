"""Server-side state behind the inline buttons: the hits of recent answers, by a short key.

Telegram allows only 64 bytes of callback data, so a button carries ``more:<key>:<offset>`` or
``full:<key>:<n>`` and the hits stay here. The store is bounded; the oldest answers go first.
"""

from __future__ import annotations

import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass

from index.schema import Hit


@dataclass(frozen=True)
class Answer:
    """The hits found for one question, shown ``per_page`` at a time."""

    query: str
    hits: tuple[Hit, ...]
    per_page: int
    date_range: tuple[str, str] | None = None  # the publication window the question asked for, if any
    confident: bool = True  # False: quoted under a hedge
    outside_range: bool = False  # nothing in date_range answered: these come from outside it

    def page(self, offset: int) -> tuple[Hit, ...]:
        """Return the hits of the page starting at ``offset``."""
        return self.hits[offset : offset + self.per_page]

    def next_offset(self, offset: int) -> int | None:
        """Return where the page after the one at ``offset`` starts, or None when it is the last."""
        nxt = offset + self.per_page
        return nxt if nxt < len(self.hits) else None

    @property
    def article_ids(self) -> list[str]:
        """The distinct articles behind the hits, in order of first appearance."""
        return list(dict.fromkeys(h.passage.article_id for h in self.hits if h.passage.article_id))

    def articles_on_page(self, offset: int) -> list[tuple[int, str]]:
        """(index into article_ids, title) for each article quoted on the page at ``offset``."""
        ids = self.article_ids
        out: dict[int, str] = {}
        for hit in self.page(offset):
            if hit.passage.article_id:
                out.setdefault(ids.index(hit.passage.article_id), hit.passage.title)
        return list(out.items())


class AnswerStore:
    """A bounded, thread-safe map from short keys to answers (least recently used goes first)."""

    def __init__(self, maxsize: int = 500):
        if maxsize < 1:
            raise ValueError("maxsize must be positive")
        self.maxsize = maxsize
        self._items: OrderedDict[str, Answer] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    def add(self, answer: Answer) -> str:
        """Keep ``answer`` and return its key (8 hex digits)."""
        with self._lock:
            key = secrets.token_hex(4)
            while key in self._items:
                key = secrets.token_hex(4)
            self._items[key] = answer
            while len(self._items) > self.maxsize:
                self._items.popitem(last=False)
            return key

    def get(self, key: str) -> Answer | None:
        """Return the answer kept under ``key``, or None when it has expired."""
        with self._lock:
            answer = self._items.get(key)
            if answer is not None:
                self._items.move_to_end(key)
            return answer
