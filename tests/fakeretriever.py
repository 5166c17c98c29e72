"""A fast stand-in for index.Retriever, for tests that need many answers quickly (load, fuzz).

It answers in microseconds and echoes the question in its "not found" reply, so a test can tell
which reply answers which question. ``found_every`` makes every n-th question "found", with
passages whose title, source, url and text carry HTML and Markdown specials; ``confident=False``
makes those answers hedged; ``delay`` adds a
(seeded) random sleep to each search so concurrent answers finish out of order.
"""

from __future__ import annotations

import random
import threading
import time

from index.schema import HEADLINE, PARAGRAPH, Article, Headline, Hit, Passage, SearchResult

HOSTILE_TITLE = '<a href="javascript:alert(1)">标题</a> *_[`&amp; </blockquote>'
HOSTILE_URL = 'https://example.com/a?x=1&y="2"<b>'


class FakeRetriever:
    """The Retriever methods the bot calls: search, latest, article, related, stats."""

    def __init__(self, *, found_every: int = 0, delay: float = 0.0, seed: int = 0, label: str = "fake",
                 confident: bool = True):
        self.found_every = found_every
        self.confident = confident
        self.delay = delay
        self.label = label
        self.searches: list[str] = []
        self.preferred: list[tuple[str, ...]] = []  # the prefer_articles of each search
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self.closed = False

    def search(self, query: str, k: int = 3, now=None, prefer_articles=()) -> SearchResult:
        with self._lock:
            self.searches.append(query)
            self.preferred.append(tuple(prefer_articles))
            n = len(self.searches)
            pause = self._rng.uniform(0, self.delay) if self.delay else 0.0
        if pause:
            time.sleep(pause)
        if self.found_every and n % self.found_every == 0:
            hits = [Hit(i + 1, 0.9 - i / 10, self._passage(i), "第一句。") for i in range(min(k, 4))]
            return SearchResult(query, hits, True, confident=self.confident)
        return SearchResult(query, [], False, self.latest(2))

    def _passage(self, i: int) -> Passage:
        kind = HEADLINE if i == 3 else PARAGRAPH
        text = HOSTILE_TITLE if kind == HEADLINE else f"第一句。<i>第{i}段</i> & *粗* _斜_ [链接](x)。"
        return Passage(i + 1, f"a{i % 2}", i, kind, text, HOSTILE_TITLE, "2020-02-09T23:26:00+08:00",
                       "来源<&>", HOSTILE_URL, "标签</b>")

    def latest(self, n: int = 10, keyword: str | None = None) -> list[Headline]:
        return [
            Headline(f"{HOSTILE_TITLE} {i}", None if i % 3 == 0 else "2020-02-09T23:26:00+08:00",
                     tag="<tag>", url=HOSTILE_URL if i % 2 else None, article_id=f"a{i % 2}")
            for i in range(min(n, 5))
        ]

    def article(self, article_id: str) -> Article | None:
        if article_id not in ("a0", "a1"):
            return None
        return Article(article_id, HOSTILE_TITLE, ["第一段 <b>&", "第二段 *_[`"], "2020-02-09T23:26:00+08:00",
                       "来源<&>", HOSTILE_URL)

    def related(self, text: str, n: int = 3) -> list[Headline]:
        return self.latest(n)

    def stats(self) -> dict:
        return {"articles": 2, "passages": 8, "headlines": 5, "vectors": 0,
                "date_min": "2020-02-09T23:26:00+08:00", "date_max": "2020-02-09T23:26:00+08:00",
                "model": "fake", "version": self.label}

    def close(self) -> None:
        self.closed = True
