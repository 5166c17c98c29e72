"""The lexical leg: jieba tokens of the Simplified, width-folded text, scored with BM25 in segments.

BM25 needs corpus statistics (document frequency, average length) that change with every added
passage. bm25s bakes them into the scores it stores, so adding to it means re-indexing the corpus.
Here each segment stores raw term frequencies (per term: the rows that have it and how often) and
the statistics are summed over segments when the index is loaded, as Lucene does: `add` writes one
new segment for the new rows and hard-links the others. Scores equal bm25s's default ("lucene":
idf = ln(1 + (N - df + 0.5) / (df + 0.5)), tf / (tf + k1 (1 - b + b·len/avgdl))); tests compare the two.

Layout of the `lexical/` folder of a version:
    segments.json            {"k1", "b", "segments": [{"name", "start", "rows"}, …]} in row order
    <name>/terms.json        the segment's vocabulary, term id = position
    <name>/indptr.npy        term id -> range of postings
    <name>/rows.npy          postings: passage row (int32), ascending per term
    <name>/tf.npy            postings: term frequency (float32)
    <name>/lengths.npy       token count of each of the segment's rows
"""

from __future__ import annotations

import json
import logging
import math
import re
import uuid
from array import array
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from index.ingest.clean import normalize_for_search
from index.errors import CorruptIndexError
from index.store.versions import link_file

logger = logging.getLogger(__name__)

SEGMENTS = "segments.json"
MAX_SEGMENTS = 8  # more than this after an add: all segments are merged into one (array work, no re-tokenizing)
K1, B = 1.5, 0.75
# A question costs bounded time and memory whatever it holds. Text past MAX_TOKENIZE_CHARS (a
# Telegram message's length) is not tokenized: the longest passage of the news corpora, headline
# included, has ~1,200 characters, and jieba takes ~35 µs a character on runs like 的的的. Only the
# MAX_QUERY_TERMS rarest distinct words that some passage has are scored (ordinary questions have
# fewer than 20), and postings are summed in batches of at most POSTINGS_PER_BATCH.
MAX_TOKENIZE_CHARS = 4096
MAX_QUERY_TERMS = 32
POSTINGS_PER_BATCH = 1 << 20

# Punctuation, symbols and spaces are not words.
_NOT_A_WORD = re.compile(r"^[\W_]+$")

# Words a question is made of that say nothing about its topic. They still take part in BM25
# ranking (IDF makes them cheap); they are left out when judging how much of a question a passage covers.
QUESTION_WORDS = frozenset(
    "什么 怎么 怎样 如何 为什么 为何 哪 哪些 哪里 哪个 哪儿 谁 几 多少 多久 吗 呢 吧 啊 呀 么 的 了 是 在 有 "
    "和 与 及 或 要 会 能 可以 应该 请问 请 问 一下 告诉 我 我们 你 你们 他 她 它 他们 这 那 这个 那个 这些 "
    "那些 之 其 被 把 对 于 也 都 就 还 又 而 并 但 从 向 到 给 让 用 以 为 由 所 着 过 得 地 个 些 啥 咋 "
    "呢 嘛 哦 么样 如何 何 时候 时 上 中 下".split()
)


@lru_cache(maxsize=1)
def _jieba():
    import jieba

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    return jieba


def cut(text: str, hmm: bool = True) -> list[str]:
    """jieba's exact-mode cut, the project's one (BM25 here, group summaries in bot/summarize_text.py).

    hmm=False skips jieba's guessing of unknown words (~25 % faster).
    """
    return _jieba().lcut(text, HMM=hmm)


def tokenize(text: str) -> list[str]:
    """Tokenize for BM25: fold script and width, cut with jieba, drop punctuation and spaces."""
    words = cut(normalize_for_search(text[:MAX_TOKENIZE_CHARS]))
    return [w for w in (w.strip() for w in words) if w and not _NOT_A_WORD.match(w)]


@dataclass
class Segment:
    """Term frequencies of the rows [start, start + len(lengths)), by term."""

    terms: list[str]
    indptr: np.ndarray
    rows: np.ndarray
    tf: np.ndarray
    lengths: np.ndarray
    start: int
    folder: Path | None = None  # where it is stored, once saved or loaded
    _ids: dict[str, int] | None = None

    @property
    def ids(self) -> dict[str, int]:
        """Term -> term id, built on first use (a segment that is only linked never needs it)."""
        if self._ids is None:
            self._ids = {t: i for i, t in enumerate(self.terms)}
        return self._ids

    @property
    def n_rows(self) -> int:
        """How many passages the segment covers."""
        return len(self.lengths)

    @classmethod
    def from_tokens(cls, token_lists: Iterable[list[str]], start: int, chunk_rows: int = 8192) -> "Segment":
        """A segment of token lists, the first being row `start`; built in chunks to bound memory."""
        ids: dict[str, int] = {}
        terms_of, rows_of, tfs = [], [], []
        lengths = array("i")
        flat, chunk_lengths = array("i"), []

        def flush() -> None:
            n = len(chunk_lengths)
            tids = np.frombuffer(flat, dtype=np.int32).astype(np.int64)
            local = np.repeat(np.arange(n, dtype=np.int64), chunk_lengths)
            # One key per (term, row) of the chunk: sorted, they order its postings by term, then row.
            keys, tf = np.unique(tids * n + local, return_counts=True)
            terms_of.append((keys // n).astype(np.int32))
            rows_of.append((keys % n + start + len(lengths) - n).astype(np.int32))
            tfs.append(tf.astype(np.float32))
            del flat[:]
            chunk_lengths.clear()

        for tokens in token_lists:
            flat.extend([ids.setdefault(t, len(ids)) for t in tokens])
            chunk_lengths.append(len(tokens))
            lengths.append(len(tokens))
            if len(chunk_lengths) >= chunk_rows:
                flush()
        if chunk_lengths:
            flush()
        term_of = np.concatenate(terms_of) if terms_of else np.zeros(0, np.int32)
        rows = np.concatenate(rows_of) if rows_of else np.zeros(0, np.int32)
        tf = np.concatenate(tfs) if tfs else np.zeros(0, np.float32)
        order = np.argsort(term_of, kind="stable")  # chunks come in row order: rows stay ascending per term
        return cls._from_sorted(list(ids), term_of[order], rows[order], tf[order],
                                np.frombuffer(lengths, dtype=np.int32).copy(), start)

    @classmethod
    def _from_sorted(cls, terms, term_of, rows, tf, lengths, start) -> "Segment":
        """A segment from postings already sorted by term, then row."""
        indptr = np.zeros(len(terms) + 1, dtype=np.int64)
        np.cumsum(np.bincount(term_of, minlength=len(terms)), out=indptr[1:])
        return cls(terms, indptr, rows.astype(np.int32), tf, lengths, start)

    @classmethod
    def merge(cls, segments: list["Segment"]) -> "Segment":
        """One segment holding the postings of consecutive segments."""
        ids: dict[str, int] = {}
        term_of, rows, tf = [], [], []
        for s in segments:
            remap = np.fromiter((ids.setdefault(t, len(ids)) for t in s.terms), dtype=np.int64, count=len(s.terms))
            term_of.append(np.repeat(remap, np.diff(s.indptr)))
            rows.append(np.asarray(s.rows, dtype=np.int64))
            tf.append(np.asarray(s.tf))
        term_of, rows, tf = np.concatenate(term_of), np.concatenate(rows), np.concatenate(tf)
        order = np.lexsort((rows, term_of))
        return cls._from_sorted(list(ids), term_of[order], rows[order], tf[order],
                                np.concatenate([s.lengths for s in segments]), segments[0].start)

    def save(self, folder: Path) -> None:
        """Write the segment into a new folder."""
        folder.mkdir(parents=True)
        (folder / "terms.json").write_text(json.dumps(self.terms, ensure_ascii=False), encoding="utf-8")
        for name in ("indptr", "rows", "tf", "lengths"):
            np.save(folder / f"{name}.npy", getattr(self, name))
        self.folder = folder

    @classmethod
    def load(cls, folder: Path, start: int, mmap: bool) -> "Segment":
        """Read a segment written by save(); a damaged one is a CorruptIndexError."""
        mode = "r" if mmap else None
        try:
            terms = json.loads((folder / "terms.json").read_text(encoding="utf-8"))
            arrays = {n: np.load(folder / f"{n}.npy", mmap_mode=mode) for n in ("indptr", "rows", "tf", "lengths")}
        except (OSError, ValueError) as e:
            raise CorruptIndexError(f"{folder}: unreadable lexical segment ({e}); rebuild with `python -m index build --rebuild`") from e
        if len(arrays["indptr"]) != len(terms) + 1 or not len(arrays["rows"]) == len(arrays["tf"]) == arrays["indptr"][-1]:
            raise CorruptIndexError(f"{folder}: lexical segment arrays disagree; rebuild with `python -m index build --rebuild`")
        return cls(terms, start=start, folder=folder, **arrays)


class LexicalIndex:
    """A BM25 index over pre-tokenized passages, addressed by row (row i = i-th passage given)."""

    def __init__(self, segments: list[Segment], k1: float = K1, b: float = B):
        self.segments = segments
        self.k1, self.b = k1, b
        lengths = (np.concatenate([np.asarray(s.lengths, dtype=np.float32) for s in segments]) if segments
                   else np.zeros(0, np.float32))
        self.n_docs = len(lengths)
        avgdl = float(lengths.mean()) if self.n_docs and lengths.sum() else 1.0
        # The length part of BM25's denominator, per row: fixed until the corpus changes.
        self._norm = (k1 * (1 - b + b * lengths / avgdl)).astype(np.float32)
        self._weights: list[np.ndarray] | None = None

    @classmethod
    def build(cls, token_lists: Iterable[list[str]]) -> "LexicalIndex":
        """Index token lists (one per passage) as one segment."""
        return cls([Segment.from_tokens(token_lists, 0)])

    def append(self, token_lists: Iterable[list[str]]) -> "LexicalIndex":
        """A new index: these segments plus one for the token lists, which become the next rows.

        Above MAX_SEGMENTS, everything is merged into one segment.
        """
        segments = [*self.segments, Segment.from_tokens(token_lists, self.n_docs)]
        if len(segments) > MAX_SEGMENTS:
            segments = [Segment.merge(segments)]
        return LexicalIndex(segments, self.k1, self.b)

    def save(self, folder: Path) -> None:
        """Write the index into folder; segments already on disk are hard-linked, not copied."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        listed = []
        for s in self.segments:
            name = s.folder.name if s.folder is not None else f"seg-{uuid.uuid4().hex[:12]}"
            if s.folder is None:
                s.save(folder / name)
            elif s.folder != folder / name:
                _link_tree(s.folder, folder / name)
            listed.append({"name": name, "start": s.start, "rows": s.n_rows})
        (folder / SEGMENTS).write_text(json.dumps({"k1": self.k1, "b": self.b, "segments": listed}), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path, mmap: bool = False) -> "LexicalIndex":
        """Read an index written by save()."""
        folder = Path(folder)
        try:
            spec = json.loads((folder / SEGMENTS).read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise CorruptIndexError(f"{folder}: no readable {SEGMENTS} ({e}); rebuild with `python -m index build --rebuild`") from e
        segments, start = [], 0
        for entry in spec["segments"]:
            s = Segment.load(folder / entry["name"], entry["start"], mmap)
            if s.start != start or s.n_rows != entry["rows"]:
                raise CorruptIndexError(f"{folder}: segment {entry['name']} does not continue the rows before it")
            segments.append(s)
            start += s.n_rows
        return cls(segments, spec["k1"], spec["b"])

    def scores(self, tokens: list[str]) -> np.ndarray:
        """BM25 score of every passage for the query tokens (a token repeated n times counts n times)."""
        if self._weights is None:
            # Each posting's tf part, tf / (tf + norm), for this corpus: computed once, on the first
            # question (tens of ms for 100k passages; an `add` that only appends never needs it).
            self._weights = [np.asarray(s.tf) / (np.asarray(s.tf) + self._norm[np.asarray(s.rows)])
                             for s in self.segments]
        total = np.zeros(self.n_docs, dtype=np.float64)
        rows, values, size = [], [], 0
        for t, count in self.query_terms(tokens):
            idf = self.idf(t)
            for s, weights in zip(self.segments, self._weights):
                i = s.ids.get(t)
                if i is not None:
                    a, b = int(s.indptr[i]), int(s.indptr[i + 1])
                    rows.append(s.rows[a:b])
                    # count × the float32 contribution, in float64: exactly what adding it count times gave.
                    values.append((weights[a:b] * idf).astype(np.float64) * count)
                    size += b - a
            if size >= POSTINGS_PER_BATCH:
                total += _sum_postings(rows, values, self.n_docs)
                rows, values, size = [], [], 0
        if rows:
            total += _sum_postings(rows, values, self.n_docs)
        return total.astype(np.float32)

    def query_terms(self, tokens: list[str]) -> list[tuple[str, int]]:
        """The distinct tokens some passage has, with their counts: the MAX_QUERY_TERMS rarest, in question order."""
        counts = Counter(tokens)
        freq = {t: df for t in counts if (df := self.doc_freq(t))}
        kept = set(sorted(freq, key=freq.__getitem__)[:MAX_QUERY_TERMS])
        return [(t, n) for t, n in counts.items() if t in kept]

    def top(self, tokens: list[str], n: int, scores: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The n best rows with a positive score, best first, and their scores (from `scores` if given)."""
        scores = self.scores(tokens) if scores is None else scores
        n = min(n, len(scores))
        if n <= 0:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
        rows = np.argpartition(-scores, n - 1)[:n]
        rows = rows[np.argsort(-scores[rows], kind="stable")]
        rows = rows[scores[rows] > 0]
        return rows.astype(np.int64), scores[rows]

    def doc_freq(self, token: str) -> int:
        """How many passages contain the token."""
        # Not cached: a question's words are arbitrary text, and a lookup per segment is cheap.
        return sum(int(s.indptr[i + 1] - s.indptr[i]) for s in self.segments if (i := s.ids.get(token)) is not None)

    @property
    def length_norm(self) -> np.ndarray:
        """Per-document BM25 length normalisation, k1 · (1 − b + b · length / avgdl), in row order."""
        return self._norm

    def idf(self, token: str) -> float:
        """Smoothed inverse document frequency; a word no passage has gets the highest weight."""
        df = self.doc_freq(token)
        return math.log(1 + (self.n_docs - df + 0.5) / (df + 0.5))


def _sum_postings(rows: list[np.ndarray], values: list[np.ndarray], n: int) -> np.ndarray:
    """Per-row sums of posting values: one bincount, much faster than a fancy-indexed += per term."""
    return np.bincount(np.concatenate(rows), np.concatenate(values), minlength=n)


def _link_tree(src: Path, dst: Path) -> None:
    """Share a saved segment's files with a new folder (hard links; segments are immutable)."""
    dst.mkdir(parents=True)
    for p in src.iterdir():
        link_file(p, dst / p.name)
