"""What the index holds beyond the seeds: every added file and article, kept under ``<index dir>/added/``,
and the ids removed, kept in ``<index dir>/removed.txt``.

The index is the seed files plus these, minus those. A build re-reads all of it, so nothing an
operator adds (a file, a URL, a feed item, a channel post) or removes is undone when the seeds change
or the index is rebuilt, even with ``--rebuild``; only the seeds decide whether the index is stale.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import shutil
import sqlite3
from collections.abc import Iterable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlsplit

from index import store
from index.ingest.seeds import content_hash
from index.schema import Article

ADDED_DIR = "added"
REMOVED = "removed.txt"  # one article id a line: the current version's removed ids
# Feed items were kept under <index dir>/feeds/ before every add was; an index that has them keeps them.
OLDER_DIRS = ("feeds",)


def added_dir(index_dir: Path) -> Path:
    """Where added files and articles are kept."""
    return Path(index_dir) / ADDED_DIR


def added_dirs(index_dir: Path) -> list[Path]:
    """The folders of added files that exist, the current one last (its files are the newest)."""
    return [d for d in (Path(index_dir) / n for n in (*OLDER_DIRS, ADDED_DIR)) if d.is_dir()]


def with_added(sources: Iterable[Path], index_dir: Path) -> list[Path]:
    """The seed sources followed by the index's added files (each folder once)."""
    sources = [Path(s) for s in sources]
    given = {s.resolve() for s in sources}
    return sources + [d for d in added_dirs(index_dir) if d.resolve() not in given]


def is_added(path: str | Path, index_dir: Path) -> bool:
    """Whether `path` is one of the index's added files (not a seed)."""
    path = Path(path).resolve()
    return any(path.is_relative_to((Path(index_dir) / n).resolve()) for n in (*OLDER_DIRS, ADDED_DIR))


def _stamp() -> str:
    # File names sort in the order they were added: a rebuild reads them so, and a later edit wins.
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%f")


def slug(key: str) -> str:
    """A short file-name-safe name for a URL or any other key."""
    parts = urlsplit(key)
    name = re.sub(r"[^A-Za-z0-9]+", "-", f"{parts.hostname or ''}{parts.path}").strip("-")[:40] or "feed"
    return f"{name}-{hashlib.sha256(key.encode()).hexdigest()[:6]}"


def write_articles(index_dir: Path, name: str, articles: list[Article]) -> Path:
    """Write articles to a new ``<index>/added/<UTC time>-<name>.jsonl`` (written whole, then renamed)."""
    folder = added_dir(index_dir)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{_stamp()}-{name}.jsonl"
    tmp = folder / f".{path.name}.tmp"
    with tmp.open("w", encoding="utf-8") as f:
        for a in articles:
            f.write(json.dumps(a.to_json(), ensure_ascii=False) + "\n")
    tmp.replace(path)
    return path


@contextlib.contextmanager
def kept(files: Iterable[Path], index_dir: Path, seeds: Iterable[Path] = ()) -> Iterator[list[Path]]:
    """Copies of the given seed files under ``<index>/added/`` (files already there, or in `seeds`, as they are).

    A file of the seed folder is not copied: every build reads it, and a copy would outlive its edits.

    A file given again (the same path) replaces its earlier copy, keeping its place in the order. If
    the body raises, the copies made are removed and the replaced ones put back.
    """
    out: list[Path] = []
    undo: list[tuple[Path, Path | None]] = []  # (copy, the earlier copy set aside, or None)
    seeds = [Path(s).resolve() for s in seeds]
    try:
        for path in map(Path, files):
            if is_added(path, index_dir) or not path.is_file() or _in(path, seeds):
                out.append(path)  # a missing file is reported by the build, as before
                continue
            copy, backup = _copy(path, index_dir)
            undo.append((copy, backup))
            out.append(copy)
        yield out
    except BaseException:
        for copy, backup in reversed(undo):
            copy.unlink(missing_ok=True)
            if backup is not None:
                backup.replace(copy)
        raise
    for _, backup in undo:
        if backup is not None:
            backup.unlink(missing_ok=True)


def _in(path: Path, sources: list[Path]) -> bool:
    path = path.resolve()
    return any(path == s or path.is_relative_to(s) for s in sources)


def _copy(path: Path, index_dir: Path) -> tuple[Path, Path | None]:
    """Copy one file (and its NAME.meta.json) into the added folder; (the copy, the earlier copy set aside)."""
    folder = added_dir(index_dir)
    folder.mkdir(parents=True, exist_ok=True)
    key = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:8]
    earlier = sorted(folder.glob(f"*-{key}{path.suffix}"))
    copy = earlier[-1] if earlier else folder / f"{_stamp()}-{path.stem[:40]}-{key}{path.suffix}"
    backup = None
    if copy.exists():
        backup = copy.with_name(f".{copy.name}.earlier")
        copy.replace(backup)
    tmp = folder / f".{copy.name}.tmp"
    shutil.copyfile(path, tmp)
    tmp.replace(copy)
    side = path.with_name(path.stem + ".meta.json")
    if side.is_file():
        shutil.copyfile(side, copy.with_name(copy.stem + ".meta.json"))
    return copy, backup


def read_removed(index_dir: Path) -> set[str]:
    """The article ids removed from the index (they stay out until a file gives them again)."""
    path = Path(index_dir) / REMOVED
    if not path.is_file():
        return set()
    return {line for line in path.read_text(encoding="utf-8").splitlines() if line}


def write_removed(index_dir: Path, ids: Iterable[str]) -> None:
    """Record the removed article ids (written whole, then renamed)."""
    path = Path(index_dir) / REMOVED
    tmp = path.with_name(f".{REMOVED}.tmp")
    tmp.write_text("".join(f"{i}\n" for i in sorted(ids)), encoding="utf-8")
    tmp.replace(path)


def known_articles(index_dir: Path) -> tuple[dict[str, str], set[str]]:
    """The current index's article ids with their content hashes, and the set of those hashes."""
    version = store.current_version(index_dir)
    if version is None:
        return {}, set()
    db = sqlite3.connect(f"file:{version / store.DB}?mode=ro", uri=True)
    try:
        ids = dict(db.execute("SELECT id, content_hash FROM articles"))
    finally:
        db.close()
    return ids, set(ids.values())


def new_articles(articles: list[Article], known: tuple[dict[str, str], set[str]]) -> list[Article]:
    """Those articles the index lacks: new ids, or known ids whose content changed; each content once."""
    ids, hashes = known
    out, seen, seen_ids = [], set(), set()
    for a in articles:
        h = content_hash(a.title, a.paragraphs)
        if ids.get(a.id) == h or (a.id not in ids and h in hashes) or h in seen or a.id in seen_ids:
            continue
        seen.add(h)
        seen_ids.add(a.id)
        out.append(a)
    return out
