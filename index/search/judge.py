"""The judge: how likely each ranked candidate is to answer the question, and the verdict it gets.

Built once per opened version from RetrievalConfig (the answerability model) and what the version
knows (IDF, a passage's words, a fixed sample of its vectors). `assess` computes only the features
the configured model weighs (index.search.answerability); `explain` computes all of them, for
calibration (bench/answerability.py).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from index.config import RetrievalConfig
from index.search import answerability, rank
from index.search.answerability import ANSWER, NONE, Evidence
from index.search.query import PreparedQuery
from index.search.rank import Candidate
from index.store.lexical import LexicalIndex

BACKGROUND_SAMPLE = 1024  # passages whose cosines to a question are its background (cos_z)


def judged(k: int) -> int:
    """How many of the ranked candidates a search for k answers judges."""
    return max(3 * k, 10)


@dataclass(frozen=True)
class Assessment:
    """One candidate, its probability of answering the question, and its verdict (ANSWER, HEDGE, NONE)."""

    candidate: Candidate
    probability: float
    verdict: str


class Judge:
    """Judge ranked candidates with the configured answerability model; immutable, safe to share across threads."""

    def __init__(self, config: RetrievalConfig, lexical: LexicalIndex, tokens_of: Callable[[int], set[str]],
                 background: np.ndarray | None):
        """`tokens_of(row)`: a passage's words and its title's; `background`: vectors of a fixed sample of passages."""
        self.config = config
        self.model = config.answer_model()
        self._idf, self._k1 = lexical.idf, lexical.k1
        self._tokens_of = tokens_of
        self._background = background

    def assess(self, pq: PreparedQuery, candidates: Sequence[Candidate], qvec: np.ndarray | None) -> list[Assessment]:
        """Each candidate's probability and verdict, in the order given (the order to show)."""
        wanted = self.model.features
        question = self._question(pq, qvec, wanted)
        return [self._assess(c, pq, self._features(c, pq, question, wanted)) for c in candidates]

    def explain(self, pq: PreparedQuery, candidates: Sequence[Candidate],
                qvec: np.ndarray | None) -> list[tuple[Candidate, Evidence | None]]:
        """Each candidate with every feature (None without a vector), for calibration."""
        question = self._question(pq, qvec, answerability.FEATURES)
        out = []
        for c in candidates:
            features = self._features(c, pq, question, answerability.FEATURES)
            out.append((c, None if features is None else Evidence(**features)))
        return out

    def _assess(self, c: Candidate, pq: PreparedQuery, features: dict[str, float] | None) -> Assessment:
        if features is None:
            # Not embedded yet: how much of the question it covers is all there is to go on.
            cover = rank.coverage(pq.words, self._tokens_of(c.row), self._idf)
            return Assessment(c, cover, ANSWER if cover >= self.config.min_score_lexical else NONE)
        p = self.model.probability(features)
        return Assessment(c, p, self.model.verdict(p))

    def _question(self, pq: PreparedQuery, qvec: np.ndarray | None, wanted: Sequence[str]) -> _Question | None:
        """What the wanted features need from the question alone; None when no candidate can have features."""
        if qvec is None or self._background is None:
            return None
        background = None
        if "cos_z" in wanted:
            # The question's cosine to the background sample: 1,024 dot products, only when a weight uses them.
            cos = self._background @ qvec
            background = (float(cos.mean()), max(float(cos.std()), 1e-3))
        self_score = None
        if "bm25_ratio" in wanted:
            self_score = answerability.bm25_self_score(Counter(pq.tokens), self._idf, self._k1) or 1.0
        return _Question(background, self_score)

    def _features(self, c: Candidate, pq: PreparedQuery, question: _Question | None,
                  wanted: Sequence[str]) -> dict[str, float] | None:
        """The wanted features of one candidate, by name (None without a vector)."""
        if c.cosine is None or question is None:
            return None
        tokens = self._tokens_of(c.row) if "coverage" in wanted or "numbers" in wanted else set()
        n = self.config.candidates
        values = {}
        for f in wanted:
            if f == "cosine":
                values[f] = c.cosine
            elif f == "cos_z":
                values[f] = (c.cosine - question.background[0]) / question.background[1]
            elif f == "coverage":
                values[f] = rank.coverage(pq.words, tokens, self._idf)
            elif f == "bm25_ratio":
                values[f] = min(c.lexical / question.self_score, 2.0)
            elif f == "lex_rank":
                values[f] = answerability.rank_feature(c.lex_rank, n)
            elif f == "dense_rank":
                values[f] = answerability.rank_feature(c.dense_rank, n)
            elif f == "numbers":
                values[f] = answerability.number_coverage(pq.tokens, tokens)
        return values


@dataclass(frozen=True)
class _Question:
    """Per question, once: its background cosines' mean and spread, and its BM25 self-score (None: not wanted)."""

    background: tuple[float, float] | None
    self_score: float | None
