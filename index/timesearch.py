"""Time-aware search: a question's dates restrict the passages it is answered from.

``Retriever.search(question, now=...)`` comes here. The time words are parsed against ``now``
(index.timeq) and removed from the question; then

- with a date range ("昨天", "2月9日", "上周"…), both legs rank only the passages published in
  that range (China dates, both ends included). Passages without a date are left out: nothing says
  they belong to the range. The answer's ``date_range`` says which range was searched, also when
  nothing in it answers the question (the nearest headlines then come from that range);
- with only a recency word ("最新", "最近"…), the usual answer's passages that pass the relevance
  threshold are re-ordered by relevance plus a recency bonus (``RECENCY_WEIGHT``, halved every
  ``HALF_LIFE_DAYS`` before the newest dated passage of the index; undated passages get none);
- without time words the search is the ordinary one.
"""

from __future__ import annotations

import dataclasses
from datetime import date, datetime

import numpy as np

from . import dedupe
from .clean import normalize_for_search
from .models import Hit, SearchResult
from .timeq import CHINA_TZ, TimeQuery, parse_time_query

RECENCY_WEIGHT = 0.15  # added to the relevance of a passage from the newest day
HALF_LIFE_DAYS = 7.0  # the bonus halves with every week of age
_NO_DAY = np.iinfo(np.int32).min


def china_day(iso: str) -> int:
    """The proleptic ordinal of the China date of an ISO timestamp."""
    dt = datetime.fromisoformat(iso)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=CHINA_TZ)
    return dt.astimezone(CHINA_TZ).date().toordinal()


def row_days(retriever) -> np.ndarray:
    """Each passage's China date as an ordinal (``_NO_DAY`` when undated), read once per retriever."""
    days = getattr(retriever, "_row_days", None)
    if days is None:
        with retriever._db_lock:
            rows = retriever._db.execute("SELECT row, published_at FROM passages WHERE published_at IS NOT NULL").fetchall()
        days = np.full(len(retriever.passages), _NO_DAY, dtype=np.int32)
        parsed: dict[str, int] = {}
        for row, iso in rows:
            try:
                days[row] = parsed[iso] if iso in parsed else parsed.setdefault(iso, china_day(iso))
            except ValueError:
                pass
        retriever._row_days = days  # the version is immutable, so is this
    return days


def search_at(retriever, query: str, k: int, now: datetime) -> SearchResult:
    """Answer `query` as of `now`: see the module docstring."""
    tq = parse_time_query(query, now)
    if not tq.has_time:
        return retriever.search(query, k)
    if tq.date_range is None:
        return _prefer_recent(retriever, query, tq, k)
    days = row_days(retriever)
    mask = (days >= tq.start.toordinal()) & (days <= tq.end.toordinal())
    text = tq.text
    candidates = _rank_within(retriever, text, mask) if normalize_for_search(text).strip() else []
    hits = retriever.hits(candidates, text, k)
    if hits:
        hits = dedupe.collapse_hits(hits, retriever._clusters, retriever._sources)
        return SearchResult(query, hits, True, date_range=tq.date_range)
    return SearchResult(query, [], False, _headlines_within(retriever, tq, 3), date_range=tq.date_range)


def _rank_within(retriever, text: str, mask: np.ndarray):
    """The fused ranking of the passages where `mask` is set (both legs restricted before taking the top)."""
    if not mask.any():
        return []
    return retriever.rank(text, within=mask)


def _headlines_within(retriever, tq: TimeQuery, n: int):
    """The newest headlines in the range (for a "not found" answer)."""
    out = []
    for h in retriever._latest:
        if h.published_at and tq.start <= date.fromordinal(china_day(h.published_at)) <= tq.end:
            out.append(h)
            if len(out) == n:
                break
    return out


def _prefer_recent(retriever, query: str, tq: TimeQuery, k: int) -> SearchResult:
    """The usual answer (time words removed), its passages re-ordered with a bonus for the newest."""
    text = tq.text or query
    result = retriever.search(text, k=max(3 * k, 10))
    if not result.found:
        return dataclasses.replace(result, query=query)
    newest = next((h.published_at for h in retriever._latest if h.published_at), None)
    ref = china_day(newest) if newest else None

    def boosted(hit: Hit) -> float:
        if ref is None or not hit.passage.published_at:
            return hit.score
        age = max(0, ref - china_day(hit.passage.published_at))
        return hit.score + RECENCY_WEIGHT * 0.5 ** (age / HALF_LIFE_DAYS)

    ordered = sorted(result.hits, key=boosted, reverse=True)[:k]
    hits = [dataclasses.replace(h, rank=i + 1) for i, h in enumerate(ordered)]
    return SearchResult(query, hits, True)

