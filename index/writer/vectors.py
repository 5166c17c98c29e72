"""Vectors: the version's FAISS files from the embedding cache, and embedding what has none (resumable)."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from index import store
from index.writer.report import BuildReport
from index.config import IndexConfig
from index.models.encoder import embed_passages

logger = logging.getLogger(__name__)

# An add with at most this many passages not embedded yet (a channel post, a feed poll, a page) is
# embedded before its version is published: one version, searchable by meaning at once. A larger
# build is published lexical first and embedded after (embed_pending), so it is searchable sooner.
EMBED_FIRST_MAX = 256


def write_cached_vectors(version: Path, index_dir: Path, model: str, encoder, config: IndexConfig,
                          vectors_from: Path | None, rows: list[tuple[int, str]], n_passages: int):
    """Write the version's FAISS file: the vectors of `vectors_from` (if given) plus every cached vector of
    `rows` (row, hash) that has none yet. Returns (dimension, vectors, vectors added)."""
    cache = store.EmbeddingCache(index_dir, model, config.passage_vectors)
    try:
        dim = encoder.dim if encoder is not None else cache.dim()
        if dim is None:
            return None, 0, 0
        total, added = extend_vectors(vectors_from, version, rows, cache, dim, config, n_passages)
        return dim, total, added
    finally:
        cache.close()


def embed_first(db, index_dir: Path, encoder, config: IndexConfig, rows: list[tuple[int, str]]) -> int:
    """Embed into the cache the passages of `rows` (row, hash) that have no cached vector, if they are
    at most EMBED_FIRST_MAX; the number embedded (0: none missing, or too many to wait for)."""
    cache = store.EmbeddingCache(index_dir, encoder.name, config.passage_vectors)
    try:
        wanted = list(dict.fromkeys(h for _, h in rows))
        if not 0 < len(wanted) - cache.count(wanted) <= EMBED_FIRST_MAX:
            return 0  # counted in SQLite: a large build does not load the cache's hashes for nothing
        have = cache.hashes()
        missing = [h for h in wanted if h not in have]
        cache.set_dim(encoder.dim)
        texts = dict(db.execute(f"SELECT hash, index_text FROM passages WHERE hash IN ({','.join('?' * len(missing))})",
                                missing))
        vectors = embed_passages(encoder, [texts[h] for h in missing], config.batch_size, config.passage_vectors)
        cache.put(missing, vectors)
        return len(missing)
    finally:
        cache.close()


def extend_vectors(vectors_from: Path | None, out: Path, rows, cache, dim: int, config: IndexConfig,
                    n_passages: int) -> tuple[int, int]:
    """Write version `out`'s vectors: those of `vectors_from` plus the cached vectors of rows without one.
    Returns (total, added).

    The index type follows the number of passages (flat below [index] ann_threshold, HNSW from it);
    an index that has crossed the threshold is rebuilt from its stored vectors once. A large (HNSW)
    index is not rewritten for a few new vectors: it is hard-linked, and they go to a flat delta index
    beside it until that would pass [index] vectors_delta_max, when both are merged into one HNSW index.
    """
    import faiss

    has = np.zeros(n_passages, dtype=bool)
    base = delta = None
    if vectors_from is not None and (vectors_from / store.VECTORS).is_file():
        base = store.read_vectors(vectors_from / store.VECTORS, mmap=True)  # read-only until we know
        if (vectors_from / store.VECTORS_DELTA).is_file():
            delta = store.read_vectors(vectors_from / store.VECTORS_DELTA)
        for index in (base, delta):
            if index is not None:
                ids = faiss.vector_to_array(index.id_map)
                has[ids[ids < n_passages]] = True
    todo = [(r, h) for r, h in rows if not has[r]]
    wanted = store.vector_index_kind(store.new_vector_index(dim, n_passages, config.ann_threshold))
    in_delta = 0 if delta is None else delta.ntotal
    # Rows whose vectors are not cached yet (an add before embedding) add nothing now: not counted.
    if base is not None and wanted == "hnsw" and store.vector_index_kind(base) == "hnsw" \
            and in_delta + cache.count([h for _, h in todo]) <= config.vectors_delta_max:
        store.link_file(vectors_from / store.VECTORS, out / store.VECTORS)
        target = delta if delta is not None else store.new_vector_index(dim, 0, None)
        total_before = base.ntotal
    else:
        # One index of the wanted kind: the previous one read into memory and extended (an HNSW graph
        # grows by insertion), or rebuilt once when it crosses ann_threshold; then the delta and the new vectors.
        if base is not None and store.vector_index_kind(base) == wanted:
            target, merge = store.read_vectors(vectors_from / store.VECTORS), (delta,)
        else:
            target, merge = store.new_vector_index(dim, n_passages, config.ann_threshold), (base, delta)
        for index in merge:
            if index is not None and index.ntotal:
                store.add_vectors(target, faiss.vector_to_array(index.id_map), store.stored_vectors(index))
        total_before = 0
    added = 0
    for positions, matrix in cache.iter_get([h for _, h in todo], dim):
        store.add_vectors(target, np.fromiter((todo[i][0] for i in positions), np.int64, len(positions)), matrix)
        added += len(positions)
    if target.ntotal:
        name = store.VECTORS if total_before == 0 else store.VECTORS_DELTA
        store.save_vectors(out / name, target)
    return int(total_before + target.ntotal), added


def embed_pending(index_dir: Path, encoder, config: IndexConfig, *, progress: bool = True,
                  publish_every: int = 4096, report: BuildReport | None = None) -> int:
    """Embed the current version's passages that have no vector yet, publishing as it goes (caller holds the lock)."""
    version = store.require_version(index_dir)
    manifest = store.read_manifest(version)
    store.check_model(manifest, encoder.name, encoder.dim, version)
    db = store.open_db(version / store.DB)
    db.row_factory = None
    rows = db.execute("SELECT row, hash FROM passages ORDER BY row").fetchall()
    kind = store.passage_vectors(manifest)  # what the index was built with, not what config says now
    cache = store.EmbeddingCache(index_dir, encoder.name, kind)
    try:
        cache.set_dim(encoder.dim)
        have = cache.hashes()
        missing = {h for _, h in rows if h not in have}
        del have
        todo: dict[str, str] = {}
        if missing:
            for h, text in db.execute("SELECT hash, index_text FROM passages"):
                if h in missing:
                    todo.setdefault(h, text)
        db.close()
        if not todo:
            if manifest["counts"].get("vectors", 0) < len(rows) and cached_count(cache, rows, encoder.dim) > manifest["counts"].get("vectors", 0):
                publish_vectors(index_dir, version, manifest, rows, cache, encoder, config, report)
            return 0
        items = sorted(todo.items(), key=lambda kv: len(kv[1]))  # similar lengths batch with less padding
        done = since_publish = 0
        bar = tqdm(total=len(items), unit="passage", desc="embedding", disable=not progress)
        step = max(config.batch_size * 8, 64)
        for i in range(0, len(items), step):
            chunk = items[i : i + step]
            vectors = embed_passages(encoder, [t for _, t in chunk], config.batch_size, kind)
            cache.put([h for h, _ in chunk], vectors)
            done += len(chunk)
            since_publish += len(chunk)
            bar.update(len(chunk))
            if since_publish >= publish_every and done < len(items):
                version, manifest = publish_vectors(index_dir, version, manifest, rows, cache, encoder, config, report)
                since_publish = 0
        bar.close()
        publish_vectors(index_dir, version, manifest, rows, cache, encoder, config, report)
        return done
    finally:
        cache.close()


def cached_count(cache, rows, dim) -> int:
    have = cache.hashes()
    return sum(h in have for _, h in rows)


def publish_vectors(index_dir, version, manifest, rows, cache, encoder, config, report=None):
    """Publish a copy of `version` (files hard-linked) whose FAISS index also has the newly cached vectors."""
    tmp = store.new_version_dir(index_dir)
    for src in version.rglob("*"):
        rel = src.relative_to(version)
        if src.is_dir():
            (tmp / rel).mkdir(parents=True, exist_ok=True)
        elif src.name not in (store.VECTORS, store.VECTORS_DELTA, store.MANIFEST):
            (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
            store.link_file(src, tmp / rel)  # versions are immutable, so sharing the bytes is safe
    total, added = extend_vectors(version, tmp, rows, cache, encoder.dim, config, len(rows))
    if report is not None:
        report.vectors_added += added
    counts = dict(manifest["counts"], vectors=total)
    extra = {k: v for k, v in manifest.items() if k not in ("format_version", "model", "dim", "created_at", "counts", "files")}
    store.write_manifest(tmp, encoder.name, encoder.dim, counts, extra=extra, linked_from=version)
    final = store.publish(index_dir, tmp)
    return final, store.read_manifest(final)
