"""Source files as rows: a seed file parsed (or the current version's copy reused) into article and passage rows."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from index import store
from index.writer.report import BuildReport
from index.config import IndexConfig
from index.errors import NewsIndexError
from index.ingest.seeds import Skipped, content_hash, read_seed_file
from index.ingest.split import PassageDraft, headline_passage, split_article
from index.store.lexical import tokenize

logger = logging.getLogger(__name__)


def passage_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


ARTICLE_COLS = ("id", "title", "published_at", "source", "url", "meta", "paragraphs", "content_hash", "origin", "file")


PASSAGE_COLS = ("article_id", "position", "kind", "text", "index_text", "title", "published_at", "source", "url",
                "tag", "hash", "tokens", "file")


TEXT_COL, PUBLISHED_COL, FILE_COL = PASSAGE_COLS.index("text"), PASSAGE_COLS.index("published_at"), PASSAGE_COLS.index("file")


@dataclass
class SourceFile:
    """One source file's share of a version; its rows ("article" | "passage", column tuple) come lazily."""

    path: str
    sha256: str
    format: str
    skipped: list[str]
    unused: dict
    rows: Callable[[], Iterator[tuple[str, tuple]]]

    def materialize(self) -> "SourceFile":
        """The same file with its rows held in memory (for the few files an `add` is given)."""
        rows = list(self.rows())
        return SourceFile(self.path, self.sha256, self.format, self.skipped, self.unused, lambda: iter(rows))


def parse_file(path: Path, sha: str, config: IndexConfig, report: BuildReport) -> SourceFile:
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
                yield "passage", passage_row(d, path)
        for h in batch.headlines:
            yield "passage", passage_row(headline_passage(h), path)

    return SourceFile(str(path), sha, batch.format, [str(s) for s in batch.skipped], dict(batch.unused), rows)


def passage_row(d: PassageDraft, path: Path) -> tuple:
    return (
        d.article_id, d.position, d.kind, d.text, d.index_text, d.title, d.published_at, d.source, d.url, d.tag,
        passage_hash(d.index_text), " ".join(tokenize(d.index_text)), str(path),
    )


class PreviousVersion:
    """Read access to the current version, to reuse what has not changed."""

    def __init__(self, version: Path):
        self.version = version
        self.manifest = store.read_manifest(version)
        self.db = store.open_db(version / store.DB)
        self.files = {r["path"]: dict(r) for r in self.db.execute("SELECT * FROM files")}
        self.excluded = {r[0] for r in self.db.execute("SELECT article_id FROM excluded")}

    @classmethod
    def open(cls, index_dir: Path) -> "PreviousVersion | None":
        version = store.current_version(index_dir)
        if version is None:
            return None
        try:
            return cls(version)
        except (NewsIndexError, OSError, Exception) as e:  # a broken old index must not block a new build
            logger.warning("previous index at %s not reused: %s", version, e)
            return None

    def file(self, path: str) -> SourceFile:
        f = self.files[path]

        def rows() -> Iterator[tuple[str, tuple]]:
            for r in self.db.execute(f"SELECT {','.join(ARTICLE_COLS)} FROM articles WHERE file = ?", (path,)):
                yield "article", tuple(r)
            q = f"SELECT {','.join(PASSAGE_COLS)} FROM passages WHERE file = ? ORDER BY row"
            for r in self.db.execute(q, (path,)):
                yield "passage", tuple(r)

        return SourceFile(path, f["sha256"], f["format"], json.loads(f["skipped"]), json.loads(f["unused"]), rows)

    def close(self) -> None:
        self.db.close()


def read_or_reuse(path: Path, sha: str, prev, config, report) -> SourceFile:
    old = prev.files.get(str(path)) if prev else None
    if old and old["sha256"] == sha and prev.manifest.get("max_passage_chars") == config.max_passage_chars:
        report.files_reused += 1
        f = prev.file(str(path))
        report.skipped += [Skipped(*s.split(": ", 1)) for s in f.skipped]
        report.unused.update(f.unused)
        return f
    return parse_file(path, sha, config, report)
