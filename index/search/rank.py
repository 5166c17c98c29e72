"""Pure ranking functions: fusion of the two legs, question coverage, best sentence."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import dataclasses
from dataclasses import dataclass

import numpy as np

from index.chinatime import NO_DAY
from index.store.lexical import QUESTION_WORDS
from index.schema import HEADLINE, Hit
from index.search.answerability import leg_ranks
from index.ingest.split import split_sentences


RECENCY_WEIGHT = 0.15  # "最新": added to the score of a passage from the newest day
HALF_LIFE_DAYS = 7.0  # the bonus halves with every week of age


@dataclass(frozen=True)
class Candidate:
    """One passage in a question's fused ranking, before the threshold."""

    row: int
    fused: float
    lexical: float
    cosine: float | None
    lex_rank: int = 0  # 0-based rank in the lexical leg (the number of candidates when absent)
    dense_rank: int = 0  # the same in the dense leg


def ranking(rows: np.ndarray, lexical: np.ndarray, cosines: np.ndarray, has_vector: np.ndarray,
            dense_weight: float, n: int) -> list[Candidate]:
    """The first n candidates of the legs' merged candidates by fused score, with each leg's rank."""
    fused = fuse(lexical, cosines, has_vector, dense_weight)
    lex_rank = leg_ranks(lexical, lexical > 0)
    dense_rank = leg_ranks(cosines, has_vector)
    order = np.argsort(-fused, kind="stable")[:n]
    return [
        Candidate(int(rows[i]), float(fused[i]), float(lexical[i]), float(cosines[i]) if has_vector[i] else None,
                  int(lex_rank[i]), int(dense_rank[i]))
        for i in order
    ]


def _topic_words(tokens: Sequence[str]) -> list[str]:
    # Single Latin letters or digits carry no topic ("a", "i") but would weigh as unseen words;
    # a run of one function character ("的的") is still a function word.
    return [t for t in dict.fromkeys(tokens)
            if t not in QUESTION_WORDS and not (len(t) == 1 and t.isascii()) and not (len(set(t)) == 1 and t[0] in QUESTION_WORDS)]


def has_topic(tokens: Sequence[str]) -> bool:
    """Whether any token is a topic word (not a question or function word)."""
    return bool(_topic_words(tokens))


def content_words(tokens: Sequence[str]) -> list[str]:
    """The question's topic words: its tokens without question and function words (kept if nothing else is left)."""
    return _topic_words(tokens) or list(dict.fromkeys(tokens))


def coverage(question_words: Sequence[str], passage_tokens: set[str], idf: Callable[[str], float]) -> float:
    """IDF-weighted share of the question's words that the passage contains, in [0, 1]."""
    total = sum(idf(w) for w in question_words)
    if total <= 0:
        return 0.0
    return sum(idf(w) for w in question_words if w in passage_tokens) / total


def fuse(
    lexical: np.ndarray,
    dense: np.ndarray,
    has_vector: np.ndarray,
    dense_weight: float,
) -> np.ndarray:
    """Convex fusion of min-max normalised lexical and dense scores over one question's candidates.

    A candidate without a vector (not embedded yet) keeps its lexical score in place of the dense
    one, so filling vectors in later never pushes unembedded passages down or up by itself.
    """
    lex = lexical.astype(np.float64)
    top = lex.max() if len(lex) else 0.0
    lex_n = lex / top if top > 0 else np.zeros_like(lex)
    if dense_weight <= 0 or not has_vector.any():
        return lex_n
    d = dense.astype(np.float64)
    lo, hi = d[has_vector].min(), d[has_vector].max()
    dense_n = np.where(has_vector, (d - lo) / (hi - lo) if hi > lo else 1.0, lex_n)
    return (1 - dense_weight) * lex_n + dense_weight * dense_n


def date_bonus(days: np.ndarray, mentions: np.ndarray, start: int, end: int, config) -> np.ndarray:
    """What a question's event date (start..end, day ordinals) adds to each candidate's fused score.

    A passage that writes the date ("2019年", "2月9日") gains the most; one published in the span
    gains, and one published up to `date_after_days` after it gains less (reports come out later:
    the year's figures in January, a verdict months after the trial). Undated passages gain nothing
    but a mention. Nothing is ever subtracted: a date is evidence, not a filter.
    """
    inside = (days >= start) & (days <= end)
    after = (days > end) & (days <= end + config.date_after_days)
    return (config.date_mention_bonus * mentions + config.date_published_bonus * inside
            + config.date_after_bonus * after).astype(np.float64)


def best_sentence(
    text: str,
    question_words: Sequence[str],
    tokenize: Callable[[str], list[str]],
    idf: Callable[[str], float],
) -> str:
    """The sentence of the passage that covers most of the question (the first one on a tie)."""
    sentences = split_sentences(text)
    if len(sentences) <= 1:
        return text.strip()
    best, best_score = sentences[0], -1.0
    for s in sentences:
        score = coverage(question_words, set(tokenize(s)), idf)
        if score > best_score:
            best, best_score = s, score
    return best


def drop_redundant_headlines(hits: Sequence[Hit]) -> list[Hit]:
    """Drop an article's headline hit when its paragraphs are quoted too (the title is shown anyway); renumber."""
    quoted = {h.passage.article_id for h in hits if h.passage.kind != HEADLINE and h.passage.article_id}
    kept = [h for h in hits if not (h.passage.kind == HEADLINE and h.passage.article_id in quoted)]
    return [dataclasses.replace(h, rank=i + 1) for i, h in enumerate(kept)]


def newest_first(hits: Sequence[Hit], row_days: np.ndarray, newest_day: int | None) -> list[Hit]:
    """Hits re-ordered by score plus a bonus for the newest (for "最新", "最近"), renumbered.

    `row_days`: each row's China date ordinal (NO_DAY undated); `newest_day`: the index's newest.
    """

    def boosted(hit: Hit) -> float:
        day = int(row_days[hit.passage.id])
        if newest_day is None or day == NO_DAY:
            return hit.score
        return hit.score + RECENCY_WEIGHT * 0.5 ** (max(0, newest_day - day) / HALF_LIFE_DAYS)

    return [dataclasses.replace(h, rank=i + 1) for i, h in enumerate(sorted(hits, key=boosted, reverse=True))]
