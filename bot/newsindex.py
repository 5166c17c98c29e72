"""The news index the bot answers from: one service, ``Services.news`` (bot/services.py), that owns it.

``NewsIndex`` holds the current ``index.Retriever`` and is the only thing that replaces it: /reindex
(``rebuild``), a feed poll (``poll_feeds``) and a channel post (``add_articles``) each build a new
index version under one lock, so builds run one at a time and are swapped in in the order they were
built; a version another process published (``python -m index add``) is noticed within
``FOLLOW_EVERY`` seconds and swapped in the same way (``follow``). A swap is one assignment: a
handler reads ``news.retriever`` once per update, so an answer comes wholly from the old index or
wholly from the new; the replaced retriever is closed ``RETIRE_AFTER`` seconds later, once the
searches that started on it are long done (or when the service closes). ``python -m bot`` makes it
with ``NewsIndex.open``; ``bot.app`` starts it in ``post_init`` and closes it in ``post_shutdown``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from telegram.ext import CallbackContext, JobQueue

if TYPE_CHECKING:
    from index.writer import Added
    from index.schema import Article

logger = logging.getLogger(__name__)

# The replaced retriever is closed this long after the swap, once searches on it have finished.
RETIRE_AFTER = 120.0
RETIRE_JOB = "retire-index"
# How often the index folder's `current` link is read, to swap in a version another process published.
FOLLOW_EVERY = 10.0
FOLLOW_JOB = "follow-index"


class IndexBusy(RuntimeError):
    """A rebuild was asked for while another index build is running."""


class NewsIndex:
    """The current retriever, and the one lock under which it is rebuilt, extended and replaced.

    Args:
        retriever: the loaded ``index.Retriever`` (or anything with search/latest/article/stats).
        rebuild: a blocking callable that rebuilds the index from its sources and returns the newly
            loaded retriever (/reindex); None: the instance cannot rebuild.
        reload: a blocking callable returning a freshly loaded retriever, after a feed poll or a
            channel post has added a version; None: the current retriever stays.
        add: a blocking callable adding {batch name: articles} to the index (``index.writer.add_articles``
            bound to the index folder); None: neither feeds nor channel posts can be added.
        poller: an ``index.ingest.poll.FeedPoller`` for the ``[feeds]`` URLs; None: no feeds.
        index_dir: the index folder whose ``current`` link is followed; None: not followed.
    """

    def __init__(self, retriever: object, *, rebuild: Callable[[], object] | None = None,
                 reload: Callable[[], object] | None = None,
                 add: Callable[[Mapping[str, Sequence[Article]]], Added] | None = None,
                 poller: object | None = None, index_dir: Path | None = None) -> None:
        self._retriever = retriever
        self._rebuild = rebuild
        self._reload = reload
        self._add = add
        self.poller = poller
        self.index_dir = index_dir
        self._lock = asyncio.Lock()  # one index build at a time, swaps in the order of the builds
        self._job_queue: JobQueue | None = None
        self._retired: list[object] = []  # replaced, not yet closed
        self._closed = False

    @classmethod
    def open(cls, config: object, feeds: object, encoder: object | None = None) -> NewsIndex:
        """Build the index if it is missing or its seeds changed, and load it (blocking).

        Args:
            config: an ``index.config.Config`` (its ``index`` and ``retrieval`` tables).
            feeds: the bot's ``FeedsConfig`` (urls, interval, timeout).
            encoder: the encoder to use; None: the one ``[index] model`` names.
        """
        from index import Retriever, add_articles, build_index, index_is_stale
        from index.models.encoder import encoder_for
        from index.ingest.poll import FeedPoller

        encoder = encoder if encoder is not None else encoder_for(config.index)
        index_dir = Path(config.index.dir)
        # Only the seeds decide staleness; a build reads them and everything added (index/writer/added.py).
        if index_is_stale(config.index.seeds, index_dir, config.index):
            logger.info("index at %s is missing or its seeds changed: building it from %s and the added articles",
                        index_dir, ", ".join(map(str, config.index.seeds)))
            report = build_index(config.index.seeds, index_dir, encoder, config=config.index, progress=False)
            logger.info("index built: %d articles, %d passages", report.articles, report.passages)

        def reload() -> object:
            return Retriever.load(index_dir, encoder=encoder, config=config.retrieval, index_config=config.index)

        def rebuild() -> object:
            """Rebuild from the seeds and the added articles (only what changed) and load the new version (blocking)."""
            report = build_index(config.index.seeds, index_dir, encoder, config=config.index, progress=False)
            logger.info("reindexed: %d articles, %d passages", report.articles, report.passages)
            return reload()

        def add(batches: Mapping[str, Sequence[Article]]) -> Added:
            return add_articles(batches, index_dir, encoder, config.index)

        poller = FeedPoller(list(feeds.urls), interval=feeds.interval_minutes * 60, timeout=feeds.timeout_seconds)
        return cls(reload(), rebuild=rebuild, reload=reload, add=add, poller=poller, index_dir=index_dir)

    @property
    def retriever(self) -> object:
        """The retriever to search now; read it once per update and keep it for that update."""
        return self._retriever

    @property
    def can_rebuild(self) -> bool:
        """Whether /reindex can rebuild this index."""
        return self._rebuild is not None

    @property
    def can_add(self) -> bool:
        """Whether articles (feed items, channel posts) can be added to this index."""
        return self._add is not None

    @property
    def busy(self) -> bool:
        """Whether an index build (rebuild, feed poll or channel post) is running."""
        return self._lock.locked()

    def start(self, job_queue: JobQueue | None) -> None:
        """Close replaced retrievers through ``job_queue`` from now on, and follow ``current`` (``post_init``)."""
        self._job_queue = job_queue
        if job_queue is not None and self.index_dir is not None and self._reload is not None:
            job_queue.run_repeating(self._follow_job, interval=FOLLOW_EVERY, first=FOLLOW_EVERY, name=FOLLOW_JOB)

    async def _follow_job(self, context: CallbackContext) -> None:
        await self.follow()

    async def follow(self) -> bool:
        """Swap in the version ``current`` points at if another process published it; whether it did.

        A readlink every few seconds; while this process builds (it holds the lock) nothing is read,
        since that build swaps its own version in.
        """
        from index.store import current_version

        if self._lock.locked() or self._closed:
            return False
        async with self._lock:
            version = current_version(self.index_dir)
            loaded = getattr(self._retriever, "version", None)  # a stand-in without one is not followed
            if version is None or loaded is None or Path(loaded).name == version.name:
                return False
            logger.info("index version %s was published by another process: loading it", version.name)
            self.swap(await asyncio.to_thread(self._reload))
        return True

    async def rebuild(self, started: Callable[[], Awaitable[object]] | None = None) -> object:
        """Rebuild the index off the event loop and swap it in; return the new retriever.

        Args:
            started: awaited once the build has the lock, before it begins (to say so).

        Raises:
            IndexBusy: another build is running (nothing is started).
            Exception: whatever the build raised; the old index stays in use.
        """
        if self._rebuild is None:
            raise RuntimeError("this index cannot be rebuilt")
        if self._lock.locked():
            raise IndexBusy("an index build is running")
        async with self._lock:
            if started is not None:
                await started()
            new = await asyncio.to_thread(self._rebuild)
            self.swap(new)
        return new

    async def poll_feeds(self) -> int | None:
        """Fetch the due feeds, add their new articles and swap in the new index.

        Fetching is network only and takes no lock: a slow feed must not hold up /reindex (nor wait
        for it). Returns how many articles were added, or None when no new version was published.
        """
        fetched = await asyncio.to_thread(self.poller.fetch_due)
        async with self._lock:
            report = await asyncio.to_thread(self.poller.add, fetched, self._add)
            if report.version is None:
                return None
            await self._reload_and_swap()
        return report.added

    async def add_articles(self, articles: Sequence[Article], name: str) -> str | None:
        """Add the articles the index lacks as batch `name` and swap in the new index; the new version, or None.

        Raises:
            Exception: why they could not be added (nothing of them is kept; the old index stays).
        """
        async with self._lock:
            added = await asyncio.to_thread(self._add, {name: list(articles)})
            if name in added.failed:
                raise added.failed[name]
            if added.version is None:
                return None
            await self._reload_and_swap()
        return added.version

    async def _reload_and_swap(self) -> None:
        if self._reload is not None:
            self.swap(await asyncio.to_thread(self._reload))

    def swap(self, new: object) -> None:
        """Make ``new`` the current retriever; the replaced one is closed ``RETIRE_AFTER`` s later."""
        old, self._retriever = self._retriever, new  # one assignment: handlers read it once per update
        if old is new or not hasattr(old, "close"):
            return
        self._retired.append(old)
        if self._job_queue is not None:
            self._job_queue.run_once(self._close_retired, RETIRE_AFTER, data=old, name=RETIRE_JOB)

    async def _close_retired(self, context: CallbackContext) -> None:
        """Close a replaced retriever once the searches that started on it are long done."""
        old = context.job.data
        if old in self._retired:
            self._retired.remove(old)
            await asyncio.to_thread(old.close)

    def close(self) -> None:
        """Close the current retriever and every replaced one not closed yet (once; again does nothing)."""
        if self._closed:
            return
        self._closed = True
        for retriever in [*self._retired, self._retriever]:
            close = getattr(retriever, "close", None)
            if close is not None:
                close()
        self._retired.clear()

