"""Pure ranking functions: fusion of the two legs, question coverage, best sentence."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from .lexical import QUESTION_WORDS
from .split import split_sentences


def content_words(tokens: Sequence[str]) -> list[str]:
    """The question's topic words: its tokens without question and function words (kept if nothing else is left)."""
    # Single Latin letters or digits carry no topic ("a", "i") but would weigh as unseen words.
    words = [t for t in dict.fromkeys(tokens) if t not in QUESTION_WORDS and not (len(t) == 1 and t.isascii())]
    return words or list(dict.fromkeys(tokens))


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


def relevance(cover: float, cosine: float | None, dense_weight: float) -> float:
    """An absolute relevance score in [0, 1]: question coverage, blended with the cosine when there is one."""
    if cosine is None or dense_weight <= 0:
        return cover
    return (1 - dense_weight) * cover + dense_weight * max(0.0, cosine)


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
