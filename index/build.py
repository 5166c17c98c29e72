"""Build and update an index: read seeds, split, tokenize, store, then fill in vectors."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import shutil
import sqlite3
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from . import dedupe, store
from .config import IndexConfig
from .encoder import embed_passages
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
    rows_written: int = 0  # passage rows this build wrote into SQLite (an `add` writes only its own)
    vectors_added: int = 0  # vectors this build added to the FAISS index from the cache
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


ARTICLE_COLS = ("id", "title", "published_at", "source", "url", "meta", "paragraphs", "content_hash", "origin", "file")
PASSAGE_COLS = ("article_id", "position", "kind", "text", "index_text", "title", "published_at", "source", "url",
                "tag", "hash", "tokens", "file")
_TEXT, _PUBLISHED, _FILE = PASSAGE_COLS.index("text"), PASSAGE_COLS.index("published_at"), PASSAGE_COLS.index("file")


@dataclass
class _File:
    """One source file's share of a version; its rows ("article" | "passage", column tuple) come lazily."""

    path: str
    sha256: str
    format: str
    skipped: list[str]
    unused: dict
    rows: Callable[[], Iterator[tuple[str, tuple]]]

    def materialize(self) -> "_File":
        """The same file with its rows held in memory (for the few files an `add` is given)."""
        rows = list(self.rows())
        return _File(self.path, self.sha256, self.format, self.skipped, self.unused, lambda: iter(rows))


def _parse_file(path: Path, sha: str, config: IndexConfig, report: BuildReport) -> _File:
    batch = read_seed_file(path)
    report.skipped += batch.skipped
    report.unused.update(batch.unused)

    def rows() -> Iterator[tuple[str, tuple]]:
        for a in batch.articles:
            yield "article", (
                a.id, a.title, a.published_at, a.source, a.url, json.dumps(a.meta, ensure_ascii=False),
                json.dumps(a.paragraphs, ensure_ascii=False), content_hash(a.title, a.paragraphs), a.origin, str(path),
            )
            for d in split_article(a, config.max_passage_chars):
                yield "passage", _passage_row(d, path)
        for h in batch.headlines:
            yield "passage", _passage_row(headline_passage(h), path)

    return _File(str(path), sha, batch.format, [str(s) for s in batch.skipped], dict(batch.unused), rows)


def _passage_row(d: PassageDraft, path: Path) -> tuple:
    return (
        d.article_id, d.position, d.kind, d.text, d.index_text, d.title, d.published_at, d.source, d.url, d.tag,
        _hash(d.index_text), " ".join(tokenize(d.index_text)), str(path),
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

    def file(self, path: str) -> _File:
        f = self.files[path]

        def rows() -> Iterator[tuple[str, tuple]]:
            for r in self.db.execute(f"SELECT {','.join(ARTICLE_COLS)} FROM articles WHERE file = ?", (path,)):
                yield "article", tuple(r)
            q = f"SELECT {','.join(PASSAGE_COLS)} FROM passages WHERE file = ? ORDER BY row"
            for r in self.db.execute(q, (path,)):
                yield "passage", tuple(r)

        return _File(path, f["sha256"], f["format"], json.loads(f["skipped"]), json.loads(f["unused"]), rows)

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

    Files are read one at a time and their rows streamed into the new version's SQLite, so memory
    does not grow with the corpus. Unchanged files are reused without parsing; passages whose text
    was embedded before (by the same model) get their vector from the cache, so only new or changed
    passages are embedded. `add` of new files appends to a copy of the current version: new rows,
    one new BM25 segment, new vectors. The new version is
    published atomically; a build that dies leaves the previous one current.
    """
    config = config or IndexConfig()
    index_dir = Path(index_dir)
    model = encoder.name if encoder is not None else config.model
    embed = config.embed_on_build if embed is None else embed
    start = time.perf_counter()
    report = BuildReport()
    with store.write_lock(index_dir):
        prev = None if rebuild else _Previous.open(index_dir)
        # The kind of passage vector: an index keeps the one it was built with (its vectors never mix);
        # a new index, a rebuild or another model gets the configured one.
        if prev is not None and prev.manifest.get("model") == model:
            config = dataclasses.replace(config, passage_vectors=store.passage_vectors(prev.manifest))
        elif encoder is not None and config.passage_vectors != "fp32" and not _can_embed(encoder, config.passage_vectors):
            logger.warning("%s cannot make %s passage vectors: this new index gets fp32 ones", model,
                           config.passage_vectors)
            config = dataclasses.replace(config, passage_vectors="fp32")
        try:
            paths = list(iter_seed_files(sources))
            shas = {str(p): store.file_sha256(p) for p in paths}
            same_setup = (
                prev is not None and prev.manifest.get("model") == model
                and prev.manifest.get("max_passage_chars") == config.max_passage_chars
            )
            if same_setup and not remove and not add and shas == {k: v["sha256"] for k, v in prev.files.items()}:
                report.unchanged = True
                report.version = prev.version.name
                report.files = report.files_reused = len(paths)
                for f in prev.files.values():
                    report.skipped += [Skipped(*s.split(": ", 1)) for s in json.loads(f["skipped"])]
                    report.unused.update(json.loads(f["unused"]))
                _fill_counts(report, prev.manifest["counts"])
            else:
                version = None
                if add and same_setup and not remove and not any(p in prev.files for p in shas):
                    given = [_parse_file(p, shas[str(p)], config, report).materialize() for p in paths]
                    version = _append_version(index_dir, prev, given, model, encoder, config, report)
                    if version is None:
                        report.skipped, report.unused = [], Counter()  # the full path below reads them again
                if version is None:
                    version = _write_version(index_dir, paths, shas, prev, model, encoder, config, report,
                                             add=add, remove=remove, progress=progress)
                report.version = version.name
        finally:
            if prev is not None:
                prev.close()
        if embed and encoder is not None:
            report.embedded = embed_missing(index_dir, encoder, config, progress=progress, _locked=True, _report=report)
            report.vectors = store.read_manifest(store.require_version(index_dir))["counts"]["vectors"]
        _sync_backend(index_dir, config, encoder, rebuild=rebuild)
    report.seconds = time.perf_counter() - start
    logger.info("build done: %s", report.to_dict() | {"skipped": len(report.skipped)})
    return report


def _can_embed(encoder, kind: str) -> bool:
    """Whether `encoder` makes `kind` passage vectors (for a new index; an existing one insists on its own)."""
    from .encoder import EncoderError

    try:
        embed_passages(encoder, ["测试"], 1, kind)
    except EncoderError:
        return False
    return True


def _fill_counts(report: BuildReport, counts: dict) -> None:
    for key in ("articles", "passages", "paragraphs", "headlines", "vectors"):
        setattr(report, key, counts.get(key, 0))


class _VersionWriter:
    """Stream files' rows into a new version's SQLite, deduplicating as they come.

    Articles: an id seen again replaces the earlier one (an update); the same content under another
    id is a duplicate and stored once. Passages are staged in a temporary database and numbered at the
    end, keeping those of the surviving articles and each listed headline once.
    """

    def __init__(self, db: sqlite3.Connection, excluded: set[str], report: BuildReport):
        self.db, self.excluded, self.report = db, excluded, report
        db.executescript(store.SCHEMA)
        db.execute("ATTACH DATABASE '' AS stage")  # a private temporary file, deleted on close
        db.execute(f"CREATE TABLE stage.passages (seq INTEGER PRIMARY KEY, {', '.join(PASSAGE_COLS)})")
        self.article_file: dict[str, str] = {}
        self.by_hash: dict[str, str] = {}
        self.staged = 0

    def add(self, f: _File) -> None:
        insert = (f"INSERT INTO stage.passages ({','.join(PASSAGE_COLS)}) "
                  f"VALUES ({','.join('?' * len(PASSAGE_COLS))})")
        buf: list[tuple] = []
        for kind, row in f.rows():
            if kind == "passage":
                buf.append(row)
                if len(buf) >= 2000:
                    self.db.executemany(insert, buf)
                    self.staged += len(buf)
                    buf.clear()
            else:
                self._article(row)
        self.db.executemany(insert, buf)
        self.staged += len(buf)
        self.db.execute(
            "INSERT INTO files VALUES (?, ?, ?, ?, ?)",
            (f.path, f.sha256, f.format, json.dumps(f.skipped, ensure_ascii=False), json.dumps(f.unused)),
        )
        self.report.files += 1

    def _article(self, row: tuple) -> None:
        aid, chash = row[0], row[7]
        if aid in self.excluded:
            self.report.removed += 1
            return
        first = self.by_hash.get(chash)
        if first is not None and first != aid:
            self.report.duplicates += 1
            return
        if aid in self.article_file:
            self.report.duplicates += 1
        self.article_file[aid] = row[-1]
        self.by_hash[chash] = aid
        self.db.execute(f"INSERT OR REPLACE INTO articles ({','.join(ARTICLE_COLS)}) "
                        f"VALUES ({','.join('?' * len(ARTICLE_COLS))})", row)

    def finish(self) -> None:
        db = self.db
        db.execute("CREATE TABLE stage.keep (seq INTEGER PRIMARY KEY)")
        # Passages of the surviving articles (not of a duplicate, replaced or removed one)...
        db.execute("INSERT INTO stage.keep SELECT s.seq FROM stage.passages s "
                   "JOIN main.articles a ON a.id = s.article_id AND a.file = s.file")
        # ...and each listed headline once, unless an article has it as its title.
        db.execute("INSERT OR IGNORE INTO stage.keep SELECT MIN(seq) FROM stage.passages "
                   "WHERE article_id IS NULL AND text NOT IN (SELECT title FROM main.articles) "
                   "GROUP BY text, published_at")
        cols = ",".join(PASSAGE_COLS)
        db.execute(f"INSERT INTO main.passages (row, {cols}) "
                   f"SELECT ROW_NUMBER() OVER (ORDER BY s.seq) - 1, {','.join('s.' + c for c in PASSAGE_COLS)} "
                   "FROM stage.passages s JOIN stage.keep k ON k.seq = s.seq ORDER BY s.seq")
        (listed,) = db.execute("SELECT COUNT(*) FROM stage.passages WHERE article_id IS NULL").fetchone()
        (kept,) = db.execute("SELECT COUNT(*) FROM main.passages WHERE article_id IS NULL").fetchone()
        if listed > kept:
            self.report.unused["duplicate headlines"] += listed - kept
        db.executemany("INSERT INTO excluded VALUES (?)", [(e,) for e in sorted(self.excluded)])
        db.commit()
        db.execute("DETACH DATABASE stage")


def _write_version(index_dir, paths, shas, prev, model, encoder, config, report, *, add: bool,
                   remove: Sequence[str], progress: bool = True) -> Path:
    """Write a complete version folder, file by file, and publish it."""
    given: list[_File] = []
    excluded = set(prev.excluded) if prev else set()
    seen = {str(p) for p in paths}
    if add and prev:
        # Articles given again are no longer excluded: read the (few) given files first.
        given = [_read_or_reuse(p, shas[str(p)], prev, config, report).materialize() for p in paths]
        for f in given:
            excluded -= {row[0] for kind, row in f.rows() if kind == "article"}
    excluded |= set(remove)
    tmp = store.new_version_dir(index_dir)
    db = store.open_db(tmp / store.DB, readonly=False)
    db.row_factory = None
    writer = _VersionWriter(db, excluded, report)
    total = sum(p.stat().st_size for p in paths)
    bar = tqdm(total=total, unit="B", unit_scale=True, desc="reading", disable=not progress or total < 1 << 20)
    if add and prev:
        # `add` keeps every file of the current version that was not given again, before the given ones.
        for old in [p for p in prev.files if p not in seen]:
            writer.add(prev.file(old))
        for f, p in zip(given, paths):
            writer.add(f)
            bar.update(p.stat().st_size)
    else:
        for p in paths:
            writer.add(_read_or_reuse(p, shas[str(p)], prev, config, report))
            bar.update(p.stat().st_size)
    bar.close()
    writer.finish()
    report.rows_written = _count(db, "SELECT COUNT(*) FROM passages")
    return _finish_version(index_dir, tmp, db, None, None, model, encoder, config, report)


def _read_or_reuse(path: Path, sha: str, prev, config, report) -> _File:
    old = prev.files.get(str(path)) if prev else None
    if old and old["sha256"] == sha and prev.manifest.get("max_passage_chars") == config.max_passage_chars:
        report.files_reused += 1
        f = prev.file(str(path))
        report.skipped += [Skipped(*s.split(": ", 1)) for s in f.skipped]
        report.unused.update(f.unused)
        return f
    return _parse_file(path, sha, config, report)


def _count(db, query: str, args: tuple = ()) -> int:
    return int(db.execute(query, args).fetchone()[0])


def _append_version(index_dir, prev: _Previous, given: list[_File], model, encoder, config, report) -> Path | None:
    """Add new files to a copy of the current version: rows appended, vectors added to its FAISS index.

    Returns None (nothing written) when an added article would change rows already there (an id that
    exists, or a title that a listed headline already has): the caller then writes a whole version.
    """
    old = prev.db
    new_articles = [row for f in given for kind, row in f.rows() if kind == "article"]
    ids = [row[0] for row in new_articles]
    for chunk in range(0, len(ids), 900):
        part = ids[chunk : chunk + 900]
        if _count(old, f"SELECT COUNT(*) FROM articles WHERE id IN ({','.join('?' * len(part))})", tuple(part)):
            return None
    listed = {(r[0], r[1]) for r in old.execute("SELECT text, published_at FROM passages WHERE article_id IS NULL")}
    listed_texts = {t for t, _ in listed}
    if any(row[1] in listed_texts for row in new_articles):
        return None
    by_hash = dict(old.execute("SELECT content_hash, id FROM articles").fetchall())
    titles = {t for (t,) in old.execute("SELECT title FROM articles")}
    n0 = _count(old, "SELECT COUNT(*) FROM passages")

    tmp = store.new_version_dir(index_dir)
    shutil.copyfile(prev.version / store.DB, tmp / store.DB)
    db = store.open_db(tmp / store.DB, readonly=False)
    db.row_factory = None
    articles: dict[str, tuple] = {}
    for row in new_articles:
        first = by_hash.get(row[7])
        if first is not None and first != row[0]:
            report.duplicates += 1
            continue
        if row[0] in articles:
            report.duplicates += 1
        articles[row[0]] = row
        by_hash[row[7]] = row[0]
    titles |= {a[1] for a in articles.values()}
    rows: list[tuple] = []
    for f in given:
        for kind, p in f.rows():
            if kind != "passage":
                continue
            aid = p[0]
            if aid is not None:
                if aid not in articles or articles[aid][-1] != p[_FILE]:
                    continue
            else:
                key = (p[_TEXT], p[_PUBLISHED])
                if p[_TEXT] in titles or key in listed:
                    report.unused["duplicate headlines"] += 1
                    continue
                listed.add(key)
            rows.append(p)
    db.executemany(f"INSERT INTO articles ({','.join(ARTICLE_COLS)}) VALUES ({','.join('?' * len(ARTICLE_COLS))})",
                   list(articles.values()))
    db.executemany(f"INSERT INTO passages (row, {','.join(PASSAGE_COLS)}) "
                   f"VALUES ({','.join('?' * (len(PASSAGE_COLS) + 1))})",
                   [(n0 + i, *p) for i, p in enumerate(rows)])
    db.executemany("INSERT INTO files VALUES (?, ?, ?, ?, ?)", [
        (f.path, f.sha256, f.format, json.dumps(f.skipped, ensure_ascii=False), json.dumps(f.unused)) for f in given
    ])
    db.executemany("DELETE FROM excluded WHERE article_id = ?", [(i,) for i in articles])
    db.commit()
    report.files = len(prev.files) + len(given)
    report.rows_written = len(rows)
    new_rows = [(n0 + i, p[PASSAGE_COLS.index("hash")]) for i, p in enumerate(rows)]
    # BM25 gets one new segment for the new rows; the current version's segments are linked, not rebuilt.
    tok = PASSAGE_COLS.index("tokens")
    lexical = LexicalIndex.load(prev.version / store.LEXICAL, mmap=True).append(
        [p[tok].split(" ") if p[tok] else [] for p in rows])
    return _finish_version(index_dir, tmp, db, prev.version, new_rows, model, encoder, config, report, lexical,
                           added=list(articles))


def _finish_version(index_dir, tmp, db, vectors_from, new_rows, model, encoder, config, report,
                    lexical: LexicalIndex | None = None, added: list[str] | None = None) -> Path:
    """BM25 (from the stored tokens unless given), vectors from the cache, counts and manifest; then publish."""
    report.articles = _count(db, "SELECT COUNT(*) FROM articles")
    report.passages = _count(db, "SELECT COUNT(*) FROM passages")
    report.headlines = _count(db, "SELECT COUNT(*) FROM passages WHERE kind = ?", (HEADLINE,))
    report.paragraphs = _count(db, "SELECT COUNT(*) FROM passages WHERE kind = ?", (PARAGRAPH,))
    (lexical or _lexical_from_db(db)).save(tmp / store.LEXICAL)
    # Near-duplicate stories, listed in the manifest like every file; after an add, only pairs with a new article.
    if added is not None and vectors_from is not None:
        dedupe.update_clusters(db, tmp, vectors_from, added)
    else:
        dedupe.write_clusters(db, tmp)
    if new_rows is None:
        new_rows = list(db.execute("SELECT row, hash FROM passages ORDER BY row"))
    db.close()
    dim, report.vectors, added = _write_cached_vectors(
        tmp, index_dir, model, encoder, config, vectors_from, new_rows, report.passages)
    report.vectors_added += added
    counts = dict(
        articles=report.articles, passages=report.passages, paragraphs=report.paragraphs,
        headlines=report.headlines, vectors=report.vectors,
    )
    store.write_manifest(
        tmp, model, dim, counts,
        extra={"max_passage_chars": config.max_passage_chars, "passage_vectors": config.passage_vectors,
               "build": report.to_dict()},
        linked_from=vectors_from,  # BM25 segments linked from it keep their checksums
    )
    return store.publish(index_dir, tmp)


def _lexical_from_db(db) -> LexicalIndex:
    """BM25 over the tokens stored with the passages (no re-tokenizing), streamed row by row."""
    return LexicalIndex.build(s.split(" ") if s else [] for (s,) in db.execute("SELECT tokens FROM passages ORDER BY row"))


def _write_cached_vectors(version: Path, index_dir: Path, model: str, encoder, config: IndexConfig,
                          vectors_from: Path | None, rows: list[tuple[int, str]], n_passages: int):
    """Write the version's FAISS file: the vectors of `vectors_from` (if given) plus every cached vector of
    `rows` (row, hash) that has none yet. Returns (dimension, vectors, vectors added)."""
    cache = store.EmbeddingCache(index_dir, model, config.passage_vectors)
    try:
        dim = encoder.dim if encoder is not None else cache.dim()
        if dim is None:
            return None, 0, 0
        total, added = _extend_vectors(vectors_from, version, rows, cache, dim, config, n_passages)
        return dim, total, added
    finally:
        cache.close()


def _extend_vectors(vectors_from: Path | None, out: Path, rows, cache, dim: int, config: IndexConfig,
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


def embed_missing(index_dir: Path, encoder, config: IndexConfig | None = None, *, progress: bool = True,
                  publish_every: int = 4096, _locked: bool = False, _report: BuildReport | None = None) -> int:
    """Embed the current version's passages that have no vector yet; resumable, publishes as it goes."""
    config = config or IndexConfig()
    if not _locked:
        with store.write_lock(index_dir):
            done = embed_missing(index_dir, encoder, config, progress=progress,
                                 publish_every=publish_every, _locked=True, _report=_report)
            _sync_backend(index_dir, config, encoder)
            return done
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
            if manifest["counts"].get("vectors", 0) < len(rows) and _cached_count(cache, rows, encoder.dim) > manifest["counts"].get("vectors", 0):
                _publish_vectors(index_dir, version, manifest, rows, cache, encoder, config, _report)
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
                version, manifest = _publish_vectors(index_dir, version, manifest, rows, cache, encoder, config, _report)
                since_publish = 0
        bar.close()
        _publish_vectors(index_dir, version, manifest, rows, cache, encoder, config, _report)
        return done
    finally:
        cache.close()


def _sync_backend(index_dir: Path, config: IndexConfig, encoder, rebuild: bool = False) -> None:
    """With [index] backend = "milvus": mirror the version just published into Milvus (index.milvus)."""
    if config.backend == "milvus":
        from . import milvus

        milvus.sync_index(index_dir, config, rebuild=rebuild, encoder=encoder)


def _cached_count(cache, rows, dim) -> int:
    have = cache.hashes()
    return sum(h in have for _, h in rows)


def _publish_vectors(index_dir, version, manifest, rows, cache, encoder, config, report=None):
    """Publish a copy of `version` (files hard-linked) whose FAISS index also has the newly cached vectors."""
    tmp = store.new_version_dir(index_dir)
    for src in version.rglob("*"):
        rel = src.relative_to(version)
        if src.is_dir():
            (tmp / rel).mkdir(parents=True, exist_ok=True)
        elif src.name not in (store.VECTORS, store.VECTORS_DELTA, store.MANIFEST):
            (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
            store.link_file(src, tmp / rel)  # versions are immutable, so sharing the bytes is safe
    total, added = _extend_vectors(version, tmp, rows, cache, encoder.dim, config, len(rows))
    if report is not None:
        report.vectors_added += added
    counts = dict(manifest["counts"], vectors=total)
    extra = {k: v for k, v in manifest.items() if k not in ("format_version", "model", "dim", "created_at", "counts", "files")}
    store.write_manifest(tmp, encoder.name, encoder.dim, counts, extra=extra, linked_from=version)
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
