"""Commands for the bot's own administrators ([telegram] admins): /stats and /reindex.

/reindex asks the index service (``services(context).news``, ``bot.newsindex.NewsIndex``) to rebuild from
the seeds off the event loop and swap the new index in: a search already running keeps the
retriever it started with, so every answer comes wholly from the old index or wholly from the new.
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
from .newsindex import IndexBusy, NewsIndex
from .services import services
from .text import esc

logger = logging.getLogger(__name__)

REFUSED = "这个命令只对机器人管理员开放。"
NO_REINDEX = "这个实例不能重建索引（没有配置 seeds）。"
REINDEX_BUSY = "索引正在重建，请稍候。"
REINDEX_STARTED = "开始重建索引……"
REINDEX_DONE = "索引已更新：{articles} 篇文章、{passages} 个段落（版本 {version}）。"
REINDEX_FAILED = "重建索引失败，仍在使用原来的索引。详情见日志。"


def is_admin(update: Update, context: ContextTypes.DEFAULT_TYPE) -> bool:
    """Whether the update comes from a user listed in [telegram] admins."""
    config: BotConfig = services(context).config
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
    return services(context).usage


@admin_only
async def stats(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Show the index figures and the usage counters, to a bot admin."""
    message = update.effective_message
    figures = await asyncio.to_thread(services(context).retriever.stats)
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
    news: NewsIndex = services(context).news
    if not news.can_rebuild:
        await message.reply_html(esc(NO_REINDEX))
        return
    try:
        new = await news.rebuild(started=lambda: message.reply_html(esc(REINDEX_STARTED)))
    except IndexBusy:
        await message.reply_html(esc(REINDEX_BUSY))
        return
    except Exception:
        logger.exception("reindex failed; the old index stays in use")
        await message.reply_html(esc(REINDEX_FAILED))
        return
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

