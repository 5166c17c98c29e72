"""Read seed files (scraped pages, JSONL exports, plain text) into cleaned articles and headlines."""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from index.ingest.clean import clean_text, has_surrogate
from index.schema import Article, Headline
from index.chinatime import parse_published

logger = logging.getLogger(__name__)

SEED_SUFFIXES = {".txt", ".jsonl", ".json", ".page"}


@dataclass
class Skipped:
    """Something of the input that was not used, and why."""

    origin: str  # "file" or "file:line"
    reason: str

    def __str__(self) -> str:
        return f"{self.origin}: {self.reason}"


@dataclass
class SeedBatch:
    """What one file yielded: articles, free-standing headlines, and what was skipped or unused."""

    path: Path
    format: str
    articles: list[Article] = field(default_factory=list)
    headlines: list[Headline] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    unused: Counter = field(default_factory=Counter)  # page parts read but not stored, by kind


def content_hash(title: str, paragraphs: Iterable[str]) -> str:
    """Hash an article's cleaned content, so the same article from two files is stored once."""
    h = hashlib.sha256(title.encode())
    for p in paragraphs:
        h.update(b"\n" + p.encode())
    return h.hexdigest()


def iter_seed_files(sources: Iterable[Path]) -> Iterator[Path]:
    """Yield seed files from files and folders, in a stable order."""
    for src in sources:
        src = Path(src)
        if src.is_dir():
            for p in sorted(src.rglob("*")):
                if p.is_file() and p.suffix.lower() in SEED_SUFFIXES and not _is_sidecar(p) and not p.name.startswith("."):
                    yield p
        elif src.is_file():
            yield src
        else:
            logger.warning("seed source %s does not exist", src)


def _is_sidecar(path: Path) -> bool:
    return path.name.endswith(".meta.json")


def read_seed_file(path: Path) -> SeedBatch:
    """Read one seed file, detecting its format from its content."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as e:
        return SeedBatch(path, "unreadable", skipped=[Skipped(str(path), f"cannot read: {e}")])
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        return SeedBatch(path, "unknown", skipped=[Skipped(str(path), f"not UTF-8 (byte {e.start})")])
    if not text.strip():
        return SeedBatch(path, "empty", skipped=[Skipped(str(path), "empty file")])
    meta = _sidecar_meta(path)
    fmt = detect_format(text)
    batch = SeedBatch(path, fmt)
    if fmt == "jsonl":
        _read_jsonl(text, path, batch)
    elif fmt == "page":
        _read_page(text, path, batch, meta)
    else:
        _read_txt(text, path, batch, meta)
    return batch


_UPDATED = re.compile(r"最[后後]更新\s*[:：]\s*(\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(?::\d{2})?)")


def detect_format(text: str) -> str:
    """Tell a JSONL export, a scraped page and a plain-text article apart."""
    first = text.lstrip()[:1]
    if first in "{[":
        return "jsonl"
    if _UPDATED.search(text[:5000]):
        return "page"
    return "txt"


def _sidecar_meta(path: Path) -> dict:
    """Read optional NAME.meta.json beside a page or text file (source, url, published_at)."""
    side = path.with_name(path.stem + ".meta.json")
    if not side.is_file():
        return {}
    try:
        meta = json.loads(side.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as e:
        logger.warning("%s: ignored (%s)", side, str(e)[:100])
        return {}
    if not isinstance(meta, dict):
        logger.warning("%s: ignored (not a JSON object)", side)
        return {}
    # Only text is read from it (a number or a list where a string belongs is dropped, not a crash).
    return {k: v for k, v in meta.items() if isinstance(v, str) and not has_surrogate(v)}


def _article_id(path: Path, title: str, paragraphs: list[str]) -> str:
    return f"{path.stem}-{content_hash(title, paragraphs)[:12]}"


_FIELDS = ("id", "title", "published_at", "source", "url", "body")


def _parse_line(line: str) -> dict:
    """One JSONL line as an object, or ValueError with a short reason for the report."""
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as e:
        raise ValueError(f"malformed JSON ({e.msg})") from None
    except RecursionError:
        raise ValueError("malformed JSON (nested too deeply)") from None
    except ValueError as e:  # a number of more than 4,300 digits
        raise ValueError(f"malformed JSON ({str(e).split(':')[0][:80]})") from None
    if not isinstance(obj, dict):
        raise ValueError("not a JSON object")
    published = obj.get("published_at")
    if published is not None and not isinstance(published, str):
        raise ValueError(f"published_at is not a date string ({type(published).__name__})")
    for key in _FIELDS:
        if isinstance(obj.get(key), str) and has_surrogate(obj[key]):
            raise ValueError(f"{key} holds a lone surrogate escape (not Unicode text)")
    return obj


def _read_jsonl(text: str, path: Path, batch: SeedBatch) -> None:
    for lineno, line in enumerate(text.splitlines(), 1):
        origin = f"{path}:{lineno}"
        if not line.strip():
            continue
        try:
            obj = _parse_line(line)
        except ValueError as e:
            batch.skipped.append(Skipped(origin, str(e)))
            continue
        title = clean_text(str(obj.get("title") or ""))
        body = obj.get("body")
        paragraphs = [clean_text(p) for p in str(body or "").split("\n")]
        paragraphs = [p for p in paragraphs if p]
        if not title:
            batch.skipped.append(Skipped(origin, "no title"))
            continue
        if not paragraphs:
            batch.skipped.append(Skipped(origin, "no body"))
            continue
        published = parse_published(obj.get("published_at"))
        if obj.get("published_at") and not published:
            batch.skipped.append(Skipped(origin, f"bad published_at {obj['published_at'][:40]!r}; kept without time"))
        batch.articles.append(
            Article(
                id=str(obj.get("id") or _article_id(path, title, paragraphs)),
                title=title,
                paragraphs=paragraphs,
                published_at=published,
                source=clean_text(str(obj["source"])) if obj.get("source") else None,
                url=str(obj["url"]) if obj.get("url") else None,
                origin=origin,
            )
        )


def _read_txt(text: str, path: Path, batch: SeedBatch, meta: dict) -> None:
    lines = [clean_text(line) for line in text.splitlines()]
    lines = [line for line in lines if line]
    _add_article(batch, path, 1, meta, lines[0], lines[1:], parse_published(meta.get("published_at")),
                 meta.get("source"))


def _add_article(batch: SeedBatch, path: Path, line: int, meta: dict, title: str, paragraphs: list[str],
                 published_at: str | None, source: str | None, article_meta: dict | None = None) -> None:
    """Add a text or page file's article to the batch, or skip it when it has no body."""
    if not paragraphs:
        batch.skipped.append(Skipped(f"{path}:{line}", "no body"))
        return
    batch.articles.append(Article(
        id=meta.get("id") or _article_id(path, title, paragraphs), title=title, paragraphs=paragraphs,
        published_at=published_at, source=source, url=meta.get("url"), meta=article_meta or {},
        origin=f"{path}:{line}",
    ))


# Page parts (after cleaning to Simplified script).
_SEPARATOR = re.compile(r"^-\s*$")
_META = re.compile(r"^-?\s*(原标题|责任编辑|来源|作者)\s*[:：]\s*(.*)$")
_LISTED_TIME = re.compile(r"^(\d{4}-\d{2}-\d{2} \d{2}:\d{2})(?:\s+(.*?))?\s*(?:-\s*)?$")
_RELATED = re.compile(r"^(相关推荐)\s*-?\s*$")
_COMMENTS = re.compile(r"\s*评论\s*\d+\s*")
_HOT = re.compile(r"最新闻\s*Hot\s*$", re.IGNORECASE)
_META_KEYS = {"原标题": "original_title", "责任编辑": "editor", "来源": "source", "作者": "author"}


def _read_page(text: str, path: Path, batch: SeedBatch, meta: dict) -> None:
    """Parse a scraped news page: title, time, body, metadata, headline list, related/hot lists."""
    lines = [(n, clean_text(line)) for n, line in enumerate(text.splitlines(), 1)]
    source = meta.get("source")
    i = 0
    # Title: the last non-separator line before the "最后更新" line.
    title, title_line, start = "", 0, None
    for idx, (n, line) in enumerate(lines):
        m = _UPDATED.search(line)
        if m:
            start = idx
            break
        if line and not _SEPARATOR.match(line):
            if title:
                batch.unused["lines before the title"] += 1
            title, title_line = line, n
        elif line:
            batch.unused["separator lines"] += 1
    if start is None or not title:
        batch.skipped.append(Skipped(str(path), "page without a title and 最后更新 time"))
        return
    n, line = lines[start]
    m = _UPDATED.search(line)
    published = parse_published(m.group(1))
    paragraphs: list[str] = []
    first = (line[: m.start()] + line[m.end():]).strip()
    if first:
        paragraphs.append(first)
    article_meta: dict[str, str] = {}
    i = start + 1
    # Body until the metadata lines; headline list after them.
    while i < len(lines):
        n, line = lines[i]
        mm = _META.match(line)
        if mm:
            article_meta[_META_KEYS[mm.group(1)]] = mm.group(2).strip()
        elif article_meta:
            break  # first line after the metadata block
        elif _SEPARATOR.match(line):
            batch.unused["separator lines"] += 1
        elif line:
            paragraphs.append(line)
        i += 1
    section = "list"
    pending: tuple[int, str] | None = None
    while i < len(lines):
        n, line = lines[i]
        i += 1
        if not line:
            continue
        if _SEPARATOR.match(line):
            batch.unused["separator lines"] += 1
            continue
        if section == "list":
            if _RELATED.match(line):
                section = "related"
                batch.unused["section markers"] += 1
                if pending:
                    batch.headlines.append(Headline(pending[1], None, None, source))
                    pending = None
                continue
            tm = _LISTED_TIME.match(line)
            if tm and pending:
                batch.headlines.append(
                    Headline(pending[1], parse_published(tm.group(1)), (tm.group(2) or "").strip() or None, source)
                )
                pending = None
            elif tm:
                batch.skipped.append(Skipped(f"{path}:{n}", "listed time without a headline"))
            else:
                if pending:  # a headline line with no time line after it
                    batch.headlines.append(Headline(pending[1], None, None, source))
                pending = (n, line.rstrip(" -"))
            continue
        # related / hot: undated items; "评论 N" comment counts and the "最新闻 Hot" marker are dropped.
        hot = _HOT.search(line)
        if hot:
            line = line[: hot.start()]
            batch.unused["section markers"] += 1
        parts = _COMMENTS.split(line)
        batch.unused["comment counts"] += len(_COMMENTS.findall(line))
        for part in parts:
            part = part.strip(" -")
            if part:
                batch.headlines.append(Headline(part, None, None, source))
        if hot:
            section = "hot"
    if pending:
        batch.headlines.append(Headline(pending[1], None, None, source))
    _add_article(batch, path, title_line, meta, title, paragraphs, published, source, article_meta)
