"""A whole new version: every file's rows streamed into SQLite, BM25, clusters, cached vectors, manifest, publish."""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path

from tqdm.auto import tqdm

from index import store
from index.writer.report import BuildReport
from index.writer.rows import ARTICLE_COLS, PASSAGE_COLS, SourceFile, parse_file, read_or_reuse
from index.writer.vectors import embed_first, write_cached_vectors
from index.schema import HEADLINE, PARAGRAPH
from index.store import duplicates
from index.store.lexical import LexicalIndex

logger = logging.getLogger(__name__)


def fill_counts(report: BuildReport, counts: dict) -> None:
    for key in ("articles", "passages", "paragraphs", "headlines", "vectors"):
        setattr(report, key, counts.get(key, 0))


class VersionWriter:
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

    def add(self, f: SourceFile) -> None:
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


def write_version(index_dir, paths, shas, prev, model, encoder, config, report, *, add: bool,
                   remove: Sequence[str], removed: Iterable[str] = (), progress: bool = True, embed_now=None) -> Path:
    """Write a complete version folder, file by file, and publish it.

    `removed`: ids removed before (they stay out unless given again); `remove`: ids to remove now.
    """
    given: list[SourceFile] = []
    excluded = (set(prev.excluded) if prev else set()) | set(removed)
    seen = {str(p) for p in paths}
    if add and prev:
        # Articles given again are no longer excluded: read the (few) given files first, from the files
        # themselves (the current version's copy of an unchanged file lacks its removed articles).
        given = [parse_file(p, shas[str(p)], config, report).materialize() for p in paths]
        for f in given:
            excluded -= {row[0] for kind, row in f.rows() if kind == "article"}
    excluded |= set(remove)
    tmp = store.new_version_dir(index_dir)
    db = store.open_db(tmp / store.DB, readonly=False)
    db.row_factory = None
    writer = VersionWriter(db, excluded, report)
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
            writer.add(read_or_reuse(p, shas[str(p)], prev, config, report))
            bar.update(p.stat().st_size)
    bar.close()
    writer.finish()
    report.rows_written = count_rows(db, "SELECT COUNT(*) FROM passages")
    return finish_version(index_dir, tmp, db, None, None, model, encoder, config, report, embed_now=embed_now)


def count_rows(db, query: str, args: tuple = ()) -> int:
    return int(db.execute(query, args).fetchone()[0])


def finish_version(index_dir, tmp, db, vectors_from, new_rows, model, encoder, config, report,
                    lexical: LexicalIndex | None = None, added: list[str] | None = None, embed_now=None) -> Path:
    """BM25 (from the stored tokens unless given), vectors from the cache, counts and manifest; then publish.

    With `embed_now` (an encoder), a few new passages are embedded first, so they are published with
    their vectors in this one version (``vectors.embed_first``).
    """
    report.articles = count_rows(db, "SELECT COUNT(*) FROM articles")
    report.passages = count_rows(db, "SELECT COUNT(*) FROM passages")
    report.headlines = count_rows(db, "SELECT COUNT(*) FROM passages WHERE kind = ?", (HEADLINE,))
    report.paragraphs = count_rows(db, "SELECT COUNT(*) FROM passages WHERE kind = ?", (PARAGRAPH,))
    (lexical or lexical_from_db(db)).save(tmp / store.LEXICAL)
    # Near-duplicate stories, listed in the manifest like every file; after an add, only pairs with a new article.
    if added is not None and vectors_from is not None:
        duplicates.update_clusters(db, tmp, vectors_from, added)
    else:
        duplicates.write_clusters(db, tmp)
    if new_rows is None:
        new_rows = list(db.execute("SELECT row, hash FROM passages ORDER BY row"))
    if embed_now is not None:
        report.embedded += embed_first(db, index_dir, embed_now, config, new_rows)
    db.close()
    dim, report.vectors, added = write_cached_vectors(
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


def lexical_from_db(db) -> LexicalIndex:
    """BM25 over the tokens stored with the passages (no re-tokenizing), streamed row by row."""
    return LexicalIndex.build(s.split(" ") if s else [] for (s,) in db.execute("SELECT tokens FROM passages ORDER BY row"))
