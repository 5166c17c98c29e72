"""The two legs of a search (BM25 and dense) behind one protocol: the version folder's, or Milvus's.

A leg backend takes a prepared question and gives candidates, each scored on both legs; it knows
nothing of fusion, answerability or dates. Restrictions come down as boolean masks over rows.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from index.search.query import PreparedQuery
from index.store.lexical import LexicalIndex
from index.store.stored import VersionVectors

# rows, BM25 scores, cosines, has-vector mask: one entry per candidate, rows unique.
Candidates = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


class Legs(Protocol):
    """Where the two legs are searched (LocalLegs; index.store.milvus.MilvusLegs)."""

    vector_index: str | None  # "flat", "hnsw", "milvus"; None without vectors
    vectors: int  # how many passages have a vector

    def candidates(self, pq: PreparedQuery, n: int, qvec: np.ndarray | None, within: np.ndarray | None = None,
                   prefer: np.ndarray | None = None, lexical: bool = True) -> Candidates:
        """Each leg's top n, merged and scored on both legs.

        `within` (a boolean mask over rows) restricts both legs before their top n are taken;
        `prefer` adds each leg's top n inside that mask to the unrestricted candidates. Without
        `qvec` the dense leg is not searched; with lexical=False the BM25 leg is not.
        """
        ...

    def background(self, n: int) -> np.ndarray | None:
        """The vectors of a fixed sample of n passages (None without vectors)."""
        ...


class LocalLegs:
    """The legs in the version folder: BM25 segments, and FAISS (flat or HNSW, plus the flat delta)."""

    def __init__(self, lexical: LexicalIndex, vectors: VersionVectors | None):
        self.lexical, self._vectors = lexical, vectors
        self.vector_index = None if vectors is None else vectors.kind
        self.vectors = 0 if vectors is None else vectors.count

    def background(self, n: int) -> np.ndarray | None:
        return None if self._vectors is None else self._vectors.sample(n)

    def candidates(self, pq: PreparedQuery, n: int, qvec: np.ndarray | None, within: np.ndarray | None = None,
                   prefer: np.ndarray | None = None, lexical: bool = True) -> Candidates:
        tokens = pq.tokens if lexical else []
        cand: dict[int, None] = {}
        lex_all = None
        if tokens:
            lex_all = self.lexical.scores(tokens)
            if within is not None:
                lex_all = np.where(within, lex_all, 0.0).astype(np.float32)
            rows, _ = self.lexical.top(tokens, n, lex_all)
            cand.update(dict.fromkeys(rows.tolist()))
            if prefer is not None and prefer.any():
                rows, _ = self.lexical.top(tokens, n, np.where(prefer, lex_all, 0.0).astype(np.float32))
                cand.update(dict.fromkeys(rows.tolist()))
        vectors = self._vectors if qvec is not None else None
        if vectors is not None:
            if within is None:
                for index in (vectors.main, vectors.delta):
                    if index is not None:
                        _, ids = _search_one(index, qvec, min(n, int(index.ntotal)))
                        cand.update(dict.fromkeys(int(i) for i in ids[0] if i >= 0))
            for mask in (within, prefer):
                if mask is not None and mask.any():
                    # A restriction (a date range) is usually small: score its vectors exactly.
                    inside = np.flatnonzero(mask)
                    inside = inside[vectors.position_of_row[inside] >= 0]
                    cos_inside = vectors.at(vectors.position_of_row[inside]) @ qvec
                    cand.update(dict.fromkeys(inside[np.argsort(-cos_inside, kind="stable")[:n]].tolist()))
        rows = np.fromiter(cand, dtype=np.int64, count=len(cand))
        lex = lex_all[rows] if lex_all is not None else np.zeros(len(rows), dtype=np.float32)
        cos = np.zeros(len(rows), dtype=np.float32)
        if vectors is None:
            return rows, lex, cos, np.zeros(len(rows), dtype=bool)
        pos = vectors.position_of_row[rows]
        has = pos >= 0
        if has.any():
            cos[has] = vectors.at(pos[has]) @ qvec
        return rows, lex, cos, has


def _search_one(index, qvec: np.ndarray, k: int):
    """Search one query on one OpenMP thread (this thread only: the setting is per calling thread).

    One query gains nothing from a second thread, and on a busy machine the thread team waits for a
    core at every parallel region: single-query HNSW went from ~0.5 ms to ~16 ms with both cores busy.
    """
    import faiss

    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        return index.search(qvec[None, :], k)
    finally:
        faiss.omp_set_num_threads(threads)
