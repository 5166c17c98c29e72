"""Poll the ``[feeds]`` URLs in the background and add what is new to the index; /feeds for admins.

The index service (``services(context).news``) holds the ``index.ingest.poll.FeedPoller`` (or None) and does the
poll off the event loop; when it published a new index version, the new retriever is swapped in as
/reindex does, so /latest shows the new articles at once and the index never goes away.
"""

from __future__ import annotations

import logging
from datetime import datetime

from telegram import Update
from telegram.ext import Application, ContextTypes

from .admin import admin_only, usage
from .services import services
from .text import CHINA_TZ, esc

logger = logging.getLogger(__name__)

POLL_JOB = "poll-feeds"
NO_FEEDS = "没有配置订阅源（config.toml 的 [feeds] urls）。"
# A message holds at most 4096 characters: at most 15 feeds, URLs and statuses shortened.
MAX_LISTED = 15
MAX_CHARS = 100


def schedule(application: Application) -> None:
    """Start polling the configured feeds (first poll shortly after start-up)."""
    poller = services(application).news.poller
    if poller is None or not poller.feeds or application.job_queue is None:
        return
    for job in application.job_queue.get_jobs_by_name(POLL_JOB):
        job.schedule_removal()
    application.job_queue.run_repeating(poll_job, interval=poller.interval, first=5, name=POLL_JOB)
    logger.info("polling %d feeds every %.0f s", len(poller.feeds), poller.interval)


async def poll_job(context: ContextTypes.DEFAULT_TYPE) -> None:
    """Poll the due feeds off the event loop; swap in the new index when articles were added."""
    news = services(context).news
    if news.poller is None:
        return
    try:
        added = await news.poll_feeds()
    except Exception:
        # Log the error before anything else; a failed poll leaves the index as it was.
        logger.exception("feed poll failed; the index stays as it was")
        return
    if added is not None:
        usage(context)["feed_articles"] += added


def _when(ts: float | None) -> str:
    return datetime.fromtimestamp(ts, CHINA_TZ).strftime("%m-%d %H:%M") if ts else "—"


@admin_only
async def feeds(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """List the feeds with their last status and next attempt, to a bot admin."""
    message = update.effective_message
    poller = services(context).news.poller
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
