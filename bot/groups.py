"""Group chats: the allowlist gate, the message log, /summary, /digest, /forget and their jobs.

Thin async callbacks like ``bot.handlers``; the work is in ``bot.chatlog`` (SQLite),
``bot.analysis`` (summarize, digest) and ``bot.summary_format`` / ``bot.digest_format``, run off
the event loop with ``asyncio.to_thread``. The services (``bot.services.Services``: the chat log, the subscriptions, the
retriever, the settings, the clock of the /summary cooldown) come from ``services(context)``;
``bot.app`` wires it all.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from telegram import Chat, ChatMember, Message, Update
from telegram.constants import ChatAction
from telegram.error import Forbidden
from telegram.ext import Application, ApplicationHandlerStop, ContextTypes, JobQueue, filters

from index.schema import Headline

from .analysis import digest as news_digest
from .analysis import summarize
from .chatlog import ChatLog, ChatMessage
from .config import BotConfig
from .digest_format import format_digest
from .mentions import ADDRESSED_TO_BOT
from .sending import send_messages
from .services import Retriever, services
from .subscriptions import Subscriptions
from .summary_format import format_summary, too_few_text
from .text import CHINA_TZ, esc

logger = logging.getLogger(__name__)

GROUP_TYPES = (Chat.GROUP, Chat.SUPERGROUP)
ADMIN_STATUSES = (ChatMember.OWNER, ChatMember.ADMINISTRATOR)
PRUNE_JOB = "prune-chatlog"
DEFAULT_DIGEST_AT = "08:00"

REFUSAL = (
    "抱歉，这个机器人没有在本群开放（群 id {chat_id}）。"
    "如需使用，请联系机器人的管理员。"
)
GROUP_ONLY = "这个命令只能在群组里用。"
COOLDOWN = "请稍等：每个群 {every} 秒内只总结一次，{wait} 秒后再试。"
FORGET_REFUSED = "只有群管理员（或机器人管理员）可以删除本群的消息记录。"
FORGOTTEN = "已删除本群的 {n} 条消息记录。"
FORGOTTEN_CONVERSATION = "好的，刚才的对话已忘掉：下一个问题会当作新问题。"
PRIVACY_HINT = (
    "我可能只看得到命令：Telegram 的隐私模式不让机器人看群里的普通消息。"
    "请群管理员把我设为管理员，"
    "或在 @BotFather 用 /setprivacy 关闭隐私模式后把我移出群再重新拉进来。"
)
DIGEST_USAGE = (
    "用法：/digest 立即发新闻摘要；"
    "/digest on 08:00 每天北京时间 8 点推送；/digest off 取消"
)
SUBSCRIBED = "好的：每天 {at}（北京时间）在这里发新闻摘要。/digest off 取消。"
UNSUBSCRIBED = "已取消每日新闻摘要。"
NOT_SUBSCRIBED = "这里没有订阅每日新闻摘要。"


def _config(context: ContextTypes.DEFAULT_TYPE) -> BotConfig:
    return services(context).config


def _chatlog(context: ContextTypes.DEFAULT_TYPE) -> ChatLog:
    return services(context).chatlog


def _subscriptions(context: ContextTypes.DEFAULT_TYPE) -> Subscriptions:
    return services(context).subscriptions


def is_group(chat: Chat | None) -> bool:
    """Whether the chat is a group or supergroup."""
    return chat is not None and chat.type in GROUP_TYPES


# --- access ----------------------------------------------------------------------------------


async def gate(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Stop every update from a group off the allowlist; refuse politely if it addressed the bot."""
    chat = update.effective_chat
    if not is_group(chat) or _config(context).groups.allows(chat.id):
        return
    if update.message is not None and _asks_the_bot(update, context.bot.username):
        await update.message.reply_html(esc(REFUSAL.format(chat_id=chat.id)))
    # Nothing after this runs: the chat's messages are neither logged nor answered.
    raise ApplicationHandlerStop


def _asks_the_bot(update: Update, username: str) -> bool:
    """Whether a message is a command for this bot, mentions it or replies to it."""
    if filters.COMMAND.check_update(update):
        target = re.match(r"/\w+(?:@(\w+))?", update.message.text or "")
        return target is not None and (not target[1] or target[1].lower() == username.lower())
    return bool(ADDRESSED_TO_BOT.check_update(update))


# --- the message log -------------------------------------------------------------------------


def chat_message(message: Message) -> ChatMessage:
    """Turn a group text message into a log entry (sender, ids, time, text, reply-to)."""
    if message.sender_chat is not None:  # an anonymous admin, or a post from a linked channel
        user_id, sender = message.sender_chat.id, message.sender_chat.title or "匿名"
    elif message.from_user is not None:
        user_id, sender = message.from_user.id, message.from_user.full_name
    else:
        user_id, sender = 0, "?"
    reply_to = message.reply_to_message.message_id if message.reply_to_message else None
    if message.is_topic_message and reply_to == message.message_thread_id:
        reply_to = None  # in a forum topic every message "replies" to the topic's first message
    return ChatMessage(
        message.chat_id, message.message_id, user_id, sender, message.date, message.text or "", reply_to
    )


async def remember(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log a group text message; never replies."""
    await asyncio.to_thread(_chatlog(context).add, chat_message(update.effective_message))


async def remember_edit(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Replace the logged text of an edited group message; never replies."""
    message = update.edited_message
    edited_at = message.edit_date or datetime.now(UTC)
    await asyncio.to_thread(
        _chatlog(context).edit, message.chat_id, message.message_id, message.text or "", edited_at
    )


# --- /summary ----------------------------------------------------------------------------------


SUMMARY_USAGE = "用法：/summary [条数 | 时长 | today]，例如 /summary 500、/summary 2h、/summary 30m、/summary 3d、/summary today"
_WINDOW_RE = re.compile(r"^(\d+)\s*(h|hr|hrs|hour|hours|小时|个小时|m|min|mins|minute|minutes|分钟|分|d|day|days|天)?$", re.I)
_UNIT_SECONDS = {
    **dict.fromkeys(["h", "hr", "hrs", "hour", "hours", "小时", "个小时"], 3600),
    **dict.fromkeys(["m", "min", "mins", "minute", "minutes", "分钟", "分"], 60),
    **dict.fromkeys(["d", "day", "days", "天"], 86400),
}
_UNIT_LABEL = {3600: "小时", 60: "分钟", 86400: "天"}


@dataclass(frozen=True)
class Window:
    """Which messages /summary reads: the last `count`, those since `since`, or the default."""

    count: int | None = None
    since: datetime | None = None
    label: str = "上次总结以来"

    @property
    def is_default(self) -> bool:
        return self.count is None and self.since is None


def _echo(arg: str, limit: int = 30) -> str:
    """Quote a user's argument back briefly: printable characters only, at most ``limit``."""
    text = "".join(ch for ch in arg.strip() if ch.isprintable())
    return f"“{text[:limit]}…”" if len(text) > limit else f"“{text}”"


def parse_window(arg: str, now: datetime, max_count: int = 2000, max_days: int = 365) -> Window:
    """Parse a /summary argument: "", "500", "2h", "30m", "3d", "today" (also 2小时, 今天).

    `now` should be timezone-aware (naive means UTC). Raises ValueError carrying SUMMARY_USAGE.
    """
    s = (arg or "").strip().lower()
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    if not s:
        return Window()
    if s in {"today", "今天", "今日"}:
        midnight = now.astimezone(CHINA_TZ).replace(hour=0, minute=0, second=0, microsecond=0)
        return Window(since=midnight.astimezone(UTC), label="今天（北京时间）")
    m = _WINDOW_RE.match(s)
    if not m:
        raise ValueError(f"看不懂 {_echo(arg)}。{SUMMARY_USAGE}")
    digits, unit = m.group(1), m.group(2)
    # int() raises its own English ValueError past 4,300 digits; anything this long is too big anyway.
    value = int(digits) if len(digits) <= 12 else max_count + max_days * 86400 + 1
    if value <= 0:
        raise ValueError(f"数字要大于 0。{SUMMARY_USAGE}")
    if unit is None:
        if value > max_count:
            raise ValueError(f"最多总结 {max_count} 条消息。{SUMMARY_USAGE}")
        return Window(count=value, label=f"最近 {value} 条消息")
    seconds = _UNIT_SECONDS[unit]
    if value * seconds > max_days * 86400:
        raise ValueError(f"时间窗口最长 {max_days} 天。{SUMMARY_USAGE}")
    return Window(
        since=(now - timedelta(seconds=value * seconds)).astimezone(UTC),
        label=f"最近 {value} {_UNIT_LABEL[seconds]}",
    )


async def summary(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Summarize the group's discussion: /summary, /summary 500, /summary 2h, /summary today."""
    message, chat = update.effective_message, update.effective_chat
    if not is_group(chat):
        await message.reply_html(esc(GROUP_ONLY))
        return
    config = _config(context)
    try:
        window = parse_window(
            " ".join(context.args or []),
            message.date,
            max_count=config.summary.max_messages,
            max_days=max(1, round(config.groups.retention_days)),
        )
    except ValueError as e:
        await message.reply_html(esc(str(e)))
        return
    # One summary per chat per cooldown, so one group cannot keep a core busy; the time is taken
    # before the work starts, so two /summary sent together do not both run.
    started = services(context).summary_started
    now = services(context).clock()
    wait = config.summary.cooldown_seconds - (now - started.get(chat.id, -math.inf))
    if wait > 0:
        every = f"{config.summary.cooldown_seconds:g}"
        await message.reply_html(esc(COOLDOWN.format(every=every, wait=math.ceil(wait))))
        return
    started[chat.id] = now
    await message.reply_chat_action(ChatAction.TYPING)
    result, label = await asyncio.to_thread(
        _summarize_window, _chatlog(context), services(context).retriever, config, chat.id, window,
        message.date,
    )
    if result.too_few:
        started.pop(chat.id, None)  # nothing was summarized: reading a quiet window costs little
        text = too_few_text(result)
        if await _may_miss_messages(context, chat.id, result.min_messages):
            text += "\n" + PRIVACY_HINT
        await message.reply_html(esc(text))
        return
    lead = None
    if services(context).llm is not None and config.llm.summaries:  # opt-in: the picks go to the model
        from .llm.summary import paragraph

        user = update.effective_user
        lead = await paragraph(services(context), result.picks, chat.id, user.id if user else None,
                               datetime.now(CHINA_TZ))
    html = format_summary(
        result, chat_id=chat.id, username=chat.username, window_label=label, quote_chars=config.summary.quote_chars,
        lead=lead,
    )
    await send_messages(context, chat.id, [html], reply_to=message)


def _summarize_window(
    chatlog: ChatLog,
    retriever: Retriever,
    config: BotConfig,
    chat_id: int,
    window: Window,
    now: datetime,
) -> tuple[summarize.Summary, str]:
    """Read the window from the log and summarize it (blocking: runs in a worker thread)."""
    s = config.summary
    label = window.label
    if window.is_default and chatlog.last_summary(chat_id) is None:
        label = f"最近 {s.default_messages} 条消息"
    messages = chatlog.select(
        chat_id, count=window.count, since=window.since, default_n=s.default_messages, limit=s.max_messages
    )
    result = summarize.summarize(
        messages,
        s.picks,
        min_messages=s.min_messages,
        min_chars=s.min_chars,
        quote_chars=s.quote_chars,
        n_keywords=s.keywords,
        related=discussion_related(retriever, s.related_headlines) if s.related_headlines > 0 else None,
        max_related=s.related_headlines,
        diversity=s.diversity,
        duplicate_jaccard=s.duplicate_jaccard,
    )
    if not result.too_few:
        # The next bare /summary starts after the newest message summarized here.
        chatlog.mark_summarized(chat_id, max(m.message_id for m in messages), now)
    return result, label


RELATED_QUERY_WORDS = 4


def discussion_related(retriever: Retriever, n: int) -> Callable[[list[str]], list[Headline]]:
    """Return ``related(keywords)`` for summarize: the headlines the discussion's top keywords find.

    One search of the first few keywords: ``Retriever.search`` scores how much of the query a
    passage covers, so a query of every keyword (or of the quoted messages too) would never pass
    its relevance threshold, even for a discussion of nothing but indexed news.
    """

    def related(keywords: list[str]) -> list[Headline]:
        return retriever.related(" ".join(keywords[:RELATED_QUERY_WORDS]), n)

    return related


async def _may_miss_messages(context: ContextTypes.DEFAULT_TYPE, chat_id: int, minimum: int) -> bool:
    """Whether privacy mode may be why the bot has seen (almost) nothing of this chat."""
    if context.bot.can_read_all_group_messages:
        return False
    if await asyncio.to_thread(_chatlog(context).count, chat_id) >= minimum:
        return False  # it does see ordinary messages; this window was simply quiet
    # An administrator sees every message whatever its privacy mode.
    member = await context.bot.get_chat_member(chat_id, context.bot.id)
    return member.status not in ADMIN_STATUSES


# --- /forget -----------------------------------------------------------------------------------


async def forget(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Delete the group's message log when a group admin issues /forget; in private, forget the conversation."""
    message, chat = update.effective_message, update.effective_chat
    if not is_group(chat):  # a private chat keeps no log, only what follow-up questions lean on
        services(context).conversations.forget(chat.id)
        await message.reply_html(esc(FORGOTTEN_CONVERSATION))
        return
    if not await _sent_by_admin(context, message):
        await message.reply_html(esc(FORGET_REFUSED))
        return
    services(context).conversations.forget(chat.id)
    n = await asyncio.to_thread(_chatlog(context).forget, chat.id)
    await message.reply_html(esc(FORGOTTEN.format(n=n)))


async def _sent_by_admin(context: ContextTypes.DEFAULT_TYPE, message: Message) -> bool:
    if message.from_user is not None and message.from_user.id in _config(context).admins:
        return True  # the bot's own administrators ([telegram] admins) may clear any group's log
    if message.sender_chat is not None:
        # Only administrators can write as the group itself (anonymously).
        return message.sender_chat.id == message.chat_id
    if message.from_user is None:
        return False
    member = await context.bot.get_chat_member(message.chat_id, message.from_user.id)
    return member.status in ADMIN_STATUSES


# --- /digest -----------------------------------------------------------------------------------


async def digest(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Post the newest headlines now (/digest), or subscribe (/digest on 08:00) or stop (/digest off)."""
    message = update.effective_message
    args = [a.lower() for a in context.args or []]
    if not args:
        reply_to = message if is_group(message.chat) else None
        await post_digest(context, message.chat_id, reply_to=reply_to)
    elif args[0] == "on" and len(args) <= 2:
        try:
            at = await asyncio.to_thread(
                _subscriptions(context).subscribe, message.chat_id, args[1] if len(args) == 2 else DEFAULT_DIGEST_AT
            )
        except ValueError as e:
            await message.reply_html(esc(str(e)))
            return
        schedule_digest(context.job_queue, message.chat_id, at)
        await message.reply_html(esc(SUBSCRIBED.format(at=at)))
    elif args == ["off"]:
        had = await asyncio.to_thread(_subscriptions(context).unsubscribe, message.chat_id)
        unschedule_digest(context.job_queue, message.chat_id)
        await message.reply_html(esc(UNSUBSCRIBED if had else NOT_SUBSCRIBED))
    else:
        await message.reply_html(esc(DIGEST_USAGE))


async def post_digest(
    context: ContextTypes.DEFAULT_TYPE, chat_id: int, *, reply_to: Message | None = None
) -> None:
    """Build the digest off the event loop and send it to the chat."""
    s = _config(context).summary
    built = await asyncio.to_thread(
        news_digest.build_digest, services(context).retriever, s.digest_hours, s.digest_max_items
    )
    messages = format_digest(built, datetime.now(UTC))
    await send_messages(context, chat_id, messages, reply_to=reply_to)


# --- jobs --------------------------------------------------------------------------------------


def digest_job_name(chat_id: int) -> str:
    """Return the JobQueue name of a chat's daily digest."""
    return f"digest:{chat_id}"


def schedule_digest(job_queue: JobQueue, chat_id: int, at: str) -> None:
    """(Re)schedule the chat's daily digest at ``at`` ("HH:MM"), China time."""
    unschedule_digest(job_queue, chat_id)
    hour, minute = map(int, at.split(":"))
    job_queue.run_daily(
        digest_job, time(hour, minute, tzinfo=CHINA_TZ), chat_id=chat_id, name=digest_job_name(chat_id)
    )


def unschedule_digest(job_queue: JobQueue, chat_id: int) -> None:
    """Remove the chat's daily digest job, if it has one."""
    for job in job_queue.get_jobs_by_name(digest_job_name(chat_id)):
        job.schedule_removal()


async def digest_job(context: ContextTypes.DEFAULT_TYPE) -> None:
    """Send a subscribed chat its daily digest."""
    chat_id = context.job.chat_id
    if chat_id < 0 and not _config(context).groups.allows(chat_id):
        logger.info("chat %s is no longer allowed: no digest", chat_id)
        return
    try:
        await post_digest(context, chat_id)
    except Forbidden:
        # The bot was removed from the group (or blocked): stop sending for good.
        logger.info("chat %s is closed to the bot: unsubscribing its digest", chat_id)
        await asyncio.to_thread(_subscriptions(context).unsubscribe, chat_id)
        context.job.schedule_removal()


async def prune_job(context: ContextTypes.DEFAULT_TYPE) -> None:
    """Delete logged messages beyond the retention limits (days and messages per chat)."""
    g = _config(context).groups
    await asyncio.to_thread(
        _chatlog(context).prune, datetime.now(UTC), g.retention_days, g.retention_messages
    )


async def schedule_jobs(application: Application) -> None:
    """Start the pruning job and re-schedule every stored digest subscription (at start-up)."""
    job_queue = application.job_queue
    minutes = _app_config(application).groups.prune_every_minutes
    for job in job_queue.get_jobs_by_name(PRUNE_JOB):
        job.schedule_removal()
    # The first run comes soon after start-up: the bot may have been down for days.
    job_queue.run_repeating(prune_job, interval=minutes * 60, first=10, name=PRUNE_JOB)
    subscriptions = await asyncio.to_thread(services(application).subscriptions.all)
    for chat_id, at in subscriptions:
        schedule_digest(job_queue, chat_id, at)
    if subscriptions:
        logger.info("scheduled %d daily digests", len(subscriptions))


def _app_config(application: Application) -> BotConfig:
    return services(application).config
