"""Answer questions from a built index: hybrid (BM25 + dense) ranking, relevance threshold, quotes."""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

from . import dedupe, rank, store
from .clean import normalize_for_search
from .config import RetrievalConfig
from .lexical import LexicalIndex, tokenize
from .models import HEADLINE, Article, Headline, Hit, Passage, SearchResult

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Candidate:
    """One passage in a question's fused ranking, before the threshold."""

    row: int
    fused: float
    lexical: float
    cosine: float | None


class Retriever:
    """Search one published version of an index. Immutable once loaded; safe to share across threads."""

    def __init__(self, version: Path, manifest: dict, encoder=None, config: RetrievalConfig | None = None):
        self.version = version
        self.manifest = manifest
        self.encoder = encoder
        self.config = config or RetrievalConfig()
        self._db = store.open_db(version / store.DB)
        self._db_lock = threading.Lock()
        # Passages stay in SQLite, read when a hit is shown: a large index costs no start-up time or memory.
        self.passages = _Passages(self._db, self._db_lock)
        # Memory-mapped: the arrays are paged in from the file as searches touch them.
        self.lexical = LexicalIndex.load(version / store.LEXICAL, mmap=True)
        if self.lexical.n_docs != len(self.passages):
            raise store.CorruptIndexError(
                f"{version}: the lexical index has {self.lexical.n_docs} rows but there are {len(self.passages)} "
                "passages; rebuild with `python -m index build --rebuild`"
            )
        self._faiss = self._delta = self._xb_delta = None
        self._vector_of_row = np.full(len(self.passages), -1, dtype=np.int64)
        if (version / store.VECTORS).is_file():
            import faiss

            # The main index and (beside an HNSW one) the flat delta of vectors added since; a row's
            # position counts through both, main first.
            self._faiss = store.read_vectors(version / store.VECTORS, mmap=True)
            if (version / store.VECTORS_DELTA).is_file():
                self._delta = store.read_vectors(version / store.VECTORS_DELTA, mmap=True)
            offset = 0
            for index in (self._faiss, self._delta):
                if index is None:
                    continue
                ids = faiss.vector_to_array(index.id_map)
                if len(ids) and (ids.max() >= len(self.passages) or ids.min() < 0):
                    raise store.CorruptIndexError(f"{version}: vector ids do not match the passages; rebuild the index")
                self._vector_of_row[ids] = offset + np.arange(len(ids))
                offset += len(ids)
            # Candidates from either leg are scored exactly against the stored float32 vectors (flat
            # or HNSW-flat alike), so an approximate search only changes which candidates come back.
            self._xb = store.stored_vectors(self._faiss)
            self._xb_delta = None if self._delta is None else store.stored_vectors(self._delta)
        self._latest = self._sorted_headlines()
        self._clusters = dedupe.Clusters.load(version)  # near-duplicate stories (index.dedupe)

    @classmethod
    def load(cls, index_dir: Path, encoder=None, config: RetrievalConfig | None = None, verify: bool = False) -> "Retriever":
        """Load the current version; refuse one written by another model, or damaged files.

        Every file's size is checked against the manifest; verify=True also checks their SHA-256
        (reads every byte: ~1 s per 500 MB; `python -m index stats --verify`).
        """
        version = store.require_version(Path(index_dir))
        manifest = store.read_manifest(version)
        store.check_model(manifest, getattr(encoder, "name", None), getattr(encoder, "dim", None), version)
        store.verify_files(version, manifest, hashes=verify)
        try:
            retriever = cls(version, manifest, encoder, config)
        except store.CorruptIndexError:
            raise
        except (sqlite3.DatabaseError, ValueError, KeyError, EOFError, OSError) as e:
            # A damaged file of the right size: report it here, not as a crash deep inside a search.
            raise store.CorruptIndexError(
                f"{version}: an index file cannot be read ({type(e).__name__}: {str(e)[:200]}); "
                "check it with `python -m index stats --verify`, rebuild with `python -m index build --rebuild`"
            ) from None
        counts = manifest.get("counts", {})
        if counts.get("passages", len(retriever.passages)) != len(retriever.passages) or (
            counts.get("vectors", retriever.vectors) != retriever.vectors
        ):
            retriever.close()
            raise store.CorruptIndexError(
                f"{version}: the manifest counts {counts.get('passages')} passages and {counts.get('vectors')} "
                f"vectors, the files hold {len(retriever.passages)} and {retriever.vectors}; "
                "rebuild with `python -m index build --rebuild`"
            )
        return retriever

    def close(self) -> None:
        """Release the database handle."""
        self._db.close()

    # --- ranking ---------------------------------------------------------------------------------

    @property
    def vectors(self) -> int:
        """How many passages have a vector."""
        return sum(int(i.ntotal) for i in (self._faiss, self._delta) if i is not None)

    def _vectors_at(self, positions: np.ndarray) -> np.ndarray:
        """The stored vectors at these positions (main index, then delta)."""
        if self._xb_delta is None:
            return self._xb[positions]
        main = positions < len(self._xb)
        out = np.empty((len(positions), self._xb.shape[1]), dtype=np.float32)
        out[main] = self._xb[positions[main]]
        out[~main] = self._xb_delta[positions[~main] - len(self._xb)]
        return out

    @property
    def vector_index(self) -> str | None:
        """"flat" (exact) or "hnsw" (approximate), None without vectors."""
        return None if self._faiss is None else store.vector_index_kind(self._faiss)

    def legs(self, query: str, n: int, lexical: bool = True, dense: bool = True, within: np.ndarray | None = None):
        """Candidates from each leg, merged: (rows, BM25 scores, cosines, has-vector mask).

        `within` (a boolean mask over rows) restricts both legs before their top n are taken.
        """
        tokens = tokenize(query) if lexical else []
        cand: dict[int, None] = {}
        lex_all = None
        if tokens:
            lex_all = self.lexical.scores(tokens)
            if within is not None:
                lex_all = np.where(within, lex_all, 0.0).astype(np.float32)
            rows, _ = self.lexical.top(tokens, n, lex_all)
            cand.update(dict.fromkeys(rows.tolist()))
        qvec = None
        if dense and self.encoder is not None and self.vectors > 0 and normalize_for_search(query).strip():
            # The passages are stored in Simplified script; folding the question the same way makes a
            # Traditional question land on the same vectors.
            qvec = self.encoder.encode_queries([normalize_for_search(query)])[0].astype(np.float32)
            if within is None:
                for index in (self._faiss, self._delta):
                    if index is not None:
                        _, ids = _search_one(index, qvec, min(n, int(index.ntotal)))
                        cand.update(dict.fromkeys(int(i) for i in ids[0] if i >= 0))
            else:
                # A restriction (a date range) is usually small: score its vectors exactly.
                inside = np.flatnonzero(within)
                inside = inside[self._vector_of_row[inside] >= 0]
                cos_inside = self._vectors_at(self._vector_of_row[inside]) @ qvec
                cand.update(dict.fromkeys(inside[np.argsort(-cos_inside, kind="stable")[:n]].tolist()))
        rows = np.fromiter(cand, dtype=np.int64, count=len(cand))
        lex = lex_all[rows] if lex_all is not None else np.zeros(len(rows), dtype=np.float32)
        pos = self._vector_of_row[rows]
        has = (pos >= 0) if qvec is not None else np.zeros(len(rows), dtype=bool)
        cos = np.zeros(len(rows), dtype=np.float32)
        if has.any():
            cos[has] = self._vectors_at(pos[has]) @ qvec
        return rows, lex, cos, has

    def rank(self, query: str, n: int | None = None, lexical: bool = True, dense: bool = True,
             dense_weight: float | None = None, within: np.ndarray | None = None) -> list[Candidate]:
        """Fused ranking of the best passages for a question (no threshold): lexical, dense or both legs."""
        n = n or self.config.candidates
        rows, lex, cos, has = self.legs(query, n, lexical, dense, within)
        if not len(rows):
            return []
        weight = self.config.dense_weight if dense_weight is None else dense_weight
        fused = rank.fuse(lex, cos, has, weight if lexical else 1.0)
        order = np.argsort(-fused, kind="stable")[:n]
        return [
            Candidate(int(rows[i]), float(fused[i]), float(lex[i]), float(cos[i]) if has[i] else None)
            for i in order
        ]

    def search(self, query: str, k: int = 3, now: datetime | None = None) -> SearchResult:
        """The k most relevant passages above the relevance threshold, each with its best sentence.

        With `now` (the reference time), dates and relative times in the question ("昨天", "2月9日",
        "最新") restrict or order the passages (index.timesearch); the result's date_range says which.
        """
        if now is not None:
            from .timesearch import search_at

            return search_at(self, query.strip(), k, now)
        query = query.strip()
        candidates = self.rank(query) if normalize_for_search(query).strip() else []
        hits = self.hits(candidates, query, k)
        if hits:
            return SearchResult(query, dedupe.collapse_hits(hits, self._clusters, self._sources), True)
        return SearchResult(query, [], False, self._nearest_headlines(candidates, 3))

    def hits(self, candidates: list[Candidate], question: str, k: int) -> list[Hit]:
        """The first k ranked candidates above the relevance threshold, with their best sentences.

        Copies of a story already answered (index.dedupe clusters) are passed over, so they do not
        use up the k answers; passages of the same article still count.
        """
        words = rank.content_words(tokenize(question))
        hits: list[Hit] = []
        first_of: dict[str, str] = {}
        for c in candidates[: max(3 * k, 10)]:
            score = self._relevance(c, words)
            threshold = self.config.min_score if c.cosine is not None else self.config.min_score_lexical
            if score < threshold:
                continue
            p = self.passages[c.row]
            story = self._clusters.key(p.article_id)
            if story is not None and first_of.setdefault(story, p.article_id) != p.article_id:
                continue
            best = rank.best_sentence(p.text, words, tokenize, self.lexical.idf)
            hits.append(Hit(len(hits) + 1, score, p, best, c.lexical, c.cosine))
            if len(hits) == k:
                break
        return hits

    def _relevance(self, c: Candidate, words: list[str]) -> float:
        cover = rank.coverage(words, self._tokens(c.row), self.lexical.idf)
        return rank.relevance(cover, c.cosine, self.config.relevance_dense_weight)

    def _tokens(self, row: int) -> set[str]:
        """The words a passage answers with: its own, and its article's title, which is its context."""
        with self._db_lock:
            tokens, title = self._db.execute("SELECT tokens, title FROM passages WHERE row = ?", (row,)).fetchone()
        return set(tokens.split(" ")) | set(tokenize(title))

    def _nearest_headlines(self, candidates: list[Candidate], n: int) -> list[Headline]:
        """Headlines closest to the question, for a "not found" answer; the newest when nothing is close."""
        out: list[Headline] = []
        seen: set[str] = set()
        for c in candidates:
            p = self.passages[c.row]
            if p.title not in seen:
                seen.add(p.title)
                out.append(self._headline(p))
            if len(out) == n:
                return out
        for h in self._latest:
            if h.title not in seen:
                seen.add(h.title)
                out.append(h)
            if len(out) == n:
                break
        return out

    # --- headlines and articles ------------------------------------------------------------------

    @staticmethod
    def _headline(p: Passage) -> Headline:
        return Headline(p.title, p.published_at, p.tag, p.source, p.url, p.article_id)

    def _sorted_headlines(self) -> list[Headline]:
        with self._db_lock:
            heads = [self._headline(p) for p in self.passages.where("kind = ?", (HEADLINE,))]
        # Newest first; undated ones after every dated one, in page order.
        dated = sorted((h for h in heads if h.published_at), key=lambda h: _epoch(h.published_at), reverse=True)
        return dated + [h for h in heads if not h.published_at]

    def latest(self, n: int = 10, keyword: str | None = None) -> list[Headline]:
        """The newest headlines, newest first (undated last), optionally only those matching a keyword."""
        heads = self._latest
        if keyword:
            kw = normalize_for_search(keyword).strip()
            heads = [h for h in heads if kw in normalize_for_search(h.title) or (h.tag and kw in normalize_for_search(h.tag))]
        return dedupe.collapse_headlines(heads, self._clusters, self._sources, max(n, 0))

    def _sources(self, article_ids) -> list[str]:
        return dedupe.sources_of(self._db, self._db_lock, article_ids)

    def article(self, article_id: str) -> Article | None:
        """The whole cleaned article."""
        with self._db_lock:
            r = self._db.execute("SELECT * FROM articles WHERE id = ?", (article_id,)).fetchone()
        if r is None:
            return None
        return Article(
            id=r["id"], title=r["title"], paragraphs=json.loads(r["paragraphs"]), published_at=r["published_at"],
            source=r["source"], url=r["url"], meta=json.loads(r["meta"]), origin=r["origin"] or "",
        )

    def related(self, text: str, n: int = 3) -> list[Headline]:
        """Headlines of indexed articles that a piece of text (a discussion, say) is about."""
        out, seen = [], set()
        for hit in self.search(text, k=3 * n).hits:
            if hit.passage.title not in seen:
                seen.add(hit.passage.title)
                out.append(self._headline(hit.passage))
        return out[:n]

    def stats(self) -> dict:
        """Figures for /start and /stats."""
        counts = self.manifest.get("counts", {})
        # Every dated passage shares its date with a headline passage: the sorted headlines hold the range.
        dates = [h.published_at for h in self._latest if h.published_at]
        epochs = [_epoch(d) for d in dates]
        return {
            "articles": counts.get("articles", 0),
            "passages": counts.get("passages", len(self.passages)),
            "headlines": counts.get("headlines", 0),
            "vectors": self.vectors,
            "date_min": dates[int(np.argmin(epochs))] if dates else None,
            "date_max": dates[int(np.argmax(epochs))] if dates else None,
            "model": self.manifest.get("model"),
            "version": self.version.name,
        }


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


_PASSAGE_QUERY = "SELECT row, article_id, position, kind, text, title, published_at, source, url, tag FROM passages"


def _passage(r) -> Passage:
    return Passage(
        id=r["row"], article_id=r["article_id"], position=r["position"], kind=r["kind"], text=r["text"],
        title=r["title"], published_at=r["published_at"], source=r["source"], url=r["url"], tag=r["tag"],
    )


class _Passages:
    """The passages of a version by row, read from SQLite on demand (a read-only sequence)."""

    def __init__(self, db, lock: threading.Lock):
        self._db, self._lock = db, lock
        (self._n,) = db.execute("SELECT COUNT(*) FROM passages").fetchone()

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, row: int) -> Passage:
        row = int(row)
        if row < 0:
            row += self._n
        if not 0 <= row < self._n:
            raise IndexError(row)
        with self._lock:
            r = self._db.execute(f"{_PASSAGE_QUERY} WHERE row = ?", (row,)).fetchone()
        return _passage(r)

    def __iter__(self):
        return self.where("1", ())

    def where(self, condition: str, args: tuple):
        """Passages matching an SQL condition, in row order (the caller holds the lock if it shares the handle)."""
        return (_passage(r) for r in self._db.execute(f"{_PASSAGE_QUERY} WHERE {condition} ORDER BY row", args))


def _epoch(iso: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(iso).timestamp()
