"""The news index the bot answers from: one service, ``bot_data["news"]``, that owns it.

``NewsIndex`` holds the current ``index.Retriever`` and is the only thing that replaces it: /reindex
(``rebuild``), a feed poll (``poll_feeds``) and a channel post (``add_articles``) each build a new
index version under one lock, so builds run one at a time and are swapped in in the order they were
built. A swap is one assignment: a handler reads ``news.retriever`` once per update, so an answer
comes wholly from the old index or wholly from the new; the replaced retriever is closed
``RETIRE_AFTER`` seconds later, once the searches that started on it are long done (or when the
service closes). ``python -m bot`` makes it with ``NewsIndex.open``; ``bot.app`` starts it in
``post_init`` and closes it in ``post_shutdown``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING

from telegram.ext import CallbackContext, JobQueue

if TYPE_CHECKING:
    from index.schema import Article

logger = logging.getLogger(__name__)

# The replaced retriever is closed this long after the swap, once searches on it have finished.
RETIRE_AFTER = 120.0
RETIRE_JOB = "retire-index"


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
        poller: an ``index.ingest.poll.FeedPoller`` for the ``[feeds]`` URLs and the index folder that
            channel posts are added to; None: neither feeds nor channel posts.
    """

    def __init__(self, retriever: object, *, rebuild: Callable[[], object] | None = None,
                 reload: Callable[[], object] | None = None, poller: object | None = None) -> None:
        self._retriever = retriever
        self._rebuild = rebuild
        self._reload = reload
        self.poller = poller
        self._lock = asyncio.Lock()  # one index build at a time, swaps in the order of the builds
        self._job_queue: JobQueue | None = None
        self._retired: list[object] = []  # replaced, not yet closed
        self._closed = False

    @classmethod
    def open(cls, config: object, feeds: object) -> NewsIndex:
        """Build the index if it is missing or stale and load it (blocking).

        Args:
            config: an ``index.config.Config`` (its ``index`` and ``retrieval`` tables).
            feeds: the bot's ``FeedsConfig`` (urls, interval, timeout).
        """
        from index import Retriever, build_index, index_is_stale
        from index.models.encoder import encoder_for
        from index.ingest.poll import FeedPoller, with_feed_files

        encoder = encoder_for(config.index)
        # Articles fetched from feeds (kept under the index folder) are sources like the seeds.
        sources = with_feed_files(config.index.seeds, config.index.dir)
        if index_is_stale(sources, config.index.dir, config.index):
            logger.info("index at %s is missing or stale: building it from %s", config.index.dir,
                        ", ".join(map(str, sources)))
            report = build_index(sources, config.index.dir, encoder, config=config.index, progress=False)
            logger.info("index built: %d articles, %d passages", report.articles, report.passages)

        def reload() -> object:
            return Retriever.load(config.index.dir, encoder=encoder, config=config.retrieval, index_config=config.index)

        def rebuild() -> object:
            """Rebuild from the seeds (only what changed) and load the new version (blocking)."""
            report = build_index(with_feed_files(config.index.seeds, config.index.dir), config.index.dir,
                                 encoder, config=config.index, progress=False)
            logger.info("reindexed: %d articles, %d passages", report.articles, report.passages)
            return reload()

        poller = FeedPoller(list(feeds.urls), config.index.dir, encoder=encoder, config=config.index,
                            interval=feeds.interval_minutes * 60, timeout=feeds.timeout_seconds)
        return cls(reload(), rebuild=rebuild, reload=reload, poller=poller)

    @property
    def retriever(self) -> object:
        """The retriever to search now; read it once per update and keep it for that update."""
        return self._retriever

    @property
    def can_rebuild(self) -> bool:
        """Whether /reindex can rebuild this index."""
        return self._rebuild is not None

    @property
    def busy(self) -> bool:
        """Whether an index build (rebuild, feed poll or channel post) is running."""
        return self._lock.locked()

    def start(self, job_queue: JobQueue | None) -> None:
        """Close replaced retrievers through ``job_queue`` from now on (called in ``post_init``)."""
        self._job_queue = job_queue

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
            report = await asyncio.to_thread(self.poller.add, fetched)
            if report.version is None:
                return None
            await self._reload_and_swap()
        return report.added

    async def add_articles(self, articles: Sequence[Article]) -> str | None:
        """Add the articles the index lacks and swap in the new index; the new version, or None."""
        async with self._lock:
            version = await asyncio.to_thread(add_articles, self.poller, list(articles))
            if version is None:
                return None
            await self._reload_and_swap()
        return version

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


def add_articles(poller: object, articles: list[Article]) -> str | None:
    """Write the articles the index lacks as a feed file and add them (blocking); the new version, or None."""
    from index.build import add_to_index
    from index.ingest.poll import known_articles, new_articles, write_jsonl

    fresh = new_articles(articles, known_articles(poller.index_dir))
    if not fresh:
        return None
    path = write_jsonl(poller.index_dir, "telegram-" + fresh[0].id, fresh)
    try:
        built = add_to_index([path], poller.index_dir, poller.encoder, poller.config,
                            embed=poller.embed, progress=False)
    except Exception:
        path.unlink(missing_ok=True)  # the next edit or forward tries again
        raise
    return built.version
