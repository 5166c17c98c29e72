"""Poll the ``[feeds]`` URLs in the background and add what is new to the index; /feeds for admins.

``bot_data["feeds"]`` is an ``index.feeds.FeedPoller`` (or None) and ``bot_data["reload_index"]`` a
blocking callable returning a freshly loaded Retriever. The poll runs in a worker thread; when it
published a new index version, the new retriever is swapped in as /reindex does
(``admin.swap_retriever``), so /latest shows the new articles at once and the index never goes away.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from telegram import Update
from telegram.ext import Application, ContextTypes

from index.seeds import CHINA_TZ

from .admin import admin_only, swap_retriever, usage
from .formatting import esc

logger = logging.getLogger(__name__)

POLL_JOB = "poll-feeds"
NO_FEEDS = "没有配置订阅源（config.toml 的 [feeds] urls）。"
# A message holds at most 4096 characters: at most 15 feeds, URLs and statuses shortened.
MAX_LISTED = 15
MAX_CHARS = 100


def schedule(application: Application) -> None:
    """Start polling the configured feeds (first poll shortly after start-up)."""
    poller = application.bot_data.get("feeds")
    if poller is None or not poller.feeds or application.job_queue is None:
        return
    for job in application.job_queue.get_jobs_by_name(POLL_JOB):
        job.schedule_removal()
    application.job_queue.run_repeating(poll_job, interval=poller.interval, first=5, name=POLL_JOB)
    logger.info("polling %d feeds every %.0f s", len(poller.feeds), poller.interval)


async def poll_job(context: ContextTypes.DEFAULT_TYPE) -> None:
    """Poll the due feeds off the event loop; swap in the new index when articles were added."""
    poller = context.bot_data.get("feeds")
    if poller is None:
        return
    try:
        # Fetching is network only: a slow feed must not hold up /reindex (nor wait for it).
        fetched = await asyncio.to_thread(poller.fetch_due)
    except Exception:
        logger.exception("feed fetch failed; the index stays as it was")
        return
    # The same lock as /reindex: one index build at a time, and swaps in the order of the builds.
    lock: asyncio.Lock = context.bot_data.setdefault("reindex_lock", asyncio.Lock())
    async with lock:
        try:
            report = await asyncio.to_thread(poller.add, fetched)
            if report.version is None:
                return
            reload = context.bot_data.get("reload_index")
            if reload is not None:
                swap_retriever(context, await asyncio.to_thread(reload))
            usage(context)["feed_articles"] += report.added
        except Exception:
            # Log the error before anything else; a failed poll leaves the index as it was.
            logger.exception("feed poll failed; the index stays as it was")


def _when(ts: float | None) -> str:
    return datetime.fromtimestamp(ts, CHINA_TZ).strftime("%m-%d %H:%M") if ts else "—"


@admin_only
async def feeds(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """List the feeds with their last status and next attempt, to a bot admin."""
    message = update.effective_message
    poller = context.bot_data.get("feeds")
    if poller is None or not poller.feeds:
        await message.reply_html(esc(NO_FEEDS))
        return
    lines = ["<b>订阅源</b>"]
    for s in poller.status()[:MAX_LISTED]:
        failing = f"，连续失败 {s.failures} 次" if s.failures else ""
        lines.append(
            f"• {esc(s.url[:MAX_CHARS])}\n  {esc(s.last_status[:MAX_CHARS])}{failing}\n"
            f"  上次 {_when(s.last_checked)} · 下次 {_when(s.next_attempt)} · 新增 {s.added} 篇"
        )
    await message.reply_html("\n".join(lines))
