"""Commands for the bot's own administrators ([telegram] admins): /stats and /reindex.

``bot_data["reindex"]``, when set (``python -m bot`` sets it), is a blocking callable that builds
the index from the seeds and returns a freshly loaded Retriever. /reindex runs it in a worker
thread and then swaps ``bot_data["retriever"]`` in one assignment: a search already running keeps
the object it started with, so every answer comes wholly from the old index or wholly from the new.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections import Counter

from telegram import Update
from telegram.ext import ContextTypes

from . import feedback
from .config import BotConfig
from .formatting import esc

logger = logging.getLogger(__name__)

REFUSED = "这个命令只对机器人管理员开放。"
NO_REINDEX = "这个实例不能重建索引（没有配置 seeds）。"
REINDEX_BUSY = "索引正在重建，请稍候。"
REINDEX_STARTED = "开始重建索引……"
REINDEX_DONE = "索引已更新：{articles} 篇文章、{passages} 个段落（版本 {version}）。"
REINDEX_FAILED = "重建索引失败，仍在使用原来的索引。详情见日志。"
# The replaced retriever is closed this long after the swap, once searches on it have finished.
RETIRE_AFTER = 120.0


def is_admin(update: Update, context: ContextTypes.DEFAULT_TYPE) -> bool:
    """Whether the update comes from a user listed in [telegram] admins."""
    config: BotConfig = context.bot_data["config"]
    user = update.effective_user
    return user is not None and user.id in config.admins


def admin_only(handler):
    """Let a command through for bot admins; everyone else gets the one-line refusal."""

    @functools.wraps(handler)
    async def guarded(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if not is_admin(update, context):
            await update.effective_message.reply_html(esc(REFUSED))
            return
        await handler(update, context)

    return guarded


def usage(context: ContextTypes.DEFAULT_TYPE) -> Counter[str]:
    """The usage counters shown by /stats (questions, not found, rate limited, errors…)."""
    return context.bot_data.setdefault("usage", Counter())


@admin_only
async def stats(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Show the index figures and the usage counters, to a bot admin."""
    message = update.effective_message
    figures = await asyncio.to_thread(context.bot_data["retriever"].stats)
    lines = ["<b>索引</b>"]
    lines += [f"{esc(str(k))}: {esc(str(v))}" for k, v in figures.items()]
    lines.append("<b>使用</b>")
    counters = usage(context)
    lines += [f"{esc(k)}: {v}" for k, v in sorted(counters.items())] or ["（还没有）"]
    lines += await feedback.stats_section(context)
    await message.reply_html("\n".join(lines))


@admin_only
async def reindex(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Rebuild the index off the event loop and swap it in, when a bot admin issues /reindex."""
    message = update.effective_message
    build = context.bot_data.get("reindex")
    if build is None:
        await message.reply_html(esc(NO_REINDEX))
        return
    lock: asyncio.Lock = context.bot_data.setdefault("reindex_lock", asyncio.Lock())
    if lock.locked():
        await message.reply_html(esc(REINDEX_BUSY))
        return
    async with lock:
        await message.reply_html(esc(REINDEX_STARTED))
        try:
            new = await asyncio.to_thread(build)
        except Exception:
            logger.exception("reindex failed; the old index stays in use")
            await message.reply_html(esc(REINDEX_FAILED))
            return
        swap_retriever(context, new)
        usage(context)["reindex"] += 1
    figures = await asyncio.to_thread(new.stats)
    await message.reply_html(
        esc(
            REINDEX_DONE.format(
                articles=figures.get("articles", "?"),
                passages=figures.get("passages", "?"),
                version=figures.get("version", "?"),
            )
        )
    )


def swap_retriever(context: ContextTypes.DEFAULT_TYPE, new: object) -> None:
    """Put a freshly loaded retriever in bot_data; close the replaced one once its searches are done."""
    old = context.bot_data["retriever"]
    context.bot_data["retriever"] = new  # one assignment: handlers read it once per update
    if old is not new and hasattr(old, "close") and context.job_queue is not None:
        context.job_queue.run_once(_close_retired, RETIRE_AFTER, data=old, name="retire-index")


async def _close_retired(context: ContextTypes.DEFAULT_TYPE) -> None:
    """Close a replaced retriever once the searches that started on it are long done."""
    await asyncio.to_thread(context.job.data.close)
