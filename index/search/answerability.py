"""Does the index answer this question? The features, the relevance rule and the fitted logistic model.

A raw cosine or BM25 score means different things on different corpora, scripts and question
styles, so a threshold on it learnt on one source refuses good answers on another. The decision
on an index the encoder calibrates is the RelevanceRule (below), over ``standing`` (its cosine
measured against this very index's unrelated-question baseline: index.search.calibration),
``coverage`` and ``headline``. The logistic AnswerModel decides where there is no calibration. The
features:

- ``standing``: how far the cosine stands above what an unrelated question reaches on this index;
- ``headline``: 1 for a headline passage (a bare title stands out by chance);

- ``cosine``: the passage's cosine to the question (the model's own scale, the same on any corpus);
- ``cos_z``: the cosine in standard deviations above the question's cosine to a fixed sample of the
  index's passages (its background);
- ``coverage``: the IDF-weighted share of the question's topic words the passage (or its title) has;
- ``bm25_ratio``: the passage's BM25 score over the score the question would get as a passage of
  average length: the share of its own best possible score;
- ``numbers``: the share of the question's numbers ("509", "2019") the passage (or its title) has,
  1 when the question has none: a bulletin with other figures is a near miss, not an answer;
- ``lex_rank``, ``dense_rank``: log(1 + rank) of the passage in each leg (0 = first): two legs that
  agree on a passage are evidence that it answers.

The rule's form and lines, and the model's weights and lines, live in index/search/answer_model.json
(config.toml ``[retrieval]`` may override them): the rule's chosen by ``bench/decision.py``, the model
fitted by ``bench/answerability.py``, each with one source left out at a time (docs/answerability.md).
A model feature without a weight is computed but does not count.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

FEATURES = ("cosine", "cos_z", "coverage", "bm25_ratio", "lex_rank", "dense_rank", "numbers", "standing", "headline")

# Verdicts on a question.
ANSWER, HEDGE, NONE = "answer", "hedge", "none"


@dataclass(frozen=True)
class Evidence:
    """One candidate passage's features, named as in FEATURES."""

    cosine: float
    cos_z: float
    coverage: float
    bm25_ratio: float
    lex_rank: float
    dense_rank: float
    numbers: float = 1.0
    standing: float = 0.0  # index.search.calibration.Baseline.standing (0 on an index without calibration)
    headline: float = 0.0  # 1 for a headline passage

    def __getitem__(self, feature: str) -> float:
        """One feature by name: AnswerModel.probability reads an Evidence and a dict of features alike."""
        return getattr(self, feature)

    def vector(self) -> np.ndarray:
        """The features in FEATURES order."""
        return np.array([getattr(self, f) for f in FEATURES], dtype=np.float64)


def rank_feature(rank: int, n: int) -> float:
    """log(1 + rank), a passage missing from a leg's top n counting as rank n."""
    return math.log1p(min(rank, n))


def leg_ranks(scores: np.ndarray, present: np.ndarray | None = None) -> np.ndarray:
    """Each candidate's 0-based rank by one leg's score (highest first); absent ones rank last."""
    order = np.argsort(-scores, kind="stable")
    ranks = np.empty(len(scores), dtype=np.int64)
    ranks[order] = np.arange(len(scores))
    if present is not None:
        ranks[~present] = len(scores)
    return ranks


def bm25_self_score(counts: Mapping[str, int], idf, k1: float) -> float:
    """BM25 of the question's own tokens in a passage of average length made of exactly them."""
    return sum(c * idf(t) * c / (c + k1) for t, c in counts.items())


@dataclass(frozen=True)
class AnswerModel:
    """A logistic model over FEATURES and the two probabilities that split its verdicts."""

    weights: Mapping[str, float]
    bias: float
    answer_at: float  # at or above: quote it
    hedge_at: float  # at or above (and below answer_at): quote it under a hedge; below: "not found"

    @cached_property
    def features(self) -> tuple[str, ...]:
        """The features this model weighs (a non-zero weight), in FEATURES order: the only ones it reads."""
        return tuple(f for f in FEATURES if self.weights.get(f, 0.0))

    def probability(self, features: Mapping[str, float] | Evidence) -> float:
        """The model's probability that a passage with these features (by name) answers the question."""
        z = self.bias + sum(self.weights[f] * features[f] for f in self.features)
        return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))

    def verdict(self, p: float) -> str:
        """ANSWER, HEDGE or NONE for a probability."""
        return ANSWER if p >= self.answer_at else HEDGE if p >= self.hedge_at else NONE


def fit_logistic(x: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None = None,
                 l2: float = 1.0, iterations: int = 50) -> tuple[np.ndarray, float]:
    """Weights and bias of an L2-regularised logistic regression, by Newton's method (IRLS).

    Five features and a few thousand rows: a dozen Newton steps, no need for a library.
    """
    n, d = x.shape
    w = np.zeros(d + 1)
    xb = np.hstack([x, np.ones((n, 1))])
    sw = np.ones(n) if sample_weight is None else sample_weight
    reg = np.full(d + 1, l2)
    reg[-1] = 0.0  # the bias is not shrunk
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-np.clip(xb @ w, -50, 50)))
        grad = xb.T @ (sw * (p - y)) + reg * w
        hess = (xb * (sw * p * (1 - p))[:, None]).T @ xb + np.diag(reg + 1e-9)
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return w[:-1], float(w[-1])


def model_from(weights: Sequence[float], bias: float, answer_at: float, hedge_at: float) -> AnswerModel:
    """An AnswerModel from weights in FEATURES order."""
    return AnswerModel(dict(zip(FEATURES, (float(v) for v in weights))), float(bias), answer_at, hedge_at)


def number_coverage(question_tokens, passage_tokens: set[str]) -> float:
    """The share of the question's distinct number tokens the passage has (1.0 when it has none)."""
    numbers = {t for t in question_tokens if any(ch.isdigit() for ch in t)}
    if not numbers:
        return 1.0
    return sum(t in passage_tokens for t in numbers) / len(numbers)


@dataclass(frozen=True)
class RelevanceRule:
    """The decision on a calibrated index: a candidate's relevance against two lines.

    relevance = standing (index.search.calibration: its cosine above what unrelated questions
    reach on this index) + coverage_weight × coverage − headline_penalty for a bare headline
    (short titles stand out by chance: chatter matched them). The question is "not found" when
    its best candidate is below quote_at, answered under the hedge below confident_at, answered
    at or above it. Once it is answered, the other candidates are quoted (for 更多) when they
    stand above chance (related_at), as the answer's neighbours, not as answers.
    """

    coverage_weight: float
    headline_penalty: float
    quote_at: float
    confident_at: float
    related_at: float = 0.0

    def verdicts(self, relevances: Sequence[float]) -> list[str]:
        """Each candidate's verdict, the question's best deciding whether any is quoted."""
        if not relevances or max(relevances) < self.quote_at:
            return [NONE] * len(relevances)
        return [ANSWER if r >= self.confident_at else HEDGE if r >= min(self.related_at, self.quote_at) else NONE
                for r in relevances]

    def relevance(self, standing: float, coverage: float, headline: bool) -> float:
        """How far a candidate stands above an unrelated question's reach, lexical evidence added."""
        return standing + self.coverage_weight * coverage - self.headline_penalty * float(headline)

    def probability(self, relevance: float) -> float:
        """A score in (0, 1) for the hits' order and display: 0.5 on the quote line."""
        return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, relevance - self.quote_at))))
