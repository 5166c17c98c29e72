"""One published version opened for reading, and checked: the mirror of what index.writer.write writes.

`index.writer.write.finish_version` writes a version folder (SQLite rows, BM25 segments, FAISS
vectors, near-duplicate clusters, the manifest counting them) and publishes it; `StoredVersion.open`
reads that folder back and refuses it when its parts disagree, as bm25s' `BM25.load` mirrors `save`.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from contextlib import contextmanager
from datetime import date
from functools import lru_cache
from pathlib import Path

import numpy as np

from index import store
from index.chinatime import NO_DAY, china_day, epoch
from index.errors import CorruptIndexError
from index.schema import HEADLINE, Article, Headline, Passage
from index.store import duplicates
from index.store.lexical import LexicalIndex, tokenize

REBUILD = "rebuild with `python -m index build --rebuild`"


@contextmanager
def reading(version: Path):
    """Report a damaged file of the right size as CorruptIndexError here, not as a crash deep inside a search."""
    try:
        yield
    except CorruptIndexError:
        raise
    except (sqlite3.DatabaseError, ValueError, KeyError, EOFError, OSError) as e:
        raise CorruptIndexError(
            f"{version}: an index file cannot be read ({type(e).__name__}: {str(e)[:200]}); "
            f"check it with `python -m index stats --verify`, {REBUILD}"
        ) from None


class VersionVectors:
    """A version's FAISS files: the main index and (beside an HNSW one) the flat delta added since."""

    def __init__(self, version: Path, main, delta, n_rows: int):
        import faiss

        self.main, self.delta = main, delta
        # A row's position counts through both indexes, main first; -1: the row has no vector yet.
        self.position_of_row = np.full(n_rows, -1, dtype=np.int64)
        offset = 0
        for index in (main, delta):
            if index is None:
                continue
            ids = faiss.vector_to_array(index.id_map)
            if len(ids) and (ids.max() >= n_rows or ids.min() < 0):
                raise CorruptIndexError(f"{version}: vector ids do not match the passages; rebuild the index")
            self.position_of_row[ids] = offset + np.arange(len(ids))
            offset += len(ids)
        # Candidates are scored exactly against the stored float32 vectors (flat or HNSW-flat alike),
        # so an approximate search only changes which candidates come back.
        self._xb = store.stored_vectors(main)
        self._xb_delta = None if delta is None else store.stored_vectors(delta)

    @classmethod
    def open(cls, version: Path, n_rows: int) -> "VersionVectors | None":
        """The version's vector files, memory-mapped; None when it has none (a lexical-only build)."""
        if not (version / store.VECTORS).is_file():
            return None
        main = store.read_vectors(version / store.VECTORS, mmap=True)
        delta = None
        if (version / store.VECTORS_DELTA).is_file():
            delta = store.read_vectors(version / store.VECTORS_DELTA, mmap=True)
        return cls(version, main, delta, n_rows)

    @property
    def count(self) -> int:
        """How many passages have a vector."""
        return sum(int(i.ntotal) for i in (self.main, self.delta) if i is not None)

    @property
    def kind(self) -> str:
        """"flat" (exact) or "hnsw" (approximate): how the main index is searched."""
        return store.vector_index_kind(self.main)

    def at(self, positions: np.ndarray) -> np.ndarray:
        """The stored vectors at these positions (main index, then delta)."""
        if self._xb_delta is None:
            return self._xb[positions]
        main = positions < len(self._xb)
        out = np.empty((len(positions), self._xb.shape[1]), dtype=np.float32)
        out[main] = self._xb[positions[main]]
        out[~main] = self._xb_delta[positions[~main] - len(self._xb)]
        return out

    def sample(self, n: int, seed: int = 0) -> np.ndarray | None:
        """A fixed sample of n stored vectors (seeded: the same index answers the same way every time)."""
        if not self.count:
            return None
        positions = np.random.default_rng(seed).choice(self.count, min(n, self.count), replace=False)
        return np.ascontiguousarray(self.at(np.sort(positions)))


class StoredVersion:
    """A published version: its rows and passages, BM25, vectors, headlines, row days and clusters. Read-only."""

    def __init__(self, path: Path, manifest: dict, db: sqlite3.Connection, lexical: LexicalIndex,
                 vectors: VersionVectors | None, clusters: "duplicates.Clusters"):
        self.path, self.manifest, self.lexical, self.vectors, self.clusters = path, manifest, lexical, vectors, clusters
        self.db, self.db_lock = db, threading.Lock()
        # Passages stay in SQLite, read when a hit is shown: a large index costs no start-up time or memory.
        self.passages = Passages(db, self.db_lock)
        self.is_headline = np.zeros(len(self.passages), dtype=bool)  # a headline passage: a title, not a paragraph
        self.headlines = self._sorted_headlines()
        self._row_days: np.ndarray | None = None

    @classmethod
    def open(cls, index_dir: Path, model: str | None = None, dim: int | None = None, verify: bool = False,
             vectors: bool = True) -> "StoredVersion":
        """Open the current version; refuse one written by another model, or files that disagree.

        Every file's size is checked against the manifest; verify=True also checks their SHA-256
        (reads every byte: ~1 s per 500 MB; `python -m index stats --verify`). vectors=False leaves
        the FAISS files closed (the Milvus backend holds the vectors).
        """
        version = store.require_version(Path(index_dir))
        manifest = store.read_manifest(version)
        store.check_model(manifest, model, dim, version)
        store.verify_files(version, manifest, hashes=verify)
        with reading(version):
            db = store.open_db(version / store.DB)
            try:
                opened = cls._read(version, manifest, db, vectors)
            except BaseException:
                db.close()
                raise
        counts = manifest.get("counts", {})
        n_vectors = opened.vectors.count if opened.vectors is not None else 0
        if counts.get("passages", len(opened.passages)) != len(opened.passages) or (
            vectors and counts.get("vectors", n_vectors) != n_vectors
        ):
            opened.close()
            raise CorruptIndexError(
                f"{version}: the manifest counts {counts.get('passages')} passages and {counts.get('vectors')} "
                f"vectors, the files hold {len(opened.passages)} and {n_vectors}; {REBUILD}"
            )
        return opened

    @classmethod
    def _read(cls, version: Path, manifest: dict, db: sqlite3.Connection, vectors: bool) -> "StoredVersion":
        n_rows = db.execute("SELECT COUNT(*) FROM passages").fetchone()[0]
        # Memory-mapped: the arrays are paged in from the file as searches touch them.
        lexical = LexicalIndex.load(version / store.LEXICAL, mmap=True)
        if lexical.n_docs != n_rows:
            raise CorruptIndexError(
                f"{version}: the lexical index has {lexical.n_docs} rows but there are {n_rows} passages; {REBUILD}"
            )
        stored = VersionVectors.open(version, n_rows) if vectors else None
        return cls(version, manifest, db, lexical, stored, duplicates.Clusters.load(version))

    def close(self) -> None:
        """Release the database handle."""
        self.db.close()

    def row_days(self) -> np.ndarray:
        """Each passage's China date as an ordinal (NO_DAY when undated), read once, on first use."""
        if self._row_days is None:
            with self.db_lock:
                rows = self.db.execute("SELECT row, published_at FROM passages WHERE published_at IS NOT NULL").fetchall()
            days = np.full(len(self.passages), NO_DAY, dtype=np.int32)
            parsed: dict[str, int] = {}
            for row, iso in rows:
                try:
                    days[row] = parsed[iso] if iso in parsed else parsed.setdefault(iso, china_day(iso))
                except ValueError:
                    pass
            self._row_days = days  # the version is immutable, so is this
        return self._row_days

    def published_between(self, start: date, end: date) -> np.ndarray:
        """Rows published from `start` to `end` (China dates, inclusive); undated rows are not."""
        days = self.row_days()
        return (days >= start.toordinal()) & (days <= end.toordinal())

    def tokens_of(self, row: int) -> set[str]:
        """The words a passage answers with: its own, and its article's title, which is its context."""
        with self.db_lock:
            tokens, title = self.db.execute("SELECT tokens, title FROM passages WHERE row = ?", (row,)).fetchone()
        return set(tokens.split(" ")) | _title_tokens(title)

    def texts_of(self, rows: list[int]) -> dict[int, str]:
        """Title and text of these rows, by row (where a passage would mention a date)."""
        with self.db_lock:
            return dict(self.db.execute(
                f"SELECT row, title || ' ' || text FROM passages WHERE row IN ({','.join('?' * len(rows))})", rows))

    def sources(self, article_ids) -> list[str]:
        """The sources of these articles (index.store.duplicates.sources_of)."""
        return duplicates.sources_of(self.db, self.db_lock, article_ids)

    def article(self, article_id: str) -> Article | None:
        """The whole cleaned article."""
        with self.db_lock:
            r = self.db.execute("SELECT * FROM articles WHERE id = ?", (article_id,)).fetchone()
        if r is None:
            return None
        return Article(
            id=r["id"], title=r["title"], paragraphs=json.loads(r["paragraphs"]), published_at=r["published_at"],
            source=r["source"], url=r["url"], meta=json.loads(r["meta"]), origin=r["origin"] or "",
        )

    def _sorted_headlines(self) -> list[Headline]:
        with self.db_lock:
            passages = list(self.passages.where("kind = ?", (HEADLINE,)))
        self.is_headline[[p.id for p in passages]] = True
        heads = [headline(p) for p in passages]
        # Newest first; undated ones after every dated one, in page order.
        dated = sorted((h for h in heads if h.published_at), key=lambda h: epoch(h.published_at), reverse=True)
        return dated + [h for h in heads if not h.published_at]


@lru_cache(maxsize=4096)
def _title_tokens(title: str) -> frozenset[str]:
    """A title's words, cut once: every passage of an article shares its title."""
    return frozenset(tokenize(title))


def headline(p: Passage) -> Headline:
    """The headline a passage belongs to."""
    return Headline(p.title, p.published_at, p.tag, p.source, p.url, p.article_id)


_PASSAGE_QUERY = "SELECT row, article_id, position, kind, text, title, published_at, source, url, tag FROM passages"


def _passage(r) -> Passage:
    return Passage(
        id=r["row"], article_id=r["article_id"], position=r["position"], kind=r["kind"], text=r["text"],
        title=r["title"], published_at=r["published_at"], source=r["source"], url=r["url"], tag=r["tag"],
    )


class Passages:
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
