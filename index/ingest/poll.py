"""Feeds polled into the index: due feeds fetched (index.ingest.fetch), parsed (index.ingest.pages), new articles added.

Fetched articles are written as JSONL files under ``<index dir>/feeds/`` (one article per line,
ids stable across polls: from the entry's guid or link, or the page's URL) and added with
``add_to_index``, so duplicate handling, the embedding cache and the atomic publish all apply.
A feed poll writes only articles the index does not already hold (same id and content, or the
same content under another id); an unchanged feed writes nothing and publishes no version.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import json
import logging
import re
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlsplit


from index import store
from index.config import IndexConfig
from index.errors import FeedError
from index.ingest.fetch import FetchResult, fetch
from index.ingest.pages import parse
from index.ingest.seeds import content_hash
from index.schema import Article

logger = logging.getLogger(__name__)

FEEDS_DIR = "feeds"  # under the index folder
MAX_BACKOFF = 24 * 3600.0  # seconds: a failing feed is still tried at least daily


# --- writing into the index ------------------------------------------------------------------

def feeds_dir(index_dir: Path) -> Path:
    """Where fetched articles are kept as JSONL (part of the index's sources from then on)."""
    return Path(index_dir) / FEEDS_DIR


def with_feed_files(sources: list[Path], index_dir: Path) -> list[Path]:
    """The seed sources plus the fetched-articles folder when there is one (so rebuilds keep them)."""
    folder = feeds_dir(index_dir)
    return [*sources, folder] if folder.is_dir() else list(sources)


def slug(url: str) -> str:
    """A short file-name-safe name for a URL."""
    parts = urlsplit(url)
    name = re.sub(r"[^A-Za-z0-9]+", "-", f"{parts.hostname or ''}{parts.path}").strip("-")[:40] or "feed"
    return f"{name}-{hashlib.sha256(url.encode()).hexdigest()[:6]}"


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


def write_jsonl(index_dir: Path, name: str, articles: list[Article]) -> Path:
    """Write articles to a new ``<index>/feeds/<UTC time>-<name>.jsonl`` (written whole, then renamed)."""
    folder = feeds_dir(index_dir)
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%f")
    path = folder / f"{stamp}-{name}.jsonl"
    tmp = folder / f".{path.name}.tmp"
    with tmp.open("w", encoding="utf-8") as f:
        for a in articles:
            f.write(json.dumps(a.to_json(), ensure_ascii=False) + "\n")
    tmp.replace(path)
    return path


# --- polling ---------------------------------------------------------------------------------

@dataclass
class FeedState:
    """One feed's conditional-request validators, failures and last outcome."""

    url: str
    etag: str | None = None
    modified: str | None = None
    content_sha: str | None = None
    failures: int = 0
    next_attempt: float = 0.0  # time.time() from which the next fetch is due
    last_checked: float | None = None
    last_status: str = "not fetched yet"
    added: int = 0  # articles this feed has added since start-up


@dataclass
class PollReport:
    """What one poll did."""

    fetched: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    added: int = 0
    files: list[Path] = field(default_factory=list)
    version: str | None = None  # the published version, None when nothing was added


@dataclass
class Fetched:
    """What one round of fetching got: each due feed with its result or its error."""

    now: float
    results: list[tuple[FeedState, object]] = field(default_factory=list)


class FeedPoller:
    """Poll feeds and add what is new to the index; thread-safe, one poll at a time.

    Each due feed is fetched in its own thread, bounded by `timeout` in all, so a slow feed holds
    the others up by at most that; fetching takes no index lock (`fetch_due`), only adding does (`add`).
    A feed that fails (timeout, HTTP error, malformed XML) is retried after interval × 2^failures
    (at most MAX_BACKOFF); the others are polled as usual.
    """

    def __init__(self, urls: list[str], index_dir: Path, *, encoder=None, config: IndexConfig | None = None,
                 interval: float = 1800.0, timeout: float = 10.0, embed: bool | None = None,
                 max_workers: int = 8):
        self.index_dir = Path(index_dir)
        self.encoder, self.config, self.embed = encoder, config or IndexConfig(), embed
        self.interval, self.timeout, self.max_workers = float(interval), float(timeout), max_workers
        self.feeds = {u: FeedState(u) for u in dict.fromkeys(urls)}
        self._lock = threading.Lock()  # one add at a time
        self._fetch_lock = threading.Lock()  # one round of fetching at a time

    def status(self) -> list[FeedState]:
        """Each feed's state (copies), in configuration order."""
        return [FeedState(**vars(s)) for s in self.feeds.values()]

    def poll(self, now: float | None = None) -> PollReport:
        """Fetch the feeds that are due, write their new articles, add them to the index (blocking)."""
        return self.add(self.fetch_due(now))

    def fetch_due(self, now: float | None = None) -> Fetched:
        """Fetch and parse the feeds that are due, in parallel (network and parsing only)."""
        with self._fetch_lock:
            now = time.time() if now is None else now
            # A tenth of an interval of slack: a job running every interval finds its feeds due.
            due = [s for s in self.feeds.values() if s.next_attempt <= now + self.interval / 10]
            if not due:
                return Fetched(now)
            with concurrent.futures.ThreadPoolExecutor(min(self.max_workers, len(due))) as pool:
                return Fetched(now, list(zip(due, pool.map(self._fetch_one, due))))

    def add(self, fetched: Fetched) -> PollReport:
        """Record the outcome of each fetched feed, write the new articles and add them to the index."""
        with self._lock:
            now, report = fetched.now, PollReport()
            known = known_articles(self.index_dir) if fetched.results else ({}, set())
            written: list[tuple[FeedState, Path, int]] = []
            for state, result in fetched.results:
                state.last_checked = now
                if isinstance(result, Exception):
                    self._failed(state, now, result, report)
                    continue
                state.failures = 0
                state.next_attempt = now + self.interval
                report.fetched.append(state.url)
                response, articles = result
                if response.not_modified or articles is None:
                    state.last_status = "not modified"
                    continue
                fresh = new_articles(articles, known)
                # The next feed must not write these again (the same story in two feeds).
                known[0].update({a.id: content_hash(a.title, a.paragraphs) for a in fresh})
                known[1].update(known[0][a.id] for a in fresh)
                state.last_status = f"ok: {len(articles)} items, {len(fresh)} new"
                if fresh:
                    written.append((state, write_jsonl(self.index_dir, slug(state.url), fresh), len(fresh)))
                    state.added += len(fresh)
                    report.added += len(fresh)
            if written:
                self._publish(written, report, now)
                report.files = [path for _, path, _ in written if path.exists()]
                logger.info("feeds: %d new articles, index version %s", report.added, report.version)
            return report

    def _publish(self, written: list[tuple[FeedState, Path, int]], report: PollReport, now: float) -> None:
        """Add the written files in one build; if that fails, feed by feed, so one feed whose
        articles break the build does not hold back the others (it is retried after its backoff)."""
        try:
            report.version = self._build([path for _, path, _ in written])
            return
        except Exception as e:  # noqa: BLE001 — which feed broke it is found below
            if len(written) == 1:
                self._not_added(written[0], e, report, now)
                return
            logger.warning("feeds: adding %d feeds at once failed (%s); adding them one by one", len(written), e)
        for item in written:
            try:
                report.version = self._build([item[1]])
            except Exception as e:  # noqa: BLE001 — logged, the feed marked failed
                self._not_added(item, e, report, now)

    def _build(self, files: list[Path]) -> str:
        """Add the files to the index; the published version."""
        from index.build import add_to_index

        return add_to_index(files, self.index_dir, self.encoder, self.config, embed=self.embed,
                           progress=False).version

    def _not_added(self, item: tuple[FeedState, Path, int], error: Exception, report: PollReport, now: float) -> None:
        """Forget a feed's file and validators (its next poll fetches and adds it all again); count a failure."""
        state, path, n = item
        logger.warning("feed %s: its %d new articles could not be added", state.url, n, exc_info=error)
        path.unlink(missing_ok=True)
        state.etag = state.modified = state.content_sha = None
        state.added -= n
        report.added -= n
        report.fetched.remove(state.url)
        self._failed(state, now, f"could not add: {error}", report)

    def _failed(self, state: FeedState, now: float, error: object, report: PollReport) -> None:
        """Count a failure: the feed is retried after interval × 2^failures (at most MAX_BACKOFF)."""
        state.failures += 1
        delay = min(self.interval * 2 ** state.failures, max(MAX_BACKOFF, self.interval))
        state.next_attempt = now + delay
        state.last_status = f"error: {error}"
        report.failed.append(state.url)
        logger.warning("feed %s failed (%d in a row, next try in %.0f s): %s", state.url, state.failures, delay, error)

    def _fetch_one(self, state: FeedState) -> tuple[FetchResult, list[Article] | None] | Exception:
        """Fetch and parse one feed; an error is returned, not raised, so the others go on."""
        try:
            r = fetch(state.url, state.etag, state.modified, self.timeout)
            if r.not_modified:
                return r, None
            sha = hashlib.sha256(r.content).hexdigest()
            articles = None if sha == state.content_sha else parse(r.content, state.url, r.content_type)
            # Validators are kept only once the content parsed: a broken feed is fetched whole again.
            state.etag, state.modified, state.content_sha = r.etag, r.modified, sha
            return r, articles
        except Exception as e:  # noqa: BLE001 — any failure of one feed is logged, never raised
            if not isinstance(e, FeedError):
                logger.debug("feed %s", state.url, exc_info=True)
            return e
