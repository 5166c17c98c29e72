"""Excerpts of a discussion under a character budget: sentence units, TF-IDF rows, vectorized picks.

A short message is one unit; a long one is cut into sentences (long sentences at commas), so a
summary can quote the sentence (or two) that carries a long message. Units become rows of a
sparse TF-IDF matrix (jieba words weighted by jieba's IDF, plus character bigrams weighted by
their IDF in the window); every similarity is a sparse matrix product, never a loop over pairs.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import sparse

from bot.analysis.messages import ChatMessage
from bot.analysis.summarize_text import STOPCHARS, clean, content, idf, words
from index.ingest.split import split_sentences

__all__ = ["Excerpt", "Features", "Unit", "units", "featurize", "relevance", "pick_units", "excerpts"]

_CLAUSE = re.compile(r"[^，,、：:]+[，,、：:]*")


@dataclass(frozen=True)
class Unit:
    """A quotable piece of one message: the whole message or one of its sentences."""

    message: int  # index of the message in the window
    text: str
    whole: bool  # the unit is the entire message


@dataclass(frozen=True)
class Excerpt:
    """What a summary quotes of one message: all of it, or its chosen sentences in order."""

    message: ChatMessage
    text: str
    whole: bool


@dataclass(frozen=True)
class Features:
    """Per-unit rows for selection (see featurize)."""

    tfidf: sparse.csr_matrix  # L2-normalized word + bigram TF-IDF rows
    grams: sparse.csr_matrix  # binary character-bigram rows, for the near-duplicate cut
    density: np.ndarray  # share of a unit's characters inside meaningful words (not filler)
    words: list[list[str]]  # the meaningful jieba words of each unit
    chars: np.ndarray  # letters and digits per unit


def _sentences(text: str, max_chars: int) -> list[str]:
    """Split text into sentences (the index's rule); a sentence longer than max_chars is cut at commas."""
    out = []
    for s in split_sentences(text):
        if len(s) <= max_chars:
            out.append(s)
            continue
        # ASR and run-on chat sentences go on for hundreds of characters between full stops.
        piece = ""
        for clause in _CLAUSE.findall(s):
            if piece and len(piece) + len(clause) > max_chars:
                out.append(piece.strip())
                piece = ""
            piece += clause
        if piece.strip():
            out.append(piece.strip())
    return out


def units(
    texts: Sequence[str], *, whole_chars: int = 80, max_chars: int = 120, analyse_chars: int | None = None
) -> list[Unit]:
    """Cut messages into units: a message of at most whole_chars is one, a longer one its sentences.

    Commands and messages without letters or digits give none. analyse_chars, when given, is
    how much of each long message is read (so a huge window stays fast).
    """
    out = []
    for i, text in enumerate(texts):
        text = text.strip()
        if not text or text.startswith("/"):
            continue
        if len(text) <= whole_chars:
            if content(text):
                out.append(Unit(i, text, True))
            continue
        read = text if analyse_chars is None else text[:analyse_chars]
        out.extend(Unit(i, s, False) for s in _sentences(read, max_chars) if content(s))
    return out


def _csr(rows: list[int], cols: list[int], vals: list[float], shape: tuple[int, int]) -> sparse.csr_matrix:
    return sparse.csr_matrix((vals, (rows, cols)), shape=(shape[0], max(1, shape[1])), dtype=np.float64)


def _bigram_rows(contents: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Return (row, key) of every distinct character bigram of each content string, vectorized.

    A key packs two code points (21 bits each); a one-character string gets its character alone.
    """
    lengths = np.fromiter(map(len, contents), dtype=np.int64, count=len(contents))
    joined = "".join(contents)
    if not joined:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    cps = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32).astype(np.int64)
    ends = np.cumsum(lengths)
    row_of = np.repeat(np.arange(len(contents)), lengths)
    pos = np.arange(len(cps) - 1)
    pairs = pos[pos + 1 < ends[row_of[pos]]]  # both characters in the same string
    rows = row_of[pairs]
    keys = (cps[pairs] << 21) | cps[pairs + 1]
    single = np.flatnonzero(lengths == 1)
    rows = np.concatenate([rows, single])
    keys = np.concatenate([keys, (cps[ends[single] - 1] << 21) | _NO_CHAR])
    packed = np.unique((rows << 42) | keys)  # one entry per (row, bigram): presence, not counts
    return packed >> 42, packed & ((1 << 42) - 1)


_NO_CHAR = (1 << 21) - 1
_STOP_CODES = np.array(sorted(map(ord, STOPCHARS)), dtype=np.int64)


def featurize(
    texts: Sequence[str], *, bigram_weight: float = 0.5, word_weight: float = 1.0, hmm: bool = True
) -> Features:
    """Return TF-IDF rows (jieba words + character bigrams), bigram sets and filler density."""
    texts = [clean(t) for t in texts]
    n = len(texts)
    contents = [content(t) for t in texts]
    chars = np.fromiter(map(len, contents), dtype=np.float64, count=n)
    grows, gkeys = _bigram_rows(contents)
    uniq, gcols, df = np.unique(gkeys, return_inverse=True, return_counts=True)
    grams = _csr(grows, gcols, np.ones(len(grows)), (n, len(uniq)))
    # Bigram idf comes from the window itself: jieba has no table for them. Bigrams of two
    # function characters ("的是") would make every pair of sentences look alike.
    stop = np.isin(uniq >> 21, _STOP_CODES) & (np.isin(uniq & _NO_CHAR, _STOP_CODES) | ((uniq & _NO_CHAR) == _NO_CHAR))
    gram_idf = np.where(stop, 0.0, bigram_weight * (np.log((n + 1) / (df + 1)) + 1))
    vocab: dict[str, int] = {}
    rows, cols, vals = [], [], []
    unit_words, density = [], np.zeros(n)
    for r, text in enumerate(texts):
        ws = words(text, hmm)
        unit_words.append(ws)
        density[r] = min(1.0, sum(map(len, ws)) / max(1.0, chars[r]))
        if word_weight:
            for w in ws:
                rows.append(r)
                cols.append(vocab.setdefault(w, len(vocab)))
                vals.append(word_weight * idf(w))  # duplicates add up: tf × idf
    m = sparse.hstack([_csr(rows, cols, vals, (n, len(vocab))), grams @ sparse.diags(gram_idf)]).tocsr()
    norms = np.sqrt(np.asarray(m.multiply(m).sum(axis=1))).ravel()
    norms[norms == 0] = 1.0
    tfidf = sparse.csr_matrix(sparse.diags(1 / norms) @ m)
    return Features(tfidf, grams, density, unit_words, chars)


def relevance(m: sparse.csr_matrix, method: str = "centroid", *, damping: float = 0.85, iterations: int = 30) -> np.ndarray:
    """Return a centrality score per row: cosine to the centroid, or continuous LexRank."""
    n = m.shape[0]
    if n == 0:
        return np.zeros(0)
    if method == "centroid":
        c = np.asarray(m.sum(axis=0)).ravel()
        norm = np.linalg.norm(c) or 1.0
        return m @ (c / norm)
    if method == "lexrank":
        # The similarity matrix is never formed: S x = M (Mᵀ x), O(nonzeros) per step.
        mt = m.T.tocsr()
        degree = m @ (mt @ np.ones(n)) - 1.0  # a row's similarity to itself is 1
        degree[degree <= 1e-12] = 1.0
        x = np.full(n, 1.0 / n)
        for _ in range(iterations):
            y = x / degree
            x = (1 - damping) / n + damping * (m @ (mt @ y) - y)
            x /= x.sum()
        return x * n  # LexRank's scale: 1 for an average sentence
    raise ValueError(f"unknown relevance method {method!r}")


def pick_units(
    features: Features,
    rel: np.ndarray,
    lengths: np.ndarray,
    message_of: np.ndarray,
    budget: int,
    *,
    diversity: float = 0.5,
    max_messages: int | None = None,
    max_per_message: int = 1,
    threads: np.ndarray | None = None,
    thread_similarity: float = 0.5,
    duplicate_jaccard: float = 0.6,
) -> list[int]:
    """Greedy MMR over units until `budget` characters are used; return unit indices in pick order.

    A unit's gain is (1 - diversity) × relevance − diversity × its highest cosine to a pick
    (units of one reply thread count as at least `thread_similarity` alike). Units that no longer
    fit the budget, or whose bigram Jaccard with a pick reaches `duplicate_jaccard`, drop out.
    """
    m, g = features.tfidf, features.grams
    n = m.shape[0]
    if n == 0 or budget <= 0:
        return []
    rel = rel / (rel.max() or 1.0)
    sizes = np.asarray(g.sum(axis=1)).ravel()
    redundancy = np.zeros(n)
    alive = lengths <= budget
    if not alive.any():
        alive[int(np.argmin(lengths))] = True  # one unit, cut by the formatter, beats nothing
    taken: dict[int, int] = {}
    picked: list[int] = []
    left = budget
    while alive.any():
        gain = np.where(alive, (1 - diversity) * rel - diversity * redundancy, -np.inf)
        best = int(np.argmax(gain))
        picked.append(best)
        left -= int(lengths[best])
        sim = m @ m[best].T.toarray().ravel()
        if threads is not None:
            sim = np.where(threads == threads[best], np.maximum(sim, thread_similarity), sim)
        redundancy = np.maximum(redundancy, sim)
        inter = g @ g[best].T.toarray().ravel()
        union = sizes + sizes[best] - inter
        jaccard = np.divide(inter, union, out=np.zeros(n), where=union > 0)
        alive &= (lengths <= left) & (jaccard < duplicate_jaccard)
        alive[best] = False
        k = int(message_of[best])
        taken[k] = taken.get(k, 0) + 1
        if taken[k] >= max_per_message:
            alive &= message_of != k
        if max_messages is not None and len(taken) >= max_messages:
            alive &= np.isin(message_of, list(taken))
    return picked


def excerpts(messages: Sequence[ChatMessage], chosen: Sequence[Unit]) -> list[Excerpt]:
    """Group chosen units (in unit order) by message, in chat order; sentences joined by " … "."""
    by_message: dict[int, list[Unit]] = {}
    for u in chosen:
        by_message.setdefault(u.message, []).append(u)
    out = []
    for i in sorted(by_message):
        us = by_message[i]
        whole = len(us) == 1 and us[0].whole
        out.append(Excerpt(messages[i], " … ".join(u.text for u in us), whole))
    return out
