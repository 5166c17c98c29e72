"""`add` of new files as an append: a copy of the current version with new rows, one BM25 segment, new vectors."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

from index import store
from index.writer.rows import (
    ARTICLE_COLS,
    FILE_COL,
    PASSAGE_COLS,
    PUBLISHED_COL,
    TEXT_COL,
    PreviousVersion,
    SourceFile,
)
from index.writer.write import count_rows, finish_version
from index.store.lexical import LexicalIndex

logger = logging.getLogger(__name__)


def append_version(index_dir, prev: PreviousVersion, given: list[SourceFile], model, encoder, config, report, *,
                   embed_now=None) -> Path | None:
    """Add new files to a copy of the current version: rows appended, vectors added to its FAISS index.

    Returns None (nothing written) when an added article would change rows already there (an id that
    exists, or a title that a listed headline already has): the caller then writes a whole version.
    """
    old = prev.db
    new_articles = [row for f in given for kind, row in f.rows() if kind == "article"]
    ids = [row[0] for row in new_articles]
    for chunk in range(0, len(ids), 900):
        part = ids[chunk : chunk + 900]
        if count_rows(old, f"SELECT COUNT(*) FROM articles WHERE id IN ({','.join('?' * len(part))})", tuple(part)):
            return None
    listed = {(r[0], r[1]) for r in old.execute("SELECT text, published_at FROM passages WHERE article_id IS NULL")}
    listed_texts = {t for t, _ in listed}
    if any(row[1] in listed_texts for row in new_articles):
        return None
    by_hash = dict(old.execute("SELECT content_hash, id FROM articles").fetchall())
    titles = {t for (t,) in old.execute("SELECT title FROM articles")}
    n0 = count_rows(old, "SELECT COUNT(*) FROM passages")

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
                if aid not in articles or articles[aid][-1] != p[FILE_COL]:
                    continue
            else:
                key = (p[TEXT_COL], p[PUBLISHED_COL])
                if p[TEXT_COL] in titles or key in listed:
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
    return finish_version(index_dir, tmp, db, prev.version, new_rows, model, encoder, config, report, lexical,
                           added=list(articles), embed_now=embed_now)
