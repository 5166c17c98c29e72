"""Telegram channels as news sources: each post of a listed channel becomes an article in the index.

The bot, made an administrator of a channel, receives its posts (``channel_post``) and their edits
(``edited_channel_post``); a post forwarded to it in private by a bot admin counts the same. A post of
a channel listed in ``[channels]`` becomes an article: the leading bold text or the first line as the
title, the post time, the channel title as the source, ``t.me/<channel>/<id>`` as the link (media
captions count as text). The index service (``services(context).news``) adds it like a feed item
(``index.writer.add_articles``: a JSONL file under ``<index dir>/added/``, one version) and swaps the new index in
as a feed poll does, so it is searchable and in /latest at once; an edit, with the same article id, replaces it. Posts of other channels are not stored.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from datetime import datetime

from telegram import Chat, Message, MessageEntity, MessageOriginChannel, Update
from telegram.ext import ContextTypes

from index.schema import Article

from . import handlers
from .admin import is_admin, usage
from .services import services
from .text import CHINA_TZ, esc

logger = logging.getLogger(__name__)

MAX_TITLE = 60  # a first line longer than this is cut at its first sentence (or here) for the title
ADDED = "已加入新闻库：{title}"
IGNORED = "这个频道不在 config.toml 的 [channels] 里，没有收录。"
NO_INDEX = "这个实例不能添加文章（没有索引目录）。"


def post_link(chat: Chat, message_id: int) -> str:
    """The post's public link (t.me/<username>/<id>), or its t.me/c/ link in a private channel."""
    if chat.username:
        return f"https://t.me/{chat.username}/{message_id}"
    internal = str(chat.id).removeprefix("-100") if str(chat.id).startswith("-100") else str(abs(chat.id))
    return f"https://t.me/c/{internal}/{message_id}"


def _title_and_body(text: str, entities: Mapping[MessageEntity, str]) -> tuple[str, list[str]]:
    """The title (a leading bold run, else the first line, cut at a sentence end) and the body paragraphs."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    bold = [(e.offset, t.strip()) for e, t in entities.items() if e.type == MessageEntity.BOLD and t.strip()]
    lead = min(bold, default=None)
    if lead is not None and lines and lines[0].startswith(lead[1]):
        title = lead[1]
        rest = lines[0][len(title):].strip(" ：:—-|")
        body = ([rest] if rest else []) + lines[1:]
    else:
        title, body = lines[0], lines[1:]
    if len(title) > MAX_TITLE:
        cut = re.search(r"[。！？!?；;]", title[:MAX_TITLE])
        short = title[: cut.end()] if cut else title[: MAX_TITLE - 1] + "…"
        body = [title] + body  # the whole line stays in the body
        title = short
    return title, body or [title]


def post_article(chat: Chat, message_id: int, date: datetime, text: str,
                 entities: Mapping[MessageEntity, str]) -> Article | None:
    """The article a channel post makes, or None when it has no text (nor caption)."""
    if not text or not text.strip():
        return None
    title, body = _title_and_body(text, entities)
    return Article(
        id=f"tg-{chat.id}-{message_id}", title=title, paragraphs=body,
        published_at=date.astimezone(CHINA_TZ).isoformat(), source=chat.title or chat.username or "Telegram",
        url=post_link(chat, message_id), origin=f"telegram:{chat.id}/{message_id}",
    )


def _text(message: Message) -> tuple[str, dict[MessageEntity, str]]:
    if message.text:
        return message.text, message.parse_entities([MessageEntity.BOLD])
    return message.caption or "", message.parse_caption_entities([MessageEntity.BOLD])


async def _add(context: ContextTypes.DEFAULT_TYPE, article: Article) -> bool:
    """Add one article and swap in the new index; whether the index changed."""
    news = services(context).news
    if not news.can_add:
        logger.warning("a channel post arrived but the bot has no index folder to add it to")
        return False
    version = await news.add_articles([article], f"telegram-{article.id}")
    if version is None:
        return False
    usage(context)["channel_posts"] += 1
    logger.info("channel post %s added (index version %s)", article.id, version)
    return True


def listed(context: ContextTypes.DEFAULT_TYPE, chat: Chat) -> bool:
    """Whether the channel is one of ``[channels]``."""
    return services(context).config.channels.allows(chat.id, chat.username)


async def on_post(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Add a new or edited post of a listed channel to the index; ignore other channels."""
    message = update.effective_message
    if not listed(context, message.chat):
        usage(context)["channel_posts_ignored"] += 1
        return
    article = post_article(message.chat, message.message_id, message.date, *_text(message))
    if article is not None:
        await _add(context, article)


async def on_forward(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A channel post forwarded in private: added when a bot admin forwards it, else asked as a question."""
    message = update.effective_message
    origin = message.forward_origin
    if not isinstance(origin, MessageOriginChannel) or not is_admin(update, context):
        if message.text:
            await handlers.ask_private(update, context)
        return
    if not listed(context, origin.chat):
        await message.reply_html(esc(IGNORED))
        return
    article = post_article(origin.chat, origin.message_id, origin.date, *_text(message))
    if article is None:
        return
    if not services(context).news.can_add:
        await message.reply_html(esc(NO_INDEX))
        return
    await _add(context, article)
    await message.reply_html(esc(ADDED.format(title=article.title)))
