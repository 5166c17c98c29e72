"""The index on disk: immutable version folders behind an atomically swapped `current` link.

Layout of an index folder:
    current -> versions/<name>      the version readers load (swapped with one rename)
    versions/<name>/manifest.json   format, model, dimension, counts, file sizes and hashes
    versions/<name>/passages.sqlite articles, passages (with their jieba tokens), source files
    versions/<name>/lexical/        the BM25 index in segments (index/store/lexical.py), row i = passage row i
    versions/<name>/vectors.faiss   the dense vectors, FAISS ids = passage rows (absent: none yet); a flat
                                    index below [index] ann_threshold passages, HNSW-flat from it
    versions/<name>/vectors-delta.faiss  with HNSW: vectors added since it was written (flat, at most
                                    [index] vectors_delta_max; the HNSW file is hard-linked meanwhile)
    embeddings/<model>.sqlite       content-hash -> vector cache; makes embedding incremental and resumable
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import re
import shutil
import sqlite3
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from index.errors import CorruptIndexError, IndexNotBuiltError, ModelMismatchError, NewsIndexError

logger = logging.getLogger(__name__)

FORMAT_VERSION = 2  # 2: BM25 in segments (index/store/lexical.py)
MANIFEST = "manifest.json"
DB = "passages.sqlite"
LEXICAL = "lexical"
VECTORS = "vectors.faiss"
VECTORS_DELTA = "vectors-delta.faiss"  # flat index of vectors added since the HNSW one was written
KEEP_VERSIONS = 2  # the current one and the one before it, for readers still holding it

SCHEMA = """
CREATE TABLE articles (
    id TEXT PRIMARY KEY, title TEXT NOT NULL, published_at TEXT, source TEXT, url TEXT,
    meta TEXT NOT NULL, paragraphs TEXT NOT NULL, content_hash TEXT NOT NULL, origin TEXT, file TEXT
);
CREATE TABLE passages (
    row INTEGER PRIMARY KEY, article_id TEXT, position INTEGER NOT NULL, kind TEXT NOT NULL,
    text TEXT NOT NULL, index_text TEXT NOT NULL, title TEXT NOT NULL, published_at TEXT,
    source TEXT, url TEXT, tag TEXT, hash TEXT NOT NULL, tokens TEXT NOT NULL, file TEXT
);
CREATE INDEX passages_article ON passages(article_id);
CREATE TABLE files (path TEXT PRIMARY KEY, sha256 TEXT NOT NULL, format TEXT, skipped TEXT NOT NULL, unused TEXT NOT NULL);
CREATE TABLE excluded (article_id TEXT PRIMARY KEY);
"""


def link_file(src: Path, dst: Path) -> None:
    """Share an immutable file between versions: a hard link, or a copy where links are not possible."""
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


def model_slug(model: str) -> str:
    """A file-name-safe form of a model spec."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", model).strip("_") or "model"


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def current_version(index_dir: Path) -> Path | None:
    """The version folder `current` points at, or None when nothing was published yet."""
    link = Path(index_dir) / "current"
    if not link.exists():
        return None
    return link.resolve()


@contextlib.contextmanager
def write_lock(index_dir: Path):
    """Hold the index folder's writer lock: one build at a time."""
    index_dir = Path(index_dir)
    index_dir.mkdir(parents=True, exist_ok=True)
    with open(index_dir / ".lock", "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def new_version_dir(index_dir: Path) -> Path:
    """A fresh temporary folder to write a version into (renamed on publish)."""
    versions = Path(index_dir) / "versions"
    versions.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
    tmp = versions / f".tmp-{stamp}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    return tmp


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_tree(folder: Path) -> None:
    for p in folder.rglob("*"):
        if p.is_file():
            with open(p, "rb") as f:
                os.fsync(f.fileno())
    _fsync_dir(folder)


def write_manifest(version: Path, model: str, dim: int | None, counts: dict, extra: dict | None = None,
                   linked_from: Path | None = None) -> dict:
    """Write manifest.json with the sizes and hashes of every file of the version.

    A file hard-linked from the version `linked_from` (same inode) keeps that version's hash
    instead of being read again: versions are immutable.
    """
    previous = {}
    if linked_from is not None:
        with contextlib.suppress(NewsIndexError, OSError):
            previous = read_manifest(linked_from).get("files", {})
    files = {}
    for p in sorted(version.rglob("*")):
        if p.is_file() and p.name != MANIFEST:
            name = str(p.relative_to(version))
            old = previous.get(name)
            if old is not None and _same_file(p, Path(linked_from) / name) and old["size"] == p.stat().st_size:
                files[name] = old
            else:
                files[name] = {"size": p.stat().st_size, "sha256": file_sha256(p)}
    manifest = {
        "format_version": FORMAT_VERSION,
        "model": model,
        "dim": dim,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "counts": counts,
        "files": files,
        **(extra or {}),
    }
    (version / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
    return manifest


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def publish(index_dir: Path, tmp_version: Path) -> Path:
    """Make a fully written version current with one atomic rename, then drop old versions."""
    index_dir = Path(index_dir)
    _fsync_tree(tmp_version)
    final = tmp_version.with_name(tmp_version.name.removeprefix(".tmp-"))
    os.rename(tmp_version, final)
    link_tmp = index_dir / f".current-{uuid.uuid4().hex[:8]}"
    os.symlink(Path("versions") / final.name, link_tmp)
    os.replace(link_tmp, index_dir / "current")  # atomic: readers see the old or the new version
    _fsync_dir(index_dir)
    _prune_versions(index_dir, keep=final)
    logger.info("published %s", final.name)
    return final


def _prune_versions(index_dir: Path, keep: Path) -> None:
    versions = Path(index_dir) / "versions"
    done = sorted((p for p in versions.iterdir() if not p.name.startswith(".")), key=lambda p: p.name)
    for old in done[:-KEEP_VERSIONS]:
        if old != keep:
            shutil.rmtree(old, ignore_errors=True)
    # Leftovers of builds that died half way.
    for tmp in versions.glob(".tmp-*"):
        if time.time() - tmp.stat().st_mtime > 60:
            shutil.rmtree(tmp, ignore_errors=True)


def read_manifest(version: Path) -> dict:
    """Read and sanity-check a version's manifest."""
    path = Path(version) / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CorruptIndexError(f"{path} is missing; rebuild with `python -m index build`") from None
    except (ValueError, RecursionError) as e:
        raise CorruptIndexError(f"{path} is not valid JSON ({str(e)[:100]}); rebuild with `python -m index build`") from None
    if isinstance(manifest, dict) and manifest.get("format_version") != FORMAT_VERSION:
        raise CorruptIndexError(
            f"{path}: index format {str(manifest.get('format_version'))[:20]} is not {FORMAT_VERSION}; "
            "rebuild with `python -m index build --rebuild`"
        )
    problem = manifest_problem(manifest)
    if problem:
        raise CorruptIndexError(f"{path} was altered ({problem}); rebuild with `python -m index build --rebuild`")
    return manifest


def _is_int(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool) and x >= 0


def manifest_problem(manifest) -> str | None:
    """What is wrong with a manifest's shape (the fields readers use), or None: valid JSON can still be altered."""
    if not isinstance(manifest, dict):
        return f"a JSON {type(manifest).__name__}, not an object"
    files, counts = manifest.get("files"), manifest.get("counts")
    if not isinstance(files, dict) or not files:
        return "no file list"
    for name, info in files.items():
        if not isinstance(info, dict) or not _is_int(info.get("size")) or not isinstance(info.get("sha256"), str):
            return f"the entry of {name[:80]} has no size or sha256"
    if not isinstance(counts, dict) or not all(_is_int(v) for v in counts.values()):
        return "counts are not numbers"
    if not _is_int(counts.get("passages")) or not _is_int(counts.get("vectors")):
        return "no passage or vector count"
    for key, kind in (("model", str), ("dim", int), ("max_passage_chars", int), ("passage_vectors", str)):
        if manifest.get(key) is not None and not isinstance(manifest[key], kind):
            return f"{key} is a {type(manifest[key]).__name__}"
    return None


def verify_files(version: Path, manifest: dict, hashes: bool = True) -> None:
    """Check every file against the manifest: present, same size, and (hashes=True) same SHA-256."""
    for name, info in manifest.get("files", {}).items():
        p = Path(version) / name
        if not p.is_file():
            raise CorruptIndexError(f"{p} is missing; rebuild with `python -m index build --rebuild`")
        if p.stat().st_size != info["size"]:
            raise CorruptIndexError(
                f"{p} is {p.stat().st_size} bytes, the manifest says {info['size']} (truncated or replaced); "
                "rebuild with `python -m index build --rebuild`"
            )
        if hashes and file_sha256(p) != info["sha256"]:
            raise CorruptIndexError(f"{p} does not match its checksum; rebuild with `python -m index build --rebuild`")


def passage_vectors(manifest: dict | None) -> str:
    """The kind of passage vector an index was built with ("fp32" for indexes from before it was recorded)."""
    return (manifest or {}).get("passage_vectors") or "fp32"


def check_model(manifest: dict, model: str | None, dim: int | None, where: Path) -> None:
    """Refuse an index whose vectors come from another model or dimension."""
    if model is None or not manifest.get("counts", {}).get("vectors"):
        return
    if manifest.get("model") != model or (dim is not None and manifest.get("dim") != dim):
        raise ModelMismatchError(
            f"the index at {where} was built with model {manifest.get('model')!r} (dim {manifest.get('dim')}), "
            f"but the configured model is {model!r} (dim {dim}). Rebuild it for this model with "
            "`python -m index build --rebuild`, or set [index] model back in config.toml."
        )


def open_db(path: Path, readonly: bool = True) -> sqlite3.Connection:
    """Open a version's SQLite file; read-only versions are immutable, so no locking is needed."""
    if readonly:
        conn = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True, check_same_thread=False)
    else:
        conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    return conn


def require_version(index_dir: Path) -> Path:
    """The current version folder, or a clear error when the index was never built."""
    version = current_version(index_dir)
    if version is None or not version.is_dir():
        raise IndexNotBuiltError(f"no index at {index_dir}; build it with `python -m index build`")
    return version


# --- vectors -------------------------------------------------------------------------------------

# Exact search while the index is small; above the threshold an HNSW graph over the same float32
# vectors (IndexHNSWFlat keeps them in its storage, so candidates are still scored exactly).
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 256


def new_vector_index(dim: int, n: int, ann_threshold: int | None):
    """An empty FAISS index for n vectors: flat (exact) below ann_threshold, HNSW at or above it."""
    import faiss

    if ann_threshold is not None and n >= ann_threshold:
        inner = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        inner.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        inner.hnsw.efSearch = HNSW_EF_SEARCH
    else:
        inner = faiss.IndexFlatIP(dim)
    return faiss.IndexIDMap2(inner)


def vector_index_kind(index) -> str:
    """"flat" or "hnsw": what a FAISS index written by this module searches with."""
    import faiss

    inner = faiss.downcast_index(index.index)
    return "hnsw" if isinstance(inner, faiss.IndexHNSW) else "flat"


def _flat_storage(index):
    import faiss

    inner = faiss.downcast_index(index.index)
    return faiss.downcast_index(inner.storage) if isinstance(inner, faiss.IndexHNSW) else inner


def is_mapped(index) -> bool:
    """True when the index's vectors are memory-mapped from its file (read with mmap=True; never add to it)."""
    return not _flat_storage(index).codes.is_owned


def stored_vectors(index) -> np.ndarray:
    """The (ntotal, dim) float32 matrix a flat or HNSW-flat index holds, without copying it."""
    import faiss

    flat = _flat_storage(index)
    if flat.ntotal == 0:
        return np.zeros((0, flat.d), dtype=np.float32)
    return faiss.rev_swig_ptr(flat.get_xb(), flat.ntotal * flat.d).reshape(flat.ntotal, flat.d)


def add_vectors(index, rows: np.ndarray, vectors: np.ndarray) -> None:
    """Add vectors with their passage rows as ids."""
    if len(rows):
        index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), np.asarray(rows, dtype=np.int64))


def save_vectors(path: Path, index) -> None:
    """Write a FAISS index."""
    import faiss

    faiss.write_index(index, str(path))


def write_vectors(path: Path, rows: np.ndarray, vectors: np.ndarray, ann_threshold: int | None = None) -> None:
    """Write vectors to a FAISS file, with the passage rows as ids."""
    index = new_vector_index(vectors.shape[1], len(rows), ann_threshold)
    add_vectors(index, rows, vectors)
    save_vectors(path, index)


def read_vectors(path: Path, mmap: bool = False):
    """Read a FAISS file written by write_vectors; a damaged file becomes a CorruptIndexError.

    mmap=True maps the vectors from the file instead of reading them (read-only; fast start-up, and
    the pages are shared with other processes reading the same version).
    """
    import faiss

    try:
        flags = faiss.IO_FLAG_MMAP_IFC | faiss.IO_FLAG_READ_ONLY if mmap else 0
        return faiss.read_index(str(path), flags)
    except RuntimeError as e:
        raise CorruptIndexError(
            f"{path} cannot be read by FAISS ({str(e).splitlines()[0][:200]}); "
            "rebuild with `python -m index build --rebuild`"
        ) from None


_CORRUPT = {11, 26}  # SQLITE_CORRUPT, SQLITE_NOTADB: a damaged file (not "locked" or "disk full")


def _is_corrupt(e: sqlite3.DatabaseError) -> bool:
    code = getattr(e, "sqlite_errorcode", None)
    if code is None:
        return not isinstance(e, sqlite3.OperationalError)
    return code & 0xFF in _CORRUPT


def _truncated(path: Path) -> bool:
    """Whether a SQLite file is shorter than its header says (the header's page count, when valid)."""
    try:
        with open(path, "rb") as f:
            head = f.read(100)
        size = path.stat().st_size
    except OSError:
        return False
    if len(head) < 100 or not head.startswith(b"SQLite format 3\0"):
        return False  # empty (new) or not SQLite at all: sqlite itself says so
    page = int.from_bytes(head[16:18], "big")
    page = 65536 if page == 1 else page
    pages = int.from_bytes(head[28:32], "big")
    valid = head[24:28] == head[92:96]  # the page count is only kept up to date when these agree
    return valid and size < page * pages


class EmbeddingCache:
    """Vectors by content hash for one model and kind of passage vector, committed per batch (so embedding can resume).

    A damaged cache file (garbage, truncated) is only a cache: it is set aside as NAME.corrupt-<time>, with a
    warning, and a new one is started, so the passages are embedded again instead of the build failing.
    """

    def __init__(self, index_dir: Path, model: str, kind: str = "fp32"):
        folder = Path(index_dir) / "embeddings"
        folder.mkdir(parents=True, exist_ok=True)
        # fp32 keeps the name it always had; another kind of vector of the same model never shares a cache.
        self.path = folder / f"{model_slug(model)}{'' if kind == 'fp32' else '.' + kind}.sqlite"
        self.model, self._dim = model, None
        if _truncated(self.path):
            self._set_aside("truncated")
        try:
            self._open()
        except sqlite3.DatabaseError as e:
            if not _is_corrupt(e):
                raise
            self.conn.close()
            self._set_aside(str(e))
            self._open()

    def _open(self) -> None:
        self.conn = sqlite3.connect(self.path, check_same_thread=False)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("CREATE TABLE IF NOT EXISTS vectors (hash TEXT PRIMARY KEY, vec BLOB NOT NULL)")
        self.conn.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
        self.conn.execute("INSERT OR IGNORE INTO meta VALUES ('model', ?)", (self.model,))
        self.conn.commit()

    def _set_aside(self, why: str) -> None:
        """Rename the damaged file (and its WAL and shared-memory files) out of the way."""
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
        aside = self.path.with_name(f"{self.path.name}.corrupt-{stamp}-{uuid.uuid4().hex[:4]}")
        for suffix in ("", "-wal", "-shm"):
            src = self.path.with_name(self.path.name + suffix)
            if src.exists():
                os.replace(src, aside.with_name(aside.name + suffix))
        logger.warning("embedding cache %s is damaged (%s): set aside as %s; its passages will be embedded again",
                       self.path, why[:80], aside.name)

    def _recover(self, e: sqlite3.DatabaseError) -> None:
        """A read or write met a damaged page: start a new cache (or re-raise what is not damage)."""
        if not _is_corrupt(e):
            raise e
        self.conn.close()
        self._set_aside(str(e))
        self._open()
        if self._dim is not None:  # recorded by this run before the damage showed: keep it
            self._set_dim(self._dim)

    def dim(self) -> int | None:
        """The vector dimension recorded by the first embedding run, if any."""
        try:
            row = self.conn.execute("SELECT value FROM meta WHERE key = 'dim'").fetchone()
        except sqlite3.DatabaseError as e:
            self._recover(e)
            return None
        return int(row[0]) if row else None

    def set_dim(self, dim: int) -> None:
        """Record the vector dimension."""
        try:
            self._set_dim(dim)
        except sqlite3.DatabaseError as e:
            self._recover(e)
            self._set_dim(dim)

    def _set_dim(self, dim: int) -> None:
        self._dim = dim
        self.conn.execute("INSERT OR REPLACE INTO meta VALUES ('dim', ?)", (str(dim),))
        self.conn.commit()

    def hashes(self) -> set[str]:
        """Hashes that have a vector."""
        try:
            return {h for (h,) in self.conn.execute("SELECT hash FROM vectors")}
        except sqlite3.DatabaseError as e:
            self._recover(e)
            return set()

    def put(self, hashes: list[str], vectors: np.ndarray) -> None:
        """Store a batch of vectors and commit."""
        vectors = np.asarray(vectors, dtype=np.float32)
        rows = [(h, v.tobytes()) for h, v in zip(hashes, vectors)]
        try:
            self._put(rows)
        except sqlite3.DatabaseError as e:
            self._recover(e)
            self._put(rows)

    def _put(self, rows: list[tuple[str, bytes]]) -> None:
        self.conn.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?)", rows)
        self.conn.commit()

    def get(self, hashes: list[str], dim: int) -> tuple[list[int], np.ndarray]:
        """Vectors for the hashes that have one: (positions in `hashes`, matrix)."""
        positions: list[int] = []
        parts: list[np.ndarray] = []
        for pos, matrix in self.iter_get(hashes, dim):
            positions += pos
            parts.append(matrix)
        return positions, (np.concatenate(parts) if parts else np.empty((0, dim), dtype=np.float32))

    def count(self, hashes: list[str], chunk: int = 900) -> int:
        """How many of the (distinct) hashes have a vector."""
        unique, n = list(set(hashes)), 0
        try:
            for start in range(0, len(unique), chunk):
                part = unique[start : start + chunk]
                n += self.conn.execute(f"SELECT COUNT(*) FROM vectors WHERE hash IN ({','.join('?' * len(part))})",
                                       part).fetchone()[0]
        except sqlite3.DatabaseError as e:
            self._recover(e)
            return 0
        return n

    def iter_get(self, hashes: list[str], dim: int, chunk: int = 900):
        """Like get(), a chunk of hashes at a time: yields (positions in `hashes`, matrix) per chunk."""
        for start in range(0, len(hashes), chunk):
            part = hashes[start : start + chunk]
            q = f"SELECT hash, vec FROM vectors WHERE hash IN ({','.join('?' * len(set(part)))})"
            try:
                found = dict(self.conn.execute(q, list(set(part))).fetchall())
            except sqlite3.DatabaseError as e:
                self._recover(e)
                return  # the new cache is empty: nothing more to find
            positions = [start + i for i, h in enumerate(part) if h in found]
            matrix = np.empty((len(positions), dim), dtype=np.float32)
            for j, i in enumerate(positions):
                matrix[j] = np.frombuffer(found[hashes[i]], dtype=np.float32)
            if positions:
                yield positions, matrix

    def close(self) -> None:
        self.conn.close()
