"""Feeds polled: due feeds fetched (index.ingest.fetch) and parsed (index.ingest.pages); their articles handed to the caller.

The poller knows nothing of writing the index: ``add`` takes the caller's function, in the bot
``index.writer.add_articles`` (ids stable across polls: from the entry's guid or link, or the page's
URL), which adds only the articles the index lacks, so an unchanged feed publishes no version.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from index.errors import FeedError
from index.ingest.fetch import FetchResult, fetch
from index.ingest.pages import parse
from index.schema import Article

logger = logging.getLogger(__name__)

MAX_BACKOFF = 24 * 3600.0  # seconds: a failing feed is still tried at least daily


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
    version: str | None = None  # the published version, None when nothing was added


@dataclass
class Fetched:
    """What one round of fetching got: each due feed with its result or its error."""

    now: float
    results: list[tuple[FeedState, object]] = field(default_factory=list)


# The caller's way of adding articles: {feed url: articles} to a result with `version`, `added`
# ({url: articles added}) and `failed` ({url: error}), as index.writer.add_articles returns.
AddArticles = Callable[[dict[str, list[Article]]], object]


class FeedPoller:
    """Poll feeds and hand what they hold to the caller to add; thread-safe, one poll at a time.

    Each due feed is fetched in its own thread, bounded by `timeout` in all, so a slow feed holds
    the others up by at most that; fetching takes no index lock (`fetch_due`), only adding does (`add`).
    A feed that fails (timeout, HTTP error, malformed XML, or articles that could not be added) is
    retried after interval × 2^failures (at most MAX_BACKOFF); the others are polled as usual.
    """

    def __init__(self, urls: list[str], *, interval: float = 1800.0, timeout: float = 10.0, max_workers: int = 8):
        self.interval, self.timeout, self.max_workers = float(interval), float(timeout), max_workers
        self.feeds = {u: FeedState(u) for u in dict.fromkeys(urls)}
        self._lock = threading.Lock()  # one add at a time
        self._fetch_lock = threading.Lock()  # one round of fetching at a time

    def status(self) -> list[FeedState]:
        """Each feed's state (copies), in configuration order."""
        return [FeedState(**vars(s)) for s in self.feeds.values()]

    def poll(self, add: AddArticles, now: float | None = None) -> PollReport:
        """Fetch the feeds that are due and add their articles with `add` (blocking)."""
        return self.add(self.fetch_due(now), add)

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

    def add(self, fetched: Fetched, add: AddArticles) -> PollReport:
        """Record the outcome of each fetched feed and add the articles of those that changed with `add`."""
        with self._lock:
            now, report = fetched.now, PollReport()
            batches: dict[str, list[Article]] = {}
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
                state.last_status = f"ok: {len(articles)} items, 0 new"
                batches[state.url] = articles
            if not batches:
                return report
            try:
                added = add(batches)
            except Exception as e:  # noqa: BLE001 — e.g. a full disk: every feed is fetched again next time
                for url in batches:
                    self._not_added(self.feeds[url], e, report, now)
                return report
            report.version = added.version
            for url, n in added.added.items():
                state = self.feeds[url]
                state.last_status = f"ok: {len(batches[url])} items, {n} new"
                state.added += n
                report.added += n
            for url, error in added.failed.items():
                self._not_added(self.feeds[url], error, report, now)
            if report.added:
                logger.info("feeds: %d new articles, index version %s", report.added, report.version)
            return report

    def _not_added(self, state: FeedState, error: Exception, report: PollReport, now: float) -> None:
        """Forget a feed's validators (its next poll fetches and adds it all again); count a failure."""
        logger.warning("feed %s: its new articles could not be added", state.url, exc_info=error)
        state.etag = state.modified = state.content_sha = None
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
