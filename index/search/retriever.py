"""Answer questions from a built index: hybrid (BM25 + dense) ranking, relevance threshold, quotes."""

from __future__ import annotations

import dataclasses
import json
import logging
import sqlite3
import threading
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np

from index import store
from index.chinatime import NO_DAY, china_day, epoch
from index.config import RetrievalConfig
from index.errors import CorruptIndexError
from index.ingest.clean import normalize_for_search
from index.models import onnx_encoders
from index.schema import HEADLINE, Article, Headline, Hit, Passage, SearchResult
from index.search import answerability, rank
from index.search.query import PreparedQuery, prepare
from index.store import duplicates
from index.store.lexical import LexicalIndex, tokenize

RECENCY_WEIGHT = 0.15  # "最新": added to the score of a passage from the newest day
HALF_LIFE_DAYS = 7.0  # the bonus halves with every week of age
BACKGROUND_SAMPLE = 1024  # passages whose cosines to a question are its background (answerability)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Candidate:
    """One passage in a question's fused ranking, before the threshold."""

    row: int
    fused: float
    lexical: float
    cosine: float | None
    lex_rank: int = 0  # 0-based rank in the lexical leg (the number of candidates when absent)
    dense_rank: int = 0  # the same in the dense leg


class Retriever:
    """Search one published version of an index. Immutable once loaded; safe to share across threads."""

    def __init__(self, version: Path, manifest: dict, encoder=None, config: RetrievalConfig | None = None,
                 milvus=None):
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
            raise CorruptIndexError(
                f"{version}: the lexical index has {self.lexical.n_docs} rows but there are {len(self.passages)} "
                "passages; rebuild with `python -m index build --rebuild`"
            )
        self._faiss = self._delta = self._xb_delta = None
        # With [index] backend = "milvus", Milvus answers both legs (index.store.milvus.MilvusLegs); the
        # lexical index above then only gives the IDF (coverage, best sentence, BM25 self-score).
        self._milvus = milvus
        self._vector_of_row = np.full(len(self.passages), -1, dtype=np.int64)
        if milvus is None and (version / store.VECTORS).is_file():
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
                    raise CorruptIndexError(f"{version}: vector ids do not match the passages; rebuild the index")
                self._vector_of_row[ids] = offset + np.arange(len(ids))
                offset += len(ids)
            # Candidates from either leg are scored exactly against the stored float32 vectors (flat
            # or HNSW-flat alike), so an approximate search only changes which candidates come back.
            self._xb = store.stored_vectors(self._faiss)
            self._xb_delta = None if self._delta is None else store.stored_vectors(self._delta)
        self._latest = self._sorted_headlines()
        self._clusters = duplicates.Clusters.load(version)  # near-duplicate stories (index.store.duplicates)
        self._row_days: np.ndarray | None = None
        self._background_vectors = None
        if milvus is not None:
            self._background_vectors = milvus.background(BACKGROUND_SAMPLE) if self.vectors else None
        elif self.vectors:
            # A fixed sample (seeded: the same index answers the same way every time).
            positions = np.random.default_rng(0).choice(self.vectors, min(BACKGROUND_SAMPLE, self.vectors), replace=False)
            self._background_vectors = np.ascontiguousarray(self._vectors_at(np.sort(positions)))

    @classmethod
    def load(cls, index_dir: Path, encoder=None, config: RetrievalConfig | None = None, verify: bool = False,
             index_config=None) -> "Retriever":
        """Load the current version; refuse one written by another model, or damaged files.

        With an IndexConfig whose backend is "milvus", the legs are searched in its Milvus collection.

        Every file's size is checked against the manifest; verify=True also checks their SHA-256
        (reads every byte: ~1 s per 500 MB; `python -m index stats --verify`).
        """
        version = store.require_version(Path(index_dir))
        manifest = store.read_manifest(version)
        store.check_model(manifest, getattr(encoder, "name", None), getattr(encoder, "dim", None), version)
        store.verify_files(version, manifest, hashes=verify)
        milvus = None
        if index_config is not None and index_config.backend == "milvus":
            from index.store import milvus as milvus_backend

            milvus = milvus_backend.open_legs(index_config, version, getattr(encoder, "name", None),
                                              getattr(encoder, "dim", None))
        try:
            retriever = cls(version, manifest, encoder, config, milvus)
        except CorruptIndexError:
            raise
        except (sqlite3.DatabaseError, ValueError, KeyError, EOFError, OSError) as e:
            # A damaged file of the right size: report it here, not as a crash deep inside a search.
            raise CorruptIndexError(
                f"{version}: an index file cannot be read ({type(e).__name__}: {str(e)[:200]}); "
                "check it with `python -m index stats --verify`, rebuild with `python -m index build --rebuild`"
            ) from None
        counts = manifest.get("counts", {})
        if counts.get("passages", len(retriever.passages)) != len(retriever.passages) or (
            counts.get("vectors", retriever.vectors) != retriever.vectors
        ):
            retriever.close()
            raise CorruptIndexError(
                f"{version}: the manifest counts {counts.get('passages')} passages and {counts.get('vectors')} "
                f"vectors, the files hold {len(retriever.passages)} and {retriever.vectors}; "
                "rebuild with `python -m index build --rebuild`"
            )
        return retriever

    @property
    def clusters(self) -> "duplicates.Clusters":
        """This version's near-duplicate stories (index.store.duplicates): which articles are one story."""
        return self._clusters

    def close(self) -> None:
        """Release the database handle."""
        self._db.close()

    # --- ranking ---------------------------------------------------------------------------------

    @property
    def vectors(self) -> int:
        """How many passages have a vector."""
        if self._milvus is not None:
            return int(self.manifest.get("counts", {}).get("vectors", 0))
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
        """"flat" (exact) or "hnsw" (approximate), "milvus", None without vectors."""
        if self._milvus is not None:
            return "milvus"
        return None if self._faiss is None else store.vector_index_kind(self._faiss)

    def legs(self, query: PreparedQuery | str, n: int, lexical: bool = True, dense: bool = True,
             within: np.ndarray | None = None, prefer: np.ndarray | None = None, qvec: np.ndarray | None = None):
        """Candidates from each leg, merged: (rows, BM25 scores, cosines, has-vector mask).

        `within` (a boolean mask over rows) restricts both legs before their top n are taken;
        `prefer` adds each leg's top n inside that mask to the unrestricted candidates.
        """
        pq = prepare(query) if isinstance(query, str) else query
        if self._milvus is not None:
            if dense and qvec is None:
                qvec = self.query_vector(pq)
            return self._milvus.legs(pq, n, lexical, qvec if dense else None, within, prefer, self.row_days)
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
        if dense and qvec is None:
            qvec = self.query_vector(pq)
        if not dense:
            qvec = None
        if qvec is not None:
            if within is None:
                for index in (self._faiss, self._delta):
                    if index is not None:
                        _, ids = _search_one(index, qvec, min(n, int(index.ntotal)))
                        cand.update(dict.fromkeys(int(i) for i in ids[0] if i >= 0))
            for mask in (within, prefer):
                if mask is not None and mask.any():
                    # A restriction (a date range) is usually small: score its vectors exactly.
                    inside = np.flatnonzero(mask)
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

    def query_vector(self, pq: PreparedQuery) -> np.ndarray | None:
        """The question's embedding, or None without an encoder, vectors or text."""
        if self.encoder is None or self.vectors == 0 or pq.empty:
            return None
        # The passages are stored in Simplified script; the prepared text is folded the same way.
        return self.encoder.encode_queries([pq.text])[0].astype(np.float32)

    def rank(self, query: PreparedQuery | str, n: int | None = None, lexical: bool = True, dense: bool = True,
             dense_weight: float | None = None, within: np.ndarray | None = None,
             prefer: np.ndarray | None = None, qvec: np.ndarray | None = None) -> list[Candidate]:
        """Fused ranking of the best passages for a question (no threshold): lexical, dense or both legs."""
        n = n or self.config.candidates
        pq = prepare(query) if isinstance(query, str) else query
        rows, lex, cos, has = self.legs(pq, n, lexical, dense, within, prefer, qvec)
        if not len(rows):
            return []
        weight = self.config.dense_weight if dense_weight is None else dense_weight
        fused = rank.fuse(lex, cos, has, weight if lexical else 1.0)
        lex_rank = answerability.leg_ranks(lex, lex > 0)
        dense_rank = answerability.leg_ranks(cos, has)
        order = np.argsort(-fused, kind="stable")[:n]
        return [
            Candidate(int(rows[i]), float(fused[i]), float(lex[i]), float(cos[i]) if has[i] else None,
                      int(lex_rank[i]), int(dense_rank[i]))
            for i in order
        ]

    def search(self, query: str, k: int = 3, now: datetime | None = None) -> SearchResult:
        """The k passages that best answer a question, each with its best sentence, and a verdict.

        With `now` (the reference time), the question's time words count: a publication window
        ("昨天", "上周") restricts the passages, and when nothing in it answers, the nearest passages
        outside it are given with ``outside_range`` set; an event date ("2019年", "2月9日") raises
        passages published then or after, or mentioning it, but never restricts; "最新" prefers the
        newest. ``confident`` is False when the best passage is only likely to answer (a hedge).
        Passages embedded meanwhile in this process wait for it (onnx_encoders.QUESTIONS).
        """
        with onnx_encoders.QUESTIONS.asking():
            return self._search(query, k, now)

    def _search(self, query: str, k: int, now: datetime | None) -> SearchResult:
        pq = prepare(query, now)
        if pq.empty:
            return SearchResult(pq.question, [], False, self._latest_unique(3))
        qvec = self.query_vector(pq)
        tq = pq.time
        if tq is not None and tq.window is not None:
            window = (tq.window[0].isoformat(), tq.window[1].isoformat())
            mask = self._published_between(*tq.window)
            inside = self._answer(pq, self.rank(pq, within=mask, qvec=qvec) if mask.any() else [], k, qvec)
            if inside.found:
                return dataclasses.replace(inside, date_range=window)
            outside = self._answer(pq, self.rank(pq, qvec=qvec), k, qvec)
            if outside.found:
                return dataclasses.replace(outside, date_range=window, outside_range=True)
            return SearchResult(pq.question, [], False, self._headlines_between(*tq.window, 3) or
                                outside.nearest_headlines, date_range=window)
        return self._answer(pq, self._ranked(pq, qvec), k, qvec, prefer_recent=tq is not None and tq.recent)

    def _ranked(self, pq: PreparedQuery, qvec: np.ndarray | None) -> list[Candidate]:
        """The fused ranking, with the question's event date weighed in (no publication window)."""
        tq = pq.time
        if tq is None or tq.event is None:
            return self.rank(pq, qvec=qvec)
        start, end = tq.event
        prefer = self._published_between(start, end + timedelta(days=self.config.date_after_days))
        return self._weigh_dates(self.rank(pq, prefer=prefer, qvec=qvec), pq)

    def _answer(self, pq: PreparedQuery, candidates: list[Candidate], k: int, qvec: np.ndarray | None,
                prefer_recent: bool = False) -> SearchResult:
        """Judge the first ranked candidates; those likely to answer become hits, in rank order.

        The best verdict among them is the question's: any passage above the answer line makes a
        confident answer; only hedged ones, an answer under a hedge; none, "not found".
        """
        background = self._background(qvec)
        self_score = answerability.bm25_self_score(Counter(pq.tokens), self.lexical.idf, self.lexical.k1) or 1.0
        model = self.config.answer_model()
        hits: list[Hit] = []
        first_of: dict[str, str] = {}
        confident = False
        for c in candidates[: max(3 * k, 10)]:
            p_answer, verdict = self._judge(c, pq, background, self_score, model)
            if verdict == answerability.NONE:
                continue
            confident = confident or verdict == answerability.ANSWER
            if len(hits) == k:
                continue  # full, but a later passage may still make the answer confident
            p = self.passages[c.row]
            story = self._clusters.key(p.article_id)
            if story is not None and first_of.setdefault(story, p.article_id) != p.article_id:
                continue  # a copy of a story already answered must not use up the k answers
            best = rank.best_sentence(p.text, pq.words, tokenize, self.lexical.idf)
            hits.append(Hit(len(hits) + 1, p_answer, p, best, c.lexical, c.cosine))
        hits = rank.drop_redundant_headlines(hits)
        if not hits:
            return SearchResult(pq.question, [], False, self._nearest_headlines(candidates, 3))
        if prefer_recent:
            hits = self._newest_first(hits)
        hits = duplicates.collapse_hits(hits, self._clusters, self._sources)
        return SearchResult(pq.question, hits, True, confident=confident)

    def _judge(self, c: Candidate, pq: PreparedQuery, background: tuple[float, float] | None,
               self_score: float, model: answerability.AnswerModel) -> tuple[float, str]:
        """This candidate's probability of answering, and the verdict it gets."""
        evidence = self._evidence(c, pq, background, self_score)
        if evidence is None:
            # Not embedded yet: how much of the question it covers is all there is to go on.
            cover = rank.coverage(pq.words, self.tokens_of(c.row), self.lexical.idf)
            return cover, answerability.ANSWER if cover >= self.config.min_score_lexical else answerability.NONE
        p = model.probability(evidence)
        return p, model.verdict(p)

    def _evidence(self, c: Candidate, pq: PreparedQuery, background: tuple[float, float] | None,
                  self_score: float) -> answerability.Evidence | None:
        """The answerability features of one candidate (None without a vector)."""
        if c.cosine is None or background is None:
            return None
        n = self.config.candidates
        tokens = self.tokens_of(c.row)
        return answerability.Evidence(
            cosine=c.cosine,
            cos_z=(c.cosine - background[0]) / background[1],
            coverage=rank.coverage(pq.words, tokens, self.lexical.idf),
            bm25_ratio=min(c.lexical / self_score, 2.0),
            lex_rank=answerability.rank_feature(c.lex_rank, n),
            dense_rank=answerability.rank_feature(c.dense_rank, n),
            numbers=answerability.number_coverage(pq.tokens, tokens),
        )

    def explain(self, question: str, n: int = 10, now: datetime | None = None):
        """The first n candidates of the ranking `search` judges, with their features (for calibration).

        Event dates weigh in as in `search`; a publication window is not applied.
        """
        pq = prepare(question, now)
        qvec = self.query_vector(pq)
        candidates = self._ranked(pq, qvec) if not pq.empty else []
        background = self._background(qvec)
        self_score = answerability.bm25_self_score(Counter(pq.tokens), self.lexical.idf, self.lexical.k1) or 1.0
        return [(c, self._evidence(c, pq, background, self_score)) for c in candidates[:n]]

    def _background(self, qvec: np.ndarray | None) -> tuple[float, float] | None:
        """Mean and spread of the question's cosine to a fixed sample of the index's passages."""
        if qvec is None or self._background_vectors is None:
            return None
        cos = self._background_vectors @ qvec
        return float(cos.mean()), max(float(cos.std()), 1e-3)

    def _weigh_dates(self, candidates: list[Candidate], pq: PreparedQuery) -> list[Candidate]:
        """Re-rank by the fused score plus the question's event-date evidence (index.search.rank.date_bonus)."""
        if not candidates:
            return []
        start, end = pq.time.event
        rows = [c.row for c in candidates]
        days = self.row_days()[rows]
        with self._db_lock:
            texts = dict(self._db.execute(
                f"SELECT row, title || ' ' || text FROM passages WHERE row IN ({','.join('?' * len(rows))})", rows))
        mentions = np.array([any(m in texts.get(r, "") for m in pq.mentions) for r in rows], dtype=bool)
        bonus = rank.date_bonus(days, mentions, start.toordinal(), end.toordinal(), self.config)
        scored = [dataclasses.replace(c, fused=c.fused + float(b)) for c, b in zip(candidates, bonus)]
        return sorted(scored, key=lambda c: -c.fused)

    def _newest_first(self, hits: list[Hit]) -> list[Hit]:
        """Hits re-ordered by score plus a bonus for the newest (for "最新", "最近")."""
        days = self.row_days()
        newest = next((h.published_at for h in self._latest if h.published_at), None)
        ref = china_day(newest) if newest else None

        def boosted(hit: Hit) -> float:
            day = int(days[hit.passage.id])
            if ref is None or day == NO_DAY:
                return hit.score
            return hit.score + RECENCY_WEIGHT * 0.5 ** (max(0, ref - day) / HALF_LIFE_DAYS)

        return [dataclasses.replace(h, rank=i + 1) for i, h in enumerate(sorted(hits, key=boosted, reverse=True))]

    def row_days(self) -> np.ndarray:
        """Each passage's China date as an ordinal (NO_DAY when undated), read once per retriever."""
        if self._row_days is None:
            with self._db_lock:
                rows = self._db.execute("SELECT row, published_at FROM passages WHERE published_at IS NOT NULL").fetchall()
            days = np.full(len(self.passages), NO_DAY, dtype=np.int32)
            parsed: dict[str, int] = {}
            for row, iso in rows:
                try:
                    days[row] = parsed[iso] if iso in parsed else parsed.setdefault(iso, china_day(iso))
                except ValueError:
                    pass
            self._row_days = days  # the version is immutable, so is this
        return self._row_days

    def _published_between(self, start: date, end: date) -> np.ndarray:
        """Rows published from `start` to `end` (China dates, inclusive); undated rows are not."""
        days = self.row_days()
        return (days >= start.toordinal()) & (days <= end.toordinal())

    def _headlines_between(self, start: date, end: date, n: int) -> list[Headline]:
        """The newest headlines published in the range (for a "not found" answer)."""
        out = []
        for h in self._latest:
            if h.published_at and start.toordinal() <= china_day(h.published_at) <= end.toordinal():
                out.append(h)
                if len(out) == n:
                    break
        return out

    def tokens_of(self, row: int) -> set[str]:
        """The words a passage answers with: its own, and its article's title, which is its context."""
        with self._db_lock:
            tokens, title = self._db.execute("SELECT tokens, title FROM passages WHERE row = ?", (row,)).fetchone()
        return set(tokens.split(" ")) | set(tokenize(title))

    def _latest_unique(self, n: int) -> list[Headline]:
        return self._nearest_headlines([], n)

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
        dated = sorted((h for h in heads if h.published_at), key=lambda h: epoch(h.published_at), reverse=True)
        return dated + [h for h in heads if not h.published_at]

    def latest(self, n: int = 10, keyword: str | None = None) -> list[Headline]:
        """The newest headlines, newest first (undated last), optionally only those matching a keyword."""
        heads = self._latest
        if keyword:
            kw = normalize_for_search(keyword).strip()
            heads = [h for h in heads if kw in normalize_for_search(h.title) or (h.tag and kw in normalize_for_search(h.tag))]
        return duplicates.collapse_headlines(heads, self._clusters, self._sources, max(n, 0))

    def _sources(self, article_ids) -> list[str]:
        return duplicates.sources_of(self._db, self._db_lock, article_ids)

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
        result = self.search(text, k=3 * n)
        if not result.confident:
            return []  # a discussion the index only may be about: no headlines rather than unrelated ones
        for hit in result.hits:
            if hit.passage.title not in seen:
                seen.add(hit.passage.title)
                out.append(self._headline(hit.passage))
        return out[:n]

    def stats(self) -> dict:
        """Figures for /start and /stats."""
        counts = self.manifest.get("counts", {})
        # Every dated passage shares its date with a headline passage: the sorted headlines hold the range.
        dates = [h.published_at for h in self._latest if h.published_at]
        epochs = [epoch(d) for d in dates]
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
