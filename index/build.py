"""Build and update an index: read seeds, split, tokenize, store, then fill in vectors."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from . import store
from .config import IndexConfig
from .errors import NewsIndexError
from .lexical import LexicalIndex, tokenize
from .models import HEADLINE, PARAGRAPH
from .seeds import Skipped, content_hash, iter_seed_files, read_seed_file
from .split import PassageDraft, headline_passage, split_article

logger = logging.getLogger(__name__)


@dataclass
class BuildReport:
    """What a build did, for the closing report."""

    files: int = 0
    files_reused: int = 0
    articles: int = 0
    duplicates: int = 0
    removed: int = 0
    passages: int = 0
    paragraphs: int = 0
    headlines: int = 0
    vectors: int = 0
    embedded: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    unused: Counter = field(default_factory=Counter)
    seconds: float = 0.0
    version: str = ""
    unchanged: bool = False

    def to_dict(self) -> dict:
        d = {k: v for k, v in self.__dict__.items() if k not in ("skipped", "unused")}
        d["skipped"] = [str(s) for s in self.skipped]
        d["unused"] = dict(self.unused)
        return d

    def summary(self) -> str:
        """The human-readable closing report."""
        lines = [
            f"index version {self.version}" + (" (unchanged)" if self.unchanged else ""),
            f"files        {self.files} ({self.files_reused} unchanged, reused)",
            f"articles     {self.articles} ({self.duplicates} duplicates stored once, {self.removed} removed)",
            f"passages     {self.passages} ({self.paragraphs} paragraphs, {self.headlines} headlines)",
            f"vectors      {self.vectors} of {self.passages} ({self.embedded} embedded now)",
            f"skipped      {len(self.skipped)}",
        ]
        lines += [f"  - {s}" for s in self.skipped]
        if self.unused:
            lines.append("read, not stored: " + ", ".join(f"{k} {v}" for k, v in sorted(self.unused.items())))
        lines.append(f"seconds      {self.seconds:.1f}")
        return "\n".join(lines)


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class _FileRows:
    """One source file's share of a version: article rows and passage rows (dicts, column -> value)."""

    path: str
    sha256: str
    format: str
    articles: list[dict]
    passages: list[dict]
    skipped: list[str]
    unused: dict


def _rows_from_file(path: Path, sha: str, config: IndexConfig, report: BuildReport) -> _FileRows:
    batch = read_seed_file(path)
    report.skipped += batch.skipped
    report.unused.update(batch.unused)
    articles, passages = [], []
    for a in batch.articles:
        articles.append(dict(
            id=a.id, title=a.title, published_at=a.published_at, source=a.source, url=a.url,
            meta=json.dumps(a.meta, ensure_ascii=False), paragraphs=json.dumps(a.paragraphs, ensure_ascii=False),
            content_hash=content_hash(a.title, a.paragraphs), origin=a.origin, file=str(path),
        ))
        passages += [_passage_row(d, path) for d in split_article(a, config.max_passage_chars)]
    passages += [_passage_row(headline_passage(h), path) for h in batch.headlines]
    return _FileRows(str(path), sha, batch.format, articles, passages, [str(s) for s in batch.skipped], dict(batch.unused))


def _passage_row(d: PassageDraft, path: Path) -> dict:
    return dict(
        article_id=d.article_id, position=d.position, kind=d.kind, text=d.text, index_text=d.index_text,
        title=d.title, published_at=d.published_at, source=d.source, url=d.url, tag=d.tag,
        hash=_hash(d.index_text), tokens=" ".join(tokenize(d.index_text)), file=str(path),
    )


class _Previous:
    """Read access to the current version, to reuse what has not changed."""

    def __init__(self, version: Path):
        self.version = version
        self.manifest = store.read_manifest(version)
        self.db = store.open_db(version / store.DB)
        self.files = {r["path"]: dict(r) for r in self.db.execute("SELECT * FROM files")}
        self.excluded = {r[0] for r in self.db.execute("SELECT article_id FROM excluded")}

    @classmethod
    def open(cls, index_dir: Path) -> "_Previous | None":
        version = store.current_version(index_dir)
        if version is None:
            return None
        try:
            return cls(version)
        except (NewsIndexError, OSError, Exception) as e:  # a broken old index must not block a new build
            logger.warning("previous index at %s not reused: %s", version, e)
            return None

    def rows_for(self, path: str) -> _FileRows:
        f = self.files[path]
        articles = [dict(r) for r in self.db.execute("SELECT * FROM articles WHERE file = ?", (path,))]
        passages = [dict(r) for r in self.db.execute("SELECT * FROM passages WHERE file = ? ORDER BY row", (path,))]
        for p in passages:
            del p["row"]
        return _FileRows(path, f["sha256"], f["format"], articles, passages, json.loads(f["skipped"]), json.loads(f["unused"]))

    def close(self) -> None:
        self.db.close()


def build_index(
    sources: Iterable[Path],
    index_dir: Path,
    encoder=None,
    config: IndexConfig | None = None,
    *,
    add: bool = False,
    remove: Sequence[str] = (),
    embed: bool | None = None,
    rebuild: bool = False,
    progress: bool = True,
) -> BuildReport:
    """Build (or with add=True, extend) the index at index_dir from seed files and folders.

    Unchanged files are reused without parsing; passages whose text was embedded before (by the same
    model) get their vector from the cache, so only new or changed passages are embedded. The new
    version is published atomically; a build that dies leaves the previous one current.
    """
    config = config or IndexConfig()
    index_dir = Path(index_dir)
    model = encoder.name if encoder is not None else config.model
    embed = config.embed_on_build if embed is None else embed
    start = time.perf_counter()
    report = BuildReport()
    with store.write_lock(index_dir):
        prev = None if rebuild else _Previous.open(index_dir)
        try:
            parts, excluded = _collect(sources, prev, config, report, add=add, remove=remove, progress=progress)
            unchanged = (
                prev is not None and not remove and not add
                and {p.path: p.sha256 for p in parts} == {k: v["sha256"] for k, v in prev.files.items()}
                and prev.manifest.get("model") == model
                and prev.manifest.get("max_passage_chars") == config.max_passage_chars
            )
            if unchanged:
                report.unchanged = True
                report.version = prev.version.name
                _fill_counts(report, prev.manifest["counts"])
            else:
                report.version = _write_version(index_dir, parts, excluded, model, encoder, config, report).name
        finally:
            if prev is not None:
                prev.close()
        if embed and encoder is not None:
            report.embedded = embed_missing(index_dir, encoder, config, progress=progress, _locked=True)
            report.vectors = store.read_manifest(store.require_version(index_dir))["counts"]["vectors"]
    report.seconds = time.perf_counter() - start
    logger.info("build done: %s", report.to_dict() | {"skipped": len(report.skipped)})
    return report


def _fill_counts(report: BuildReport, counts: dict) -> None:
    for key in ("articles", "passages", "paragraphs", "headlines", "vectors"):
        setattr(report, key, counts.get(key, 0))


def _collect(sources, prev, config, report, *, add: bool, remove: Sequence[str], progress: bool = True):
    """Every file's rows for the new version: reused when unchanged, parsed otherwise."""
    paths = list(iter_seed_files(sources))
    seen = {str(p) for p in paths}
    total = sum(p.stat().st_size for p in paths)
    parts: list[_FileRows] = []
    bar = tqdm(total=total, unit="B", unit_scale=True, desc="reading", disable=not progress or total < 1 << 20)
    for path in paths:
        sha = store.file_sha256(path)
        old = prev.files.get(str(path)) if prev else None
        if old and old["sha256"] == sha and prev.manifest.get("max_passage_chars") == config.max_passage_chars:
            parts.append(prev.rows_for(str(path)))
            report.files_reused += 1
            report.skipped += [Skipped(*s.split(": ", 1)) for s in parts[-1].skipped]
            report.unused.update(parts[-1].unused)
        else:
            parts.append(_rows_from_file(path, sha, config, report))
        bar.update(path.stat().st_size)
    bar.close()
    excluded = set(prev.excluded) if prev else set()
    if add and prev:
        # `add` keeps every file of the current version that was not given again.
        parts = [prev.rows_for(p) for p in prev.files if p not in seen] + parts
        for part in parts[-len(paths):] if paths else []:
            excluded -= {a["id"] for a in part.articles}
    excluded |= set(remove)
    report.files = len(parts)
    return parts, excluded


def _write_version(index_dir, parts, excluded, model, encoder, config, report) -> Path:
    """Write a complete version folder from file rows and publish it."""
    tmp = store.new_version_dir(index_dir)
    db = store.open_db(tmp / store.DB, readonly=False)
    db.executescript(store.SCHEMA)
    # Articles: an id seen again replaces the earlier one (an update); the same content under another
    # id is a duplicate and stored once.
    articles: dict[str, dict] = {}
    by_hash: dict[str, str] = {}
    for part in parts:
        for a in part.articles:
            if a["id"] in excluded:
                report.removed += 1
                continue
            first = by_hash.get(a["content_hash"])
            if first is not None and first != a["id"]:
                report.duplicates += 1
                continue
            if a["id"] in articles:
                report.duplicates += 1
            articles[a["id"]] = a
            by_hash[a["content_hash"]] = a["id"]
    article_files = {aid: a["file"] for aid, a in articles.items()}
    titles = {a["title"] for a in articles.values()}
    rows: list[dict] = []
    listed: set[tuple[str, str | None]] = set()
    for part in parts:
        for p in part.passages:
            aid = p["article_id"]
            if aid is not None:
                if article_files.get(aid) != p["file"]:
                    continue  # passage of a duplicate, replaced or removed article
            else:
                key = (p["text"], p["published_at"])
                if p["text"] in titles or key in listed:
                    report.unused["duplicate headlines"] += 1
                    continue
                listed.add(key)
            rows.append(p)
    cols = list(next(iter(articles.values())).keys()) if articles else []
    if cols:
        db.executemany(
            f"INSERT INTO articles ({','.join(cols)}) VALUES ({','.join('?' * len(cols))})",
            [tuple(a[c] for c in cols) for a in articles.values()],
        )
    pcols = ["row"] + list(rows[0].keys()) if rows else []
    if rows:
        db.executemany(
            f"INSERT INTO passages ({','.join(pcols)}) VALUES ({','.join('?' * len(pcols))})",
            [(i, *p.values()) for i, p in enumerate(rows)],
        )
    db.executemany(
        "INSERT INTO files VALUES (?, ?, ?, ?, ?)",
        [(p.path, p.sha256, p.format, json.dumps(p.skipped, ensure_ascii=False), json.dumps(p.unused)) for p in parts],
    )
    db.executemany("INSERT INTO excluded VALUES (?)", [(e,) for e in sorted(excluded)])
    db.commit()
    db.close()
    LexicalIndex.build([p["tokens"].split(" ") if p["tokens"] else [] for p in rows]).save(tmp / store.LEXICAL)
    dim, report.vectors = _write_cached_vectors(tmp, index_dir, model, [p["hash"] for p in rows], encoder)
    report.articles = len(articles)
    report.passages = len(rows)
    report.headlines = sum(p["kind"] == HEADLINE for p in rows)
    report.paragraphs = sum(p["kind"] == PARAGRAPH for p in rows)
    counts = dict(
        articles=report.articles, passages=report.passages, paragraphs=report.paragraphs,
        headlines=report.headlines, vectors=report.vectors,
    )
    store.write_manifest(
        tmp, model, dim, counts,
        extra={"max_passage_chars": config.max_passage_chars, "build": report.to_dict()},
    )
    return store.publish(index_dir, tmp)


def _write_cached_vectors(version: Path, index_dir: Path, model: str, hashes: list[str], encoder) -> tuple[int | None, int]:
    """Put every passage whose vector is cached into the version's FAISS file: (dimension, vectors)."""
    cache = store.EmbeddingCache(index_dir, model)
    try:
        dim = encoder.dim if encoder is not None else cache.dim()
        if dim is None:
            return None, 0
        positions, matrix = cache.get(hashes, dim)
        if positions:
            store.write_vectors(version / store.VECTORS, np.asarray(positions), matrix)
        return dim, len(positions)
    finally:
        cache.close()


def embed_missing(index_dir: Path, encoder, config: IndexConfig | None = None, *, progress: bool = True,
                  publish_every: int = 4096, _locked: bool = False) -> int:
    """Embed the current version's passages that have no vector yet; resumable, publishes as it goes."""
    config = config or IndexConfig()
    if not _locked:
        with store.write_lock(index_dir):
            return embed_missing(index_dir, encoder, config, progress=progress,
                                 publish_every=publish_every, _locked=True)
    version = store.require_version(index_dir)
    manifest = store.read_manifest(version)
    store.check_model(manifest, encoder.name, encoder.dim, version)
    db = store.open_db(version / store.DB)
    rows = db.execute("SELECT row, hash, index_text FROM passages ORDER BY row").fetchall()
    db.close()
    cache = store.EmbeddingCache(index_dir, encoder.name)
    try:
        cache.set_dim(encoder.dim)
        have = cache.hashes()
        todo: dict[str, str] = {}
        for r in rows:
            if r["hash"] not in have:
                todo.setdefault(r["hash"], r["index_text"])
        if not todo:
            if manifest["counts"].get("vectors", 0) < len(rows) and _cached_count(cache, rows, encoder.dim) > manifest["counts"].get("vectors", 0):
                _publish_vectors(index_dir, version, manifest, rows, cache, encoder)
            return 0
        items = sorted(todo.items(), key=lambda kv: len(kv[1]))  # similar lengths batch with less padding
        done = since_publish = 0
        bar = tqdm(total=len(items), unit="passage", desc="embedding", disable=not progress)
        step = max(config.batch_size * 8, 64)
        for i in range(0, len(items), step):
            chunk = items[i : i + step]
            vectors = encoder.encode_passages([t for _, t in chunk], batch_size=config.batch_size)
            cache.put([h for h, _ in chunk], vectors)
            done += len(chunk)
            since_publish += len(chunk)
            bar.update(len(chunk))
            if since_publish >= publish_every and done < len(items):
                version, manifest = _publish_vectors(index_dir, version, manifest, rows, cache, encoder)
                since_publish = 0
        bar.close()
        _publish_vectors(index_dir, version, manifest, rows, cache, encoder)
        return done
    finally:
        cache.close()


def _cached_count(cache, rows, dim) -> int:
    have = cache.hashes()
    return sum(r["hash"] in have for r in rows)


def _publish_vectors(index_dir, version, manifest, rows, cache, encoder):
    """Publish a copy of `version` (files hard-linked) with every cached vector in its FAISS file."""
    tmp = store.new_version_dir(index_dir)
    for src in version.rglob("*"):
        rel = src.relative_to(version)
        if src.is_dir():
            (tmp / rel).mkdir(parents=True, exist_ok=True)
        elif src.name not in (store.VECTORS, store.MANIFEST):
            (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
            os.link(src, tmp / rel)  # versions are immutable, so sharing the bytes is safe
    positions, matrix = cache.get([r["hash"] for r in rows], encoder.dim)
    if positions:
        store.write_vectors(tmp / store.VECTORS, np.asarray([rows[i]["row"] for i in positions]), matrix)
    counts = dict(manifest["counts"], vectors=len(positions))
    extra = {k: v for k, v in manifest.items() if k not in ("format_version", "model", "dim", "created_at", "counts", "files")}
    store.write_manifest(tmp, encoder.name, encoder.dim, counts, extra=extra)
    final = store.publish(index_dir, tmp)
    return final, store.read_manifest(final)


def index_is_stale(sources: Iterable[Path], index_dir: Path, config: IndexConfig | None = None) -> bool:
    """True when the index is missing or its source files, model or splitting differ from the config."""
    config = config or IndexConfig()
    version = store.current_version(index_dir)
    if version is None:
        return True
    try:
        manifest = store.read_manifest(version)
        db = store.open_db(version / store.DB)
        files = {r["path"]: r["sha256"] for r in db.execute("SELECT path, sha256 FROM files")}
        db.close()
    except (NewsIndexError, OSError, Exception):
        return True
    now = {str(p): store.file_sha256(p) for p in iter_seed_files(sources)}
    return (
        files != now
        or manifest.get("model") != config.model
        or manifest.get("max_passage_chars") != config.max_passage_chars
    )
