"""Thin async callbacks: parse the update, ask the ask service (``bot.ask``) or the retriever, format, reply.

Private and group questions go through ``answer``, which formats the ask service's reply; the
buttons under an answer page through the hits it kept. Each command's argument parsing sits beside
its handler (/latest's here, /summary's in ``bot.groups``).

The services (``bot.services.Services``) come from ``services(context)``; ``bot.app`` wires it all.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from telegram import Chat, Message, Update
from telegram.constants import ChatAction
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from . import feedback, formatting
from .answers import Answer
from .analysis import followup
from .ask import TOO_FAST, USAGE_ASK, Asking, Headlines, NotFound, Page, Quotes, Surface, TooFast, Unaskable, ask
from .config import BotConfig
from .digest_format import format_whats_new
from .mentions import question_without_mention
from .sending import quote_in, send_messages
from .services import services
from .text import CHINA_TZ, MAX_MESSAGE_CHARS, esc

if TYPE_CHECKING:
    from .llm.compose import Generated

logger = logging.getLogger(__name__)


# --- helpers ---------------------------------------------------------------------------------


def _config(context: ContextTypes.DEFAULT_TYPE) -> BotConfig:
    return services(context).config


# --- commands ----------------------------------------------------------------------------------


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Send a short Chinese introduction when the command /start is issued."""
    await help_command(update, context)


async def help_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Explain what the bot knows and how to ask, when /help is issued."""
    stats = await asyncio.to_thread(services(context).retriever.stats)
    await update.effective_message.reply_html(formatting.format_help(stats))


# --- /latest ---------------------------------------------------------------------------------------

_HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def latest_usage(maximum: int) -> str:
    """Return the one-line usage hint for /latest."""
    return f"用法：/latest [条数 1–{maximum}] [中文关键词]，例如 /latest 20 或 /latest 疫情"


def parse_latest_args(
    args: Sequence[str], default: int, maximum: int
) -> tuple[int, str | None]:
    """Parse /latest's arguments into (count, keyword).

    A number is a count in 1..maximum; a word with a Chinese character is a keyword. Either may
    come first, each at most once. Anything else raises ValueError.
    """
    count: int | None = None
    keyword: str | None = None
    if len(args) > 2:
        raise ValueError("too many arguments")
    for arg in args:
        if re.fullmatch(r"[+-]?\d+", arg):
            n = int(arg)
            if count is not None or not 1 <= n <= maximum:
                raise ValueError(f"bad count: {arg}")
            count = n
        elif _HAN.search(arg) and keyword is None:
            keyword = arg
        else:
            raise ValueError(f"bad argument: {arg}")
    return (count or default, keyword)


async def latest(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """List the newest headlines: /latest, /latest 20, /latest 疫情."""
    config = _config(context)
    try:
        n, keyword = parse_latest_args(
            context.args or [], config.latest_default, config.latest_max
        )
    except ValueError:
        await update.effective_message.reply_html(latest_usage(config.latest_max))
        return
    headlines = await asyncio.to_thread(services(context).retriever.latest, n, keyword)
    message = update.effective_message
    await send_messages(
        context,
        message.chat_id,
        formatting.headline_list(headlines, keyword=keyword),
        reply_to=quote_in(message.chat, message),
    )


async def ask_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Answer the question after /ask (works in every chat)."""
    parts = (update.effective_message.text or "").split(maxsplit=1)
    await answer(update, context, parts[1] if len(parts) > 1 else "")


async def ask_private(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Answer any text in a private chat: it is a question."""
    await answer(update, context, update.effective_message.text or "")


async def ask_group(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Answer a group message that mentions the bot or replies to it."""
    await answer(update, context, question_without_mention(update.effective_message, context.bot.username))


def asking_of(update: Update) -> Asking:
    """Who asks a chat message, where and when (now, in China time), and which answer of the bot it replies to."""
    chat, user = update.effective_chat, update.effective_user
    surface = Surface.PRIVATE if chat.type == Chat.PRIVATE else Surface.GROUP
    replied = answer_key_of(update.effective_message.reply_to_message, update.get_bot().id)
    return Asking(surface, chat.id, user.id if user else None, datetime.now(CHINA_TZ), replied)


_ANSWER_BUTTON = re.compile(r"^(?:more|full|vote):(\w+):\w+$")


def answer_key_of(message: Message | None, bot_id: int) -> str | None:
    """The key of the bot's answer a message is, read from its buttons (every answer page has 👍/👎); else None."""
    if message is None or message.from_user is None or message.from_user.id != bot_id or message.reply_markup is None:
        return None
    for row in message.reply_markup.inline_keyboard:
        for button in row:
            match = _ANSWER_BUTTON.match(str(button.callback_data or ""))
            if match:
                return match[1]
    return None


async def answer(update: Update, context: ContextTypes.DEFAULT_TYPE, question: str) -> None:
    """Ask the ask service and reply with what it found: quotes, headlines, or the nearest headlines."""
    message = update.effective_message
    asking = asking_of(update)
    # [llm] on: a private chat sees the checked answer grow (sendMessageDraft); groups get the final reply only.
    drafting = asking.surface is Surface.PRIVATE and services(context).llm is not None
    reply = await ask(services(context), question, asking,
                      working=lambda: message.reply_chat_action(ChatAction.TYPING),
                      draft=Drafter(context, message) if drafting else None)
    reply_to = quote_in(message.chat, message)
    match reply:
        case Unaskable():
            await message.reply_html(esc(USAGE_ASK))
        case TooFast(per_minute=n, notify=notify):
            if notify:
                await message.reply_html(esc(TOO_FAST.format(n=n)))
        case Headlines(found=found, key=key):
            await send_messages(context, message.chat_id, format_whats_new(found), reply_to=reply_to,
                                keyboard=feedback.with_vote_buttons(None, key))
        case NotFound(question=asked, result=result):
            messages = formatting.format_not_found(asked, result.nearest_headlines, date_range=result.date_range)
            await send_messages(context, message.chat_id, messages, reply_to=reply_to)
        case Quotes(answer=kept, key=key, generated=generated, followup=topic):
            understood = followup.topic_line(topic) if topic else None  # what it understood, so a wrong guess shows
            await _send_page(context, message.chat_id, key, kept, 0, reply_to=reply_to, generated=generated,
                             understood=understood)
        case Page(answer=kept, key=key, offset=offset):
            if offset is None:
                await message.reply_html(esc(NO_MORE))
            else:
                await _send_page(context, message.chat_id, key, kept, offset, reply_to=reply_to)


class Drafter:
    """Streams an answer into a private chat with sendMessageDraft; the final sendMessage replaces the draft.

    A draft is a preview: one that fails is logged and the next ones are not sent, the answer still is.
    """

    def __init__(self, context: ContextTypes.DEFAULT_TYPE, message: Message) -> None:
        self.context = context
        self.chat_id = message.chat_id
        self.thread_id = message.message_thread_id if message.is_topic_message else None
        self.draft_id = secrets.randbelow(2**31 - 1) + 1  # non-zero; drafts with one id are animated
        self.failed = False

    async def __call__(self, text: str) -> None:
        if self.failed:
            return
        try:
            # Not the empty text the Bot API turns into "Thinking…": python-telegram-bot 22.8 with
            # Defaults sends "" as "[]". The mark alone says an answer is coming.
            await self.context.bot.send_message_draft(
                self.chat_id, self.draft_id, formatting.format_generated(text), message_thread_id=self.thread_id,
            )
        except TelegramError as e:
            self.failed = True
            logger.warning("sendMessageDraft failed, the answer comes without a draft: %s", e)


async def _send_page(
    context: ContextTypes.DEFAULT_TYPE,
    chat_id: int,
    key: str,
    kept: Answer,
    offset: int,
    *,
    reply_to: Message | None = None,
    generated: Generated | None = None,
    understood: str | None = None,
) -> None:
    keyboard = formatting.answer_keyboard(
        key, kept.next_offset(offset), kept.articles_on_page(offset)
    )
    keyboard = feedback.with_vote_buttons(keyboard, key)  # 👍/👎 under every page of an answer
    head = esc(understood) + "\n" if understood else ""  # the follow-up line goes first
    messages = formatting.format_hits(
        kept.page(offset),
        limit=MAX_MESSAGE_CHARS - len(head),
        date_range=kept.date_range if offset == 0 else None,
        confident=kept.confident or offset > 0,
        outside_range=kept.outside_range and offset == 0,
        lead=formatting.format_generated(generated.text) if generated is not None else None,
        numbers=generated.numbers if generated is not None else None,
    )
    messages = [head + messages[0], *messages[1:]] if messages else messages
    await send_messages(context, chat_id, messages, reply_to=reply_to, keyboard=keyboard)


# --- buttons -------------------------------------------------------------------------------------

EXPIRED = "这条回答已过期，请重新提问。"
NO_MORE = "没有更多了。"
# A message sent through inline mode sits in a chat the bot may not write to: only the toast answers.
NOT_HERE = "这里不能显示更多内容，请私聊机器人提问。"


async def more(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Send the next passages of an answer when its "more" button is pressed."""
    query = update.callback_query
    _, key, offset_text = query.data.split(":")
    kept: Answer | None = services(context).answers.get(key)
    offset = int(offset_text)
    if kept is None:
        await query.answer(EXPIRED)
        return
    if not kept.page(offset):
        await query.answer(NO_MORE)
        return
    if query.message is None:
        await query.answer(NOT_HERE)
        return
    await query.answer()
    await _send_page(context, query.message.chat.id, key, kept, offset)


async def full_article(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Send the whole cleaned article when a "full article" button is pressed."""
    query = update.callback_query
    _, key, index_text = query.data.split(":")
    kept: Answer | None = services(context).answers.get(key)
    ids = kept.article_ids if kept is not None else []
    index = int(index_text)
    article = None
    if index < len(ids):
        article = await asyncio.to_thread(services(context).retriever.article, ids[index])
    if article is None:
        await query.answer(EXPIRED)
        return
    if query.message is None:
        await query.answer(NOT_HERE)
        return
    await query.answer()
    await send_messages(context, query.message.chat.id, formatting.format_article(article))


def no_data(data: object) -> bool:
    """Match no callback data: with this pattern a handler gets only the presses that carry none."""
    return False


async def stale_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Answer a press no other handler takes (no data, forged or outdated data), so the client's spinner stops."""
    await update.callback_query.answer(EXPIRED)
