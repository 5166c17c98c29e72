"""Headlines beside an answer: those of a date range, those nearest the question, those matching a keyword.

Pure functions over headlines sorted newest first (undated last), as StoredVersion.headlines holds them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date

from index.chinatime import china_day
from index.ingest.clean import normalize_for_search
from index.schema import Headline


def between(headlines: Sequence[Headline], start: date, end: date, n: int) -> list[Headline]:
    """The newest n headlines published from `start` to `end` (China dates, inclusive)."""
    out = []
    for h in headlines:
        if h.published_at and start.toordinal() <= china_day(h.published_at) <= end.toordinal():
            out.append(h)
            if len(out) == n:
                break
    return out


def nearest(of_candidates: Iterable[Headline], headlines: Sequence[Headline], n: int) -> list[Headline]:
    """n distinct headlines: those of the ranked candidates first (read lazily), then the newest."""
    out: list[Headline] = []
    seen: set[str] = set()
    for h in of_candidates:
        if h.title not in seen:
            seen.add(h.title)
            out.append(h)
        if len(out) == n:
            return out
    for h in headlines:
        if h.title not in seen:
            seen.add(h.title)
            out.append(h)
        if len(out) == n:
            break
    return out


def matching(headlines: Sequence[Headline], keyword: str) -> list[Headline]:
    """The headlines whose title or tag holds a keyword (both folded as searches are)."""
    kw = normalize_for_search(keyword).strip()
    return [h for h in headlines if kw in normalize_for_search(h.title) or (h.tag and kw in normalize_for_search(h.tag))]
