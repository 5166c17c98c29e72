"""The judge: how likely each ranked candidate is to answer the question, and the verdict it gets.

Built once per opened version from RetrievalConfig and what the version knows (IDF, a passage's
words, which rows are headlines, a fixed sample of its vectors, and its calibration). On a
calibrated index (index.search.calibration) the decision is the RelevanceRule: a candidate's
standing above what unrelated questions reach on this very index, plus its coverage of the
question's topic words. Without a calibration (the Milvus backend, no encoder) the fitted logistic
model decides as before. A question with no topic word at all (的的的, 是) is not found. `assess`
computes only what the decision needs; `explain` computes every feature, for the benches.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from index.config import RetrievalConfig
from index.search import answerability, rank
from index.search.answerability import ANSWER, NONE, Evidence, RelevanceRule
from index.search.calibration import Baseline
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
                 background: np.ndarray | None, baseline: Baseline | None = None,
                 is_headline: np.ndarray | None = None):
        """`tokens_of(row)`: a passage's words and its title's; `background`: vectors of a fixed sample of
        passages; `baseline`: the index's calibration (None: the fitted model decides); `is_headline`: by row."""
        self.config = config
        self.model = config.answer_model()
        use_rule = baseline is not None and config.decision == "relevance"
        self.rule: RelevanceRule | None = config.relevance_rule() if use_rule else None
        self.baseline = baseline
        self._is_headline = is_headline
        self._idf, self._k1 = lexical.idf, lexical.k1
        self._tokens_of = tokens_of
        self._background = background

    def assess(self, pq: PreparedQuery, candidates: Sequence[Candidate], qvec: np.ndarray | None) -> list[Assessment]:
        """Each candidate's probability and verdict, in the order to show: the fused order given, except that
        under the relevance rule the confident passages come before the hedged ones."""
        if not pq.topical:
            return [Assessment(c, 0.0, NONE) for c in candidates]  # nothing but question and function words
        if self.rule is not None:
            return self._by_relevance(pq, candidates)
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

    def _by_relevance(self, pq: PreparedQuery, candidates: Sequence[Candidate]) -> list[Assessment]:
        """The RelevanceRule's verdicts (coverage alone for a candidate not embedded yet)."""
        embedded = [c for c in candidates if c.cosine is not None]
        relevances = [self.rule.relevance(self.baseline.standing(c.row, c.cosine),
                                          rank.coverage(pq.words, self._tokens_of(c.row), self._idf),
                                          self._headline(c.row)) for c in embedded]
        judged = {c.row: Assessment(c, self.rule.probability(r), v)
                  for c, r, v in zip(embedded, relevances, self.rule.verdicts(relevances))}
        assessed = [judged[c.row] if c.cosine is not None else self._assess(c, pq, None) for c in candidates]
        # Passages that answer with confidence come first (in the fused order), then the hedged ones: a hot-list
        # headline just over the quote line must not stand before the paragraph that answers. Never worse
        # than the fused order on any evaluation source; seed questions' first passage 0.815 -> 0.926.
        return sorted(assessed, key=lambda a: a.verdict != ANSWER)

    def _headline(self, row: int) -> bool:
        return bool(self._is_headline is not None and self._is_headline[row])

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
            elif f == "standing":
                values[f] = self.baseline.standing(c.row, c.cosine) if self.baseline is not None else 0.0
            elif f == "headline":
                values[f] = float(self._headline(c.row))
        return values


@dataclass(frozen=True)
class _Question:
    """Per question, once: its background cosines' mean and spread, and its BM25 self-score (None: not wanted)."""

    background: tuple[float, float] | None
    self_score: float | None
