"""Wire the bot: one Application, its services in bot_data, every handler registered here."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable

from telegram import BotCommand, BotCommandScopeAllGroupChats, LinkPreviewOptions, Update
from telegram.constants import ParseMode
from telegram.ext import (
    Application,
    ApplicationBuilder,
    BaseRateLimiter,
    CallbackQueryHandler,
    CommandHandler,
    Defaults,
    InlineQueryHandler,
    MessageHandler,
    TypeHandler,
    filters,
)
from telegram.request import BaseRequest

from . import admin, channels, delivery, error_handling, feedback, feeds, groups, handlers, inline, mentions
from .config import BotConfig
from .newsindex import NewsIndex
from .services import SERVICES, Services

logger = logging.getLogger(__name__)

# The command menus, registered with setMyCommands at start-up. Telegram shows the group menu
# instead of the default one in groups, so it repeats the commands that work everywhere.
COMMANDS = [
    BotCommand("ask", "提问：/ask 问题"),
    BotCommand("latest", "最新标题：/latest [条数|关键词]"),
    BotCommand("digest", "新闻摘要：/digest [on 08:00 | off]"),
    BotCommand("forget", "忘掉刚才的对话（追问不再接着它）"),
    BotCommand("help", "使用说明"),
]
GROUP_COMMANDS = [
    BotCommand("ask", "提问：/ask 问题"),
    BotCommand("summary", "总结群聊：/summary [条数 | 2h | today]"),
    BotCommand("latest", "最新标题：/latest [条数|关键词]"),
    BotCommand("digest", "新闻摘要：/digest [on 08:00 | off]"),
    BotCommand("forget", "删除本群的消息记录（仅管理员）"),
    BotCommand("help", "使用说明"),
]

# How many updates are handled at once: a slow question must not hold up the others. Updates of
# one chat are still handled one after another (delivery.ChatOrderedProcessor).
CONCURRENT_UPDATES = 16


def build_application(
    config: BotConfig,
    news: NewsIndex,
    *,
    request: BaseRequest | None = None,
    get_updates_request: BaseRequest | None = None,
    rate_limiter: BaseRateLimiter | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> Application:
    """Build the Application and its handlers; post_init makes the services, and nothing is sent until it starts.

    Args:
        config: the bot settings; ``config.token`` must be set.
        news: the index service (``bot.newsindex.NewsIndex``): the retriever, /reindex, the feed
            poller; the Application starts it in post_init and closes it in post_shutdown.
        request: the HTTP layer for Bot API calls (tests and the terminal chat pass their own).
        get_updates_request: the HTTP layer for getUpdates; defaults to a second ``request``.
        rate_limiter: defaults to ``delivery.RetryingRateLimiter()`` (Telegram's flood limits,
            429 and safe network retries); tests pass one without the flood limits.
        clock: monotonic seconds for the question limit and the /summary cooldown (tests pass a
            fake one, so no test waits for either).
    """
    if not config.token:
        raise ValueError("build_application needs a token")
    builder = (
        ApplicationBuilder()
        .token(config.token)
        .base_url(config.base_url)
        .defaults(
            Defaults(
                parse_mode=ParseMode.HTML,
                link_preview_options=LinkPreviewOptions(is_disabled=True),
            )
        )
        .rate_limiter(rate_limiter or delivery.RetryingRateLimiter())
        .concurrent_updates(delivery.ChatOrderedProcessor(CONCURRENT_UPDATES))
        # The services are made when the bot starts, not here: a built Application opens no file.
        .post_init(functools.partial(post_init, config=config, news=news, clock=clock))
        .post_shutdown(post_shutdown)
    )
    if request is not None:
        builder = builder.request(request)
    if get_updates_request is not None:
        builder = builder.get_updates_request(get_updates_request)
    application = builder.build()
    add_handlers(application)
    return application


def add_handlers(application: Application) -> None:
    """Register every handler, in the order they are tried."""
    private_text = filters.TEXT & ~filters.COMMAND & filters.ChatType.PRIVATE
    group_text_for_bot = (
        filters.TEXT & ~filters.COMMAND & filters.ChatType.GROUPS & mentions.ADDRESSED_TO_BOT
    )
    group_text = filters.ChatType.GROUPS & filters.TEXT & ~filters.COMMAND
    # Note: Order matters! Group -3: an update already handled (redelivered by the server) stops
    # here. Group -2: a group off the allowlist stops here (refused if it addressed
    # the bot), so nothing of it is logged or answered. Group -1: group text is logged, new or
    # edited; logging never replies and never stops the update from reaching group 0.
    application.add_handler(TypeHandler(Update, delivery.drop_redelivered_updates), group=-3)
    application.add_handler(TypeHandler(Update, groups.gate), group=-2)
    application.add_handler(
        MessageHandler(group_text & filters.UpdateType.MESSAGE, groups.remember), group=-1
    )
    application.add_handler(
        MessageHandler(group_text & filters.UpdateType.EDITED_MESSAGE, groups.remember_edit), group=-1
    )
    # Group 0: commands first; plain text only in private chats, or in groups when it is
    # addressed to the bot. Other group chatter matches nothing and gets no reply.
    new = filters.UpdateType.MESSAGE  # an edited question is not asked again
    application.add_handler(CommandHandler("start", handlers.start, filters=new))
    application.add_handler(CommandHandler("help", handlers.help_command, filters=new))
    application.add_handler(CommandHandler("ask", handlers.ask_command, filters=new))
    application.add_handler(CommandHandler("latest", handlers.latest, filters=new))
    application.add_handler(CommandHandler("summary", groups.summary, filters=new))
    application.add_handler(CommandHandler("digest", groups.digest, filters=new))
    application.add_handler(CommandHandler("forget", groups.forget, filters=new))
    application.add_handler(CommandHandler("stats", admin.stats, filters=new))
    application.add_handler(CommandHandler("reindex", admin.reindex, filters=new))
    application.add_handler(CommandHandler("feeds", feeds.feeds, filters=new))
    # Posts of the [channels] channels become articles; a bot admin may forward them in private.
    application.add_handler(MessageHandler(filters.UpdateType.CHANNEL_POSTS, channels.on_post))
    application.add_handler(
        MessageHandler(filters.ChatType.PRIVATE & filters.FORWARDED & new & (filters.TEXT | filters.CAPTION)
                       & ~filters.COMMAND, channels.on_forward)
    )
    application.add_handler(MessageHandler(private_text & new, handlers.ask_private))
    application.add_handler(MessageHandler(group_text_for_bot & new, handlers.ask_group))
    # Buttons. python-telegram-bot passes a press without data to every pattern handler, so the
    # first one takes only those; the last one takes whatever data no other handler matched.
    application.add_handler(CallbackQueryHandler(handlers.stale_button, pattern=handlers.no_data))
    application.add_handler(CallbackQueryHandler(handlers.more, pattern=r"^more:\w+:\d+$"))
    application.add_handler(CallbackQueryHandler(handlers.full_article, pattern=r"^full:\w+:\d+$"))
    application.add_handler(CallbackQueryHandler(feedback.vote, pattern=feedback.CALLBACK_PATTERN))
    application.add_handler(CallbackQueryHandler(handlers.stale_button))
    # @bot 问题 in any chat (inline mode, switched on in @BotFather with /setinline).
    application.add_handler(InlineQueryHandler(inline.answer_inline))
    application.add_error_handler(error_handling.error_handler)


async def post_init(
    application: Application, *, config: BotConfig, news: NewsIndex, clock: Callable[[], float]
) -> None:
    """Make the services, register the command menus and schedule the jobs once the bot is initialized."""
    application.bot_data[SERVICES] = shared = Services.open(config, news, clock)
    shared.start(application.job_queue)
    await application.bot.set_my_commands(COMMANDS)
    await application.bot.set_my_commands(GROUP_COMMANDS, scope=BotCommandScopeAllGroupChats())
    await groups.schedule_jobs(application)
    feeds.schedule(application)
    feedback.schedule(application)
    logger.info("serving as @%s", application.bot.username)


async def post_shutdown(application: Application) -> None:
    """Close the services: the message log, the subscriptions, the feedback log and the index."""
    shared = application.bot_data.pop(SERVICES, None)
    if shared is not None:  # None: the bot stopped before post_init made them
        shared.close()
        if shared.llm is not None:
            await shared.llm.aclose()


def run(application: Application, config: BotConfig) -> None:
    """Receive updates by webhook when one is configured, else by long polling (blocks)."""
    if config.webhook:
        application.run_webhook(
            listen=config.webhook_listen,
            port=config.webhook_port,
            url_path=config.webhook_path,
            webhook_url=config.webhook_url,
            secret_token=config.webhook_secret,
            allowed_updates=Update.ALL_TYPES,
        )
    else:
        application.run_polling(allowed_updates=Update.ALL_TYPES)
