"""Answer questions from a built index: the stored version, its legs and the judge, wired together.

A question goes prepare → legs (index.search.legs) → fused ranking (index.search.rank) → the
judge (index.search.judge) → hits with their best sentence, near-duplicates collapsed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np

from index.chinatime import china_day, epoch
from index.ingest.clean import normalize_for_search
from index.config import RetrievalConfig
from index.schema import Article, Headline, Hit, SearchResult
from index.search import calibration, headlines, rank
from index.search.answerability import ANSWER, NONE
from index.search.judge import BACKGROUND_SAMPLE, Judge, judged
from index.search.legs import Candidates, Legs, LocalLegs
from index.search.query import PreparedQuery, prepare
from index.search.rank import Candidate
from index.store import duplicates
from index.store.lexical import tokenize
from index.store.stored import StoredVersion, VersionVectors, headline, reading


# How far back from the newest article a topic's newest headlines are looked for, in turn (days).
NEWEST_SPANS = (3, 10, 30, 100, 365)
# A span's vectors are scored exactly (LocalLegs): past this many rows (~30 MB of float32 vectors),
# the span is skipped for the search of the whole index (approximate on a large index).
MAX_SPAN_ROWS = 20_000


# What a passage of an article the conversation was about adds to its fused score (bench/followup_eval.py):
# a follow-up's answer is most likely in the article just quoted, but this is evidence, never a filter.
PREFERRED_ARTICLE_BONUS = 0.1


class Retriever:
    """Search one published version of an index. Immutable once loaded; safe to share across threads."""

    def __init__(self, stored: StoredVersion, legs: Legs, judge: Judge, encoder=None,
                 config: RetrievalConfig | None = None):
        self.stored, self._legs, self.judge = stored, legs, judge
        self.encoder = encoder
        self.config = config or RetrievalConfig()

    @classmethod
    def load(cls, index_dir: Path, encoder=None, config: RetrievalConfig | None = None, verify: bool = False,
             index_config=None) -> "Retriever":
        """Load the current version; refuse one written by another model, or damaged files.

        With an IndexConfig whose backend is "milvus", the legs are searched in its Milvus collection
        (index.store.milvus.MilvusLegs); the version's BM25 then only gives the IDF (coverage, best
        sentence, BM25 self-score). verify=True checks every file's SHA-256 (StoredVersion.open).
        """
        config = config or RetrievalConfig()
        model, dim = getattr(encoder, "name", None), getattr(encoder, "dim", None)
        milvus = index_config is not None and index_config.backend == "milvus"
        stored = StoredVersion.open(Path(index_dir), model, dim, verify, vectors=not milvus)
        try:
            if milvus:
                from index.store import milvus as milvus_backend

                legs: Legs = milvus_backend.open_legs(index_config, stored, model, dim)
            else:
                legs = LocalLegs(stored.lexical, stored.vectors)
            with reading(stored.path):
                vectors = stored.vectors or (VersionVectors.open(stored.path, len(stored.passages)) if milvus else None)
                baseline = calibration.calibrate(encoder, vectors, len(stored.passages))
                judge = Judge(config, stored.lexical, stored.tokens_of, legs.background(BACKGROUND_SAMPLE),
                              baseline, stored.is_headline)
        except BaseException:
            stored.close()
            raise
        return cls(stored, legs, judge, encoder, config)

    def close(self) -> None:
        """Release the database handle."""
        self.stored.close()

    # --- what the version holds ------------------------------------------------------------------

    @property
    def version(self) -> Path:
        return self.stored.path

    @property
    def manifest(self) -> dict:
        return self.stored.manifest

    @property
    def passages(self):
        """The version's passages by row (index.store.stored.Passages)."""
        return self.stored.passages

    @property
    def lexical(self):
        return self.stored.lexical

    @property
    def clusters(self) -> "duplicates.Clusters":
        """This version's near-duplicate stories (index.store.duplicates): which articles are one story."""
        return self.stored.clusters

    @property
    def vectors(self) -> int:
        """How many passages have a vector."""
        return self._legs.vectors

    @property
    def vector_index(self) -> str | None:
        """"flat" (exact) or "hnsw" (approximate), "milvus", None without vectors."""
        return self._legs.vector_index

    # --- ranking ---------------------------------------------------------------------------------

    def query_vector(self, pq: PreparedQuery) -> np.ndarray | None:
        """The question's embedding, or None without an encoder, vectors or text."""
        if self.encoder is None or self.vectors == 0 or pq.empty:
            return None
        # The passages are stored in Simplified script; the prepared text is folded the same way.
        return self.encoder.encode_queries([pq.text])[0].astype(np.float32)

    def legs(self, query: PreparedQuery | str, n: int, lexical: bool = True, dense: bool = True,
             within: np.ndarray | None = None, prefer: np.ndarray | None = None,
             qvec: np.ndarray | None = None) -> Candidates:
        """Candidates from each leg, merged: (rows, BM25 scores, cosines, has-vector mask); see Legs.candidates."""
        pq = prepare(query) if isinstance(query, str) else query
        if dense and qvec is None:
            qvec = self.query_vector(pq)
        return self._legs.candidates(pq, n, qvec if dense else None, within, prefer, lexical=lexical)

    def rank(self, query: PreparedQuery | str, n: int | None = None, lexical: bool = True, dense: bool = True,
             dense_weight: float | None = None, within: np.ndarray | None = None,
             prefer: np.ndarray | None = None, qvec: np.ndarray | None = None) -> list[Candidate]:
        """Fused ranking of the best passages for a question (no threshold): lexical, dense or both legs."""
        n = n or self.config.candidates
        rows, lex, cos, has = self.legs(query, n, lexical, dense, within, prefer, qvec)
        if not len(rows):
            return []
        weight = self.config.dense_weight if dense_weight is None else dense_weight
        return rank.ranking(rows, lex, cos, has, weight if lexical else 1.0, n)

    def _ranked(self, pq: PreparedQuery, qvec: np.ndarray | None, articles: Collection[str] = ()) -> list[Candidate]:
        """The fused ranking, with the question's event date and preferred articles weighed in (no publication window)."""
        tq = pq.time
        mine = self._article_rows(articles) if articles else None
        if tq is None or tq.event is None:
            return self._weigh_articles(self.rank(pq, prefer=mine, qvec=qvec), mine)
        start, end = tq.event
        prefer = self.stored.published_between(start, end + timedelta(days=self.config.date_after_days))
        ranked = self._weigh_dates(self.rank(pq, prefer=prefer if mine is None else prefer | mine, qvec=qvec), pq)
        return self._weigh_articles(ranked, mine)

    def _article_rows(self, article_ids: Collection[str]) -> np.ndarray:
        """A boolean mask of the rows of these articles."""
        ids = list(article_ids)[:50]  # a conversation quotes a few articles; the cap keeps the SQL small
        mask = np.zeros(len(self.passages), dtype=bool)
        with self.stored.db_lock:
            rows = self.stored.db.execute(
                f"SELECT row FROM passages WHERE article_id IN ({','.join('?' * len(ids))})", ids).fetchall()
        mask[[r for (r,) in rows]] = True
        return mask

    @staticmethod
    def _weigh_articles(candidates: list[Candidate], mine: np.ndarray | None) -> list[Candidate]:
        """Re-rank with PREFERRED_ARTICLE_BONUS added to the passages of the preferred articles."""
        if mine is None or not mine.any():
            return candidates
        scored = [dataclasses.replace(c, fused=c.fused + PREFERRED_ARTICLE_BONUS) if mine[c.row] else c
                  for c in candidates]
        return sorted(scored, key=lambda c: -c.fused)

    def _weigh_dates(self, candidates: list[Candidate], pq: PreparedQuery) -> list[Candidate]:
        """Re-rank by the fused score plus the question's event-date evidence (index.search.rank.date_bonus)."""
        if not candidates:
            return []
        start, end = pq.time.event
        rows = [c.row for c in candidates]
        days = self.stored.row_days()[rows]
        texts = self.stored.texts_of(rows)
        mentions = np.array([any(m in texts.get(r, "") for m in pq.mentions) for r in rows], dtype=bool)
        bonus = rank.date_bonus(days, mentions, start.toordinal(), end.toordinal(), self.config)
        scored = [dataclasses.replace(c, fused=c.fused + float(b)) for c, b in zip(candidates, bonus)]
        return sorted(scored, key=lambda c: -c.fused)

    # --- answering -------------------------------------------------------------------------------

    def search(self, query: str, k: int = 3, now: datetime | None = None,
               prefer_articles: Collection[str] = ()) -> SearchResult:
        """The k passages that best answer a question, each with its best sentence, and a verdict.

        With `now` (the reference time), the question's time words count: a publication window
        ("昨天", "上周") restricts the passages, and when nothing in it answers, the nearest passages
        outside it are given with ``outside_range`` set; an event date ("2019年", "2月9日") raises
        passages published then or after, or mentioning it, but never restricts; "最新" prefers the
        newest. ``confident`` is False when the best passage is only likely to answer (a hedge).
        `prefer_articles` (a follow-up's previous answer) raises those articles' passages by
        PREFERRED_ARTICLE_BONUS, never restricts.
        """
        pq = prepare(query, now)
        if pq.empty:
            return SearchResult(pq.question, [], False, self._nearest_headlines([], 3))
        qvec = self.query_vector(pq)
        tq = pq.time
        if tq is not None and tq.window is not None:
            return self._search_window(pq, k, qvec)
        ranked = self._ranked(pq, qvec, prefer_articles)
        return self._answer(pq, ranked, k, qvec, prefer_recent=tq is not None and tq.recent)

    def _search_window(self, pq: PreparedQuery, k: int, qvec: np.ndarray | None) -> SearchResult:
        """A question with a publication window: passages inside it; if none answers, the nearest outside."""
        start, end = pq.time.window
        window = (start.isoformat(), end.isoformat())
        inside = self.stored.published_between(start, end)
        if inside.any():  # an empty window has nothing to judge
            found = self._answer(pq, self.rank(pq, within=inside, qvec=qvec), k, qvec)
            if found.found:
                return dataclasses.replace(found, date_range=window)
        outside = self._answer(pq, self.rank(pq, qvec=qvec), k, qvec)
        if outside.found:
            return dataclasses.replace(outside, date_range=window, outside_range=True)
        return SearchResult(pq.question, [], False, headlines.between(self.stored.headlines, start, end, 3) or
                            outside.nearest_headlines, date_range=window)

    def _answer(self, pq: PreparedQuery, candidates: list[Candidate], k: int, qvec: np.ndarray | None,
                prefer_recent: bool = False) -> SearchResult:
        """Judge the first ranked candidates; those likely to answer become hits, in the judge's order.

        The best verdict among them is the question's: any passage above the answer line makes a
        confident answer; only hedged ones, an answer under a hedge; none, "not found".
        """
        hits: list[Hit] = []
        first_of: dict[str, str] = {}
        confident = False
        for a in self.judge.assess(pq, candidates[: judged(k)], qvec):
            if a.verdict == NONE:
                continue
            confident = confident or a.verdict == ANSWER
            if len(hits) == k:
                continue  # full, but a later passage may still make the answer confident
            p = self.passages[a.candidate.row]
            story = self.clusters.key(p.article_id)
            if story is not None and first_of.setdefault(story, p.article_id) != p.article_id:
                continue  # a copy of a story already answered must not use up the k answers
            best = rank.best_sentence(p.text, pq.words, tokenize, self.lexical.idf)
            hits.append(Hit(len(hits) + 1, a.probability, p, best, a.candidate.lexical, a.candidate.cosine))
        hits = rank.drop_redundant_headlines(hits)
        if not hits:
            return SearchResult(pq.question, [], False, self._nearest_headlines(candidates, 3))
        if prefer_recent:
            hits = self._newest_first(hits)
        hits = duplicates.collapse_hits(hits, self.clusters, self.stored.sources)
        return SearchResult(pq.question, hits, True, confident=confident)

    def explain(self, question: str, n: int = 10, now: datetime | None = None):
        """The first n candidates of the ranking `search` judges, with all their features (for calibration).

        Event dates weigh in as in `search`; a publication window is not applied.
        """
        pq = prepare(question, now)
        qvec = self.query_vector(pq)
        candidates = self._ranked(pq, qvec) if not pq.empty else []
        return self.judge.explain(pq, candidates[:n], qvec)

    def _newest_first(self, hits: list[Hit]) -> list[Hit]:
        """Hits re-ordered by score plus a bonus for the newest (for "最新", "最近")."""
        newest = next((h.published_at for h in self.stored.headlines if h.published_at), None)
        return rank.newest_first(hits, self.stored.row_days(), china_day(newest) if newest else None)

    # --- headlines and articles ------------------------------------------------------------------

    def _nearest_headlines(self, candidates: list[Candidate], n: int) -> list[Headline]:
        """Headlines closest to the question, for a "not found" answer; the newest when nothing is close."""
        return headlines.nearest((headline(self.passages[c.row]) for c in candidates), self.stored.headlines, n)

    def latest(self, n: int = 10, keyword: str | None = None) -> list[Headline]:
        """The newest headlines, newest first (undated last), optionally only those matching a keyword."""
        heads = headlines.matching(self.stored.headlines, keyword) if keyword else self.stored.headlines
        return duplicates.collapse_headlines(heads, self.clusters, self.stored.sources, max(n, 0))

    def newest_about(self, topic: str, n: int = 10, window: tuple[date, date] | None = None) -> list[Headline]:
        """The newest headlines of articles about a topic ("疫情", "湖北"), newest first, one per story.

        "About" is the search's own verdict (``_about``): a passage the judge quotes confidently for
        the topic (so 疫情 finds 新冠肺炎 articles that never say 疫情), or one it hedges that names it. A search over the whole index would give the
        most relevant passages, from any month; so the topic is searched among the newest articles
        first (the last 3 days of the index, then 10, 30, 100, 365, then all), until n stories are
        found. With `window` (China dates) only that is searched. At most ``len(NEWEST_SPANS) + 1``
        searches of 2n answers each; a span of more than ``MAX_SPAN_ROWS`` passages is not searched
        on its own.
        """
        pq = prepare(topic)
        if pq.empty or n <= 0:
            return []
        qvec = self.query_vector(pq)
        if window is not None:
            spans: list[tuple[date, date] | None] = [window]
        else:
            newest = next((china_day(h.published_at) for h in self.stored.headlines if h.published_at), None)
            spans = [] if newest is None else [
                (date.fromordinal(newest - days + 1), date.fromordinal(newest)) for days in NEWEST_SPANS]
            spans.append(None)
        found: list[Headline] = []
        for span in spans:
            within = None if span is None else self.stored.published_between(*span)
            if within is not None and not 0 < int(within.sum()) <= MAX_SPAN_ROWS:
                continue  # empty; or so large that scoring it exactly costs more than the whole index's search
            found = self._newest_stories(found + self._about(pq, self.rank(pq, within=within, qvec=qvec), 2 * n, qvec), n)
            if len(found) >= n:
                break
        return found

    def _about(self, pq: PreparedQuery, candidates: list[Candidate], k: int, qvec: np.ndarray | None) -> list[Headline]:
        """The headlines of the judged candidates that are about the topic, in the ranking's order.

        A candidate the judge would quote confidently is; a hedged one only when its passage or title
        holds one of the topic's words (the hedge quotes a passage that shares the question's topic
        only loosely: on dxy-news, 5 of 9 hedged "疫苗" articles never name a vaccine).
        """
        out = []
        for a in self.judge.assess(pq, candidates[: judged(k)], qvec):
            if a.verdict == NONE:
                continue
            p = self.passages[a.candidate.row]
            if a.verdict == ANSWER or any(w in p.text or w in normalize_for_search(p.title) for w in pq.words):
                out.append(headline(p))  # substrings, not jieba words: 湖北 is in 湖北省
        return out

    def _newest_stories(self, heads: list[Headline], n: int) -> list[Headline]:
        """Headlines newest first (undated last), one per story and per title, at most n."""
        heads = sorted(heads, key=lambda h: -epoch(h.published_at) if h.published_at else float("inf"))
        titles: set[str] = set()
        unique = [h for h in heads if not (h.title in titles or titles.add(h.title))]  # the newest of a title
        return duplicates.collapse_headlines(unique, self.clusters, self.stored.sources, n)

    def article(self, article_id: str) -> Article | None:
        """The whole cleaned article."""
        return self.stored.article(article_id)

    def related(self, text: str, n: int = 3) -> list[Headline]:
        """Headlines of indexed articles that a piece of text (a discussion, say) is about."""
        out, seen = [], set()
        result = self.search(text, k=3 * n)
        if not result.confident:
            return []  # a discussion the index only may be about: no headlines rather than unrelated ones
        for hit in result.hits:
            if hit.passage.title not in seen:
                seen.add(hit.passage.title)
                out.append(headline(hit.passage))
        return out[:n]

    def stats(self) -> dict:
        """Figures for /start and /stats."""
        counts = self.manifest.get("counts", {})
        # Every dated passage shares its date with a headline passage: the headlines hold the range.
        dates = [h.published_at for h in self.stored.headlines if h.published_at]
        return {
            "articles": counts.get("articles", 0),
            "passages": counts.get("passages", len(self.passages)),
            "headlines": counts.get("headlines", 0),
            "vectors": self.vectors,
            "date_min": min(dates, key=epoch) if dates else None,
            "date_max": max(dates, key=epoch) if dates else None,
            "model": self.manifest.get("model"),
            "version": self.version.name,
        }
