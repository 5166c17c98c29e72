"""Near-duplicate articles (the same story from several outlets), found with MinHash over character shingles.

Two articles are one story when

- their character 3-gram shingle sets (title + body, folded to Simplified, punctuation and spaces
  dropped) have a Jaccard similarity of at least ``threshold`` (checked exactly, after MinHash LSH
  has proposed the pair),
- they were published within ``window_hours`` of each other (undated articles are never merged), and
- their titles carry the same numbers, and the numbers of their whole texts mostly agree (Jaccard
  of the number sets ≥ ``NUMBERS_AGREE``). Daily bulletins share a template and differ by a number
  ("天津新增1例，累计确诊病例121例" and the next day's "…新增2例，累计…123例"; or the same title
  "辽宁省无新增确诊病例" two days running, with other dates and counts in the body): different news;
- each title's characters (Latin: words) appear in the other article, bar at most ``TITLE_SLACK``.
  A shared template with another place ("广东启动…一级响应" / "湖南启动…一级响应"), or a brief that
  quotes another story ("北爱尔兰确诊首例…" citing the Netherlands' case) stays apart.

Stories form clusters (union-find over the pairs). A cluster's representative is its earliest
article (the first report); the others are shown as "also reported by <source>". The clusters of a
version are computed when it is written and kept beside it in ``clusters.json`` (listed, with its
checksum, in the manifest like every other file):

    {"threshold": 0.6, "window_hours": 12, "clusters": [["rep-id", "dup-id", …], …]}
"""

from __future__ import annotations

import dataclasses
import json
import re
import sqlite3
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from index.chinatime import epoch
from index.ingest.clean import normalize_for_search

CLUSTERS = "clusters.json"
SHINGLE = 3
PERMUTATIONS = 128
BANDS = 32  # 32 bands of 4 rows: pairs from about Jaccard 0.4 up become candidates
THRESHOLD = 0.6
SIGNED_CHARS = 600  # a long article's signature covers its opening (title included)
WINDOW_HOURS = 12.0  # cross-outlet copies come within hours; a day apart is usually the next bulletin
NUMBERS_AGREE = 0.8
TITLE_SLACK = 1
# Per LSH band, each doc is checked against the next NEIGHBOURS of its bucket in time order: on crud-news
# (21,458 articles), dxy-news and xwlb-2020, 8 finds every pair checking all of a bucket found (4 misses one).
NEIGHBOURS = 8
_UNIT = re.compile(r"[a-z]+|[^\W\d_a-z]", re.IGNORECASE)

_NOT_TEXT = re.compile(r"[\W_]+")
NUMBER = re.compile(r"\d+(?:\.\d+)?")  # figures in a title or text: copies differing in one are different stories


@dataclass(frozen=True)
class Doc:
    """What deduplication needs of an article."""

    id: str
    title: str
    text: str  # title and body
    published_at: str | None
    source: str | None = None


def shingles(text: str, k: int = SHINGLE, folded: bool = False) -> np.ndarray:
    """Character k-grams of the folded text without punctuation or spaces, as sorted unique integers.

    A k-gram's integer packs its k code points (21 bits each), so equal k-grams are equal integers.
    """
    s = _NOT_TEXT.sub("", text if folded else normalize_for_search(text))
    cps = np.frombuffer(s.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    if len(cps) < k:
        cps = np.concatenate([cps, np.zeros(k - len(cps), np.uint64)]) if len(cps) else cps
    if not len(cps):
        return np.empty(0, np.uint64)
    ids = np.zeros(len(cps) - k + 1, np.uint64)
    for i in range(k):
        ids = (ids << np.uint64(21)) | cps[i : len(cps) - k + 1 + i]
    return np.unique(ids)


_RNG = np.random.default_rng(20200209)
_A = _RNG.integers(1, 2**63, PERMUTATIONS, dtype=np.uint64) | np.uint64(1)
_B = _RNG.integers(0, 2**63, PERMUTATIONS, dtype=np.uint64)


def signature(sh: np.ndarray) -> np.ndarray:
    """The MinHash signature: for each of PERMUTATIONS hash functions (a·x + b mod 2^64, top bits), the minimum."""
    if not len(sh):
        return np.full(PERMUTATIONS, np.iinfo(np.uint64).max, dtype=np.uint64)
    x = sh ^ (sh >> np.uint64(29))  # mix the packed code points before the multiply
    with np.errstate(over="ignore"):
        return ((np.outer(_A, x) + _B[:, None]) >> np.uint64(11)).min(axis=1)


def jaccard(a, b) -> float:
    """|a ∩ b| / |a ∪ b| of two sets, or of two sorted unique integer arrays (0 when both are empty)."""
    if isinstance(a, np.ndarray):
        union = len(a) + len(b)
        inter = len(np.intersect1d(a, b, assume_unique=True))
        return inter / (union - inter) if union else 0.0
    return len(a & b) / len(a | b) if a or b else 0.0


def _units(text: str, folded: bool = False) -> set[str]:
    """Characters (Latin: lower-case words) of a text, for the title rule."""
    return {u.lower() for u in _UNIT.findall(text if folded else normalize_for_search(text))}


def _epoch(iso: str | None) -> float | None:
    if not iso:
        return None
    try:
        return epoch(iso)
    except ValueError:
        return None


def _band_keys(sig: np.ndarray) -> np.ndarray:
    """One 64-bit key per LSH band of a signature: equal bands, equal keys (a collision only adds a candidate)."""
    rows = sig.reshape(BANDS, -1)
    key = np.zeros(BANDS, np.uint64)
    with np.errstate(over="ignore"):
        for r in range(rows.shape[1]):
            key = (key ^ rows[:, r]) * np.uint64(0x9E3779B97F4A7C15)
            key ^= key >> np.uint64(31)
    return key


def _candidates(keys: np.ndarray, block: np.ndarray, times: np.ndarray, window: float,
                neighbours: int) -> np.ndarray:
    """Candidate pairs as sorted unique int64 codes i * n + j (i < j), n = len(times).

    Per band, docs sort by (block, band key, time); each is paired with the next `neighbours` docs of
    its run that are within `window` seconds. So a band yields at most n * neighbours pairs however
    large a bucket grows (thousands of copies of one text, or of one template), instead of all
    m²/2 pairs of a bucket of m; the copies still join up, pair by pair, into one cluster.
    """
    n = len(times)
    found = np.empty(0, np.int64)
    for b in range(keys.shape[1]):
        order = np.lexsort((times, keys[:, b], block))
        k_sorted, b_sorted, t_sorted = keys[order, b], block[order], times[order]
        parts = []
        for step in range(1, min(neighbours, n - 1) + 1):
            same = ((k_sorted[step:] == k_sorted[:-step]) & (b_sorted[step:] == b_sorted[:-step])
                    & (t_sorted[step:] - t_sorted[:-step] <= window))
            hit = np.flatnonzero(same)
            if not len(hit):
                break  # runs are contiguous: no pair `step` apart means none further apart
            i, j = order[hit], order[hit + step]
            parts.append(np.minimum(i, j).astype(np.int64) * n + np.maximum(i, j))
        if parts:
            found = np.union1d(found, np.concatenate(parts))
    return found


def find_pairs(docs: Sequence[Doc], threshold: float = THRESHOLD, window_hours: float = WINDOW_HOURS,
               rules: bool = True, neighbours: int = NEIGHBOURS) -> list[tuple[int, int, float]]:
    """Pairs (i, j, Jaccard) of near-duplicate docs, i < j, by the rules in the module docstring.

    rules=False leaves out the number and title rules (to see what they keep apart). Memory and time
    grow linearly with len(docs): per doc, 32 band keys, a time and a block; per band, at most
    `neighbours` candidates per doc (see _candidates).
    """
    # The signature of the opening SIGNED_CHARS characters proposes pairs; only the few docs in a
    # proposed pair are then folded again for the exact checks, so memory stays per-doc, not per-corpus.
    n = len(docs)
    keys = np.zeros((n, BANDS), np.uint64)
    times = np.full(n, np.nan)
    block = np.zeros(n, np.int64)
    for i, d in enumerate(docs):
        when = _epoch(d.published_at)
        if when is None:
            continue  # undated articles are never merged
        head = shingles(normalize_for_search(d.text)[:SIGNED_CHARS], folded=True)
        if not len(head):
            continue
        keys[i], times[i] = _band_keys(signature(head)), when
        # Copies carry the same title numbers (a rule below): only docs of one block can pair, so the
        # day-by-day bulletins of one template never even become candidates.
        if rules:
            block[i] = hash(tuple(sorted(NUMBER.findall(normalize_for_search(d.title)))))
    eligible = np.flatnonzero(~np.isnan(times))
    codes = _candidates(keys[eligible], block[eligible], times[eligible], window_hours * 3600, neighbours)
    del keys
    m = len(eligible)
    involved = eligible[np.unique(np.concatenate([codes // max(m, 1), codes % max(m, 1)]))].tolist()
    folded = {i: normalize_for_search(docs[i].text) for i in involved}
    sh = {i: shingles(folded[i], folded=True) for i in involved}
    title_numbers = {i: sorted(NUMBER.findall(normalize_for_search(docs[i].title))) for i in involved}
    text_numbers = {i: set(NUMBER.findall(folded[i])) for i in involved}
    title_units = {i: _units(docs[i].title) for i in involved}
    text_units = {i: _units(folded[i], folded=True) for i in involved}
    del folded
    out = []
    for start in range(0, len(codes), 65536):  # a slice at a time: Python ints for the whole array would not be small
        part = codes[start : start + 65536]
        for i, j in zip(eligible[part // m].tolist(), eligible[part % m].tolist()):
            if rules and (title_numbers[i] != title_numbers[j] or (
                    (text_numbers[i] or text_numbers[j])
                    and jaccard(text_numbers[i], text_numbers[j]) < NUMBERS_AGREE)):
                continue
            if rules and (len(title_units[i] - text_units[j]) > TITLE_SLACK
                          or len(title_units[j] - text_units[i]) > TITLE_SLACK):
                continue
            sim = jaccard(sh[i], sh[j])
            if sim >= threshold:
                out.append((i, j, sim))
    return out


def cluster(docs: Sequence[Doc], threshold: float = THRESHOLD, window_hours: float = WINDOW_HOURS) -> list[list[str]]:
    """Clusters of two or more near-duplicate doc ids, each earliest first (its representative)."""
    pairs = [(docs[i].id, docs[j].id) for i, j, _ in find_pairs(docs, threshold, window_hours)]
    return _join(pairs, {d.id: d.published_at for d in docs})


def _join(links: Iterable[Sequence[str]], published: dict[str, str | None]) -> list[list[str]]:
    """Union-find over groups of ids that belong together: clusters sorted by representative."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for group in links:
        for other in group[1:]:
            parent[find(other)] = find(group[0])
    groups: dict[str, list[str]] = defaultdict(list)
    for x in parent:
        groups[find(x)].append(x)
    out = [sorted(m, key=lambda a: (_epoch(published.get(a)) or 0.0, a)) for m in groups.values() if len(m) > 1]
    return sorted(out, key=lambda c: c[0])


def docs_from_db(db: sqlite3.Connection, ids: Iterable[str] | None = None) -> list[Doc]:
    """The articles of a version's SQLite (those with the given ids, if given), by id."""
    query = "SELECT id, title, published_at, source, paragraphs FROM articles"
    if ids is None:
        rows = db.execute(query).fetchall()
    else:
        ids, rows = list(ids), []
        for i in range(0, len(ids), 900):
            part = ids[i : i + 900]
            rows += db.execute(f"{query} WHERE id IN ({','.join('?' * len(part))})", part).fetchall()
    return [Doc(aid, title, title + "\n" + "\n".join(json.loads(paragraphs)), published, source)
            for aid, title, published, source, paragraphs in sorted(rows)]


def write_clusters(db: sqlite3.Connection, version: Path, threshold: float = THRESHOLD,
                   window_hours: float = WINDOW_HOURS) -> int:
    """Compute the clusters of a version's articles and write clusters.json; return how many."""
    return _write(version, cluster(docs_from_db(db), threshold, window_hours), threshold, window_hours)


def update_clusters(db: sqlite3.Connection, version: Path, previous: Path, added: Iterable[str],
                    threshold: float = THRESHOLD, window_hours: float = WINDOW_HOURS) -> int:
    """Clusters after articles were added to `previous`: its clusters plus pairs that involve an added one.

    A pair needs both articles dated within window_hours, so only the articles near an added one's
    date are compared: the work follows what was added (and its days), not the corpus.
    """
    try:
        stored = json.loads((Path(previous) / CLUSTERS).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        stored = None
    if not stored or stored.get("threshold") != threshold or stored.get("window_hours") != window_hours:
        return write_clusters(db, version, threshold, window_hours)
    added = set(added)
    window = window_hours * 3600
    published = dict(db.execute("SELECT id, published_at FROM articles"))
    when = {aid: _epoch(p) for aid, p in published.items()}
    new_times = [when[a] for a in added if when.get(a) is not None]
    lo, hi = (min(new_times) - window, max(new_times) + window) if new_times else (1.0, 0.0)
    docs = docs_from_db(db, [a for a, t in when.items() if t is not None and lo <= t <= hi])
    pairs = [(docs[i].id, docs[j].id) for i, j, _ in find_pairs(docs, threshold, window_hours)
             if docs[i].id in added or docs[j].id in added]
    return _write(version, _join([*stored["clusters"], *pairs], published), threshold, window_hours)


def _write(version: Path, clusters: list[list[str]], threshold: float, window_hours: float) -> int:
    (Path(version) / CLUSTERS).write_text(
        json.dumps({"threshold": threshold, "window_hours": window_hours, "clusters": clusters}, ensure_ascii=False),
        encoding="utf-8",
    )
    return len(clusters)


class Clusters:
    """Which article stands for which: article id -> (representative id, the other members' ids)."""

    def __init__(self, clusters: Iterable[Sequence[str]] = ()):
        self.rep: dict[str, str] = {}
        self.members: dict[str, list[str]] = {}
        for c in clusters:
            for aid in c:
                self.rep[aid] = c[0]
            self.members[c[0]] = list(c)

    @classmethod
    def load(cls, version: Path) -> "Clusters":
        """The clusters stored with a version (none for a version written before deduplication)."""
        path = Path(version) / CLUSTERS
        if not path.is_file():
            return cls()
        return cls(json.loads(path.read_text(encoding="utf-8"))["clusters"])

    def __len__(self) -> int:
        return len(self.members)

    def key(self, article_id: str | None) -> str | None:
        """The cluster an article belongs to (its own id when it has no near-duplicate)."""
        return None if article_id is None else self.rep.get(article_id, article_id)

    def others(self, article_id: str | None) -> list[str]:
        """The other articles of its cluster."""
        key = self.key(article_id)
        return [a for a in self.members.get(key, []) if a != article_id] if key else []


def sources_of(db: sqlite3.Connection, lock, article_ids: Sequence[str]) -> list[str]:
    """The distinct sources of articles (their ids when they have no source), in the given order."""
    if not article_ids:
        return []
    with lock:
        found = dict(db.execute(
            f"SELECT id, source FROM articles WHERE id IN ({','.join('?' * len(article_ids))})", tuple(article_ids)
        ).fetchall())
    return list(dict.fromkeys(found.get(a) or a for a in article_ids))


def collapse_headlines(headlines, clusters: Clusters, sources, n: int) -> list:
    """The first n headlines with one per story: later copies are dropped, their sources named on the first."""
    out, seen = [], set()
    if n <= 0:
        return out
    for h in headlines:
        key = clusters.key(h.article_id)
        if key is not None and key in seen:
            continue
        if key is not None:
            seen.add(key)
            others = clusters.others(h.article_id)
            if others:
                h = dataclasses.replace(h, also_reported_by=tuple(s for s in sources(others) if s != h.source))
        out.append(h)
        if len(out) >= n:
            break
    return out


def collapse_hits(hits, clusters: Clusters, sources) -> list:
    """Hits with one article per story (the first hit's), renumbered; the copies' sources named on it."""
    out, first_of = [], {}
    for hit in hits:
        aid = hit.passage.article_id
        key = clusters.key(aid)
        if key is not None and key in first_of and first_of[key] != aid:
            continue
        if key is not None:
            first_of.setdefault(key, aid)
            others = clusters.others(aid)
            if others:
                hit = dataclasses.replace(
                    hit, also_reported_by=tuple(s for s in sources(others) if s != hit.passage.source))
        out.append(dataclasses.replace(hit, rank=len(out) + 1))
    return out
