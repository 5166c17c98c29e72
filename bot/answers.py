"""Server-side state behind the inline buttons: the hits of recent answers, by a short key.

Telegram allows only 64 bytes of callback data, so a button carries ``more:<key>:<offset>`` or
``full:<key>:<n>`` and the hits stay here. The store is bounded; the oldest answers go first.
"""

from __future__ import annotations

import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass

from index.models import HEADLINE, Hit


def drop_redundant_headlines(hits: tuple[Hit, ...] | list[Hit]) -> tuple[Hit, ...]:
    """Drop an article's headline hit when its paragraphs are quoted too: the title is shown anyway."""
    quoted = {h.passage.article_id for h in hits if h.passage.kind != HEADLINE and h.passage.article_id}
    return tuple(h for h in hits if not (h.passage.kind == HEADLINE and h.passage.article_id in quoted))


@dataclass(frozen=True)
class Answer:
    """The hits found for one question, shown ``per_page`` at a time."""

    query: str
    hits: tuple[Hit, ...]
    per_page: int
    date_range: tuple[str, str] | None = None  # the dates the search was restricted to, if any

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
