"""Wire the bot: one Application, its services in bot_data, every handler registered here."""

from __future__ import annotations

import logging

from telegram import BotCommand, LinkPreviewOptions, Update
from telegram.constants import ParseMode
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    Defaults,
    MessageHandler,
    filters,
)
from telegram.request import BaseRequest

from . import errors, handlers
from .answers import AnswerStore
from .config import BotConfig

logger = logging.getLogger(__name__)

# The command menu, registered with setMyCommands at start-up.
COMMANDS = [
    BotCommand("ask", "提问：/ask 问题"),
    BotCommand("latest", "最新标题：/latest [条数|关键词]"),
    BotCommand("help", "使用说明"),
]

# How many updates are handled at once: a slow question must not hold up the others.
CONCURRENT_UPDATES = 16


def build_application(
    config: BotConfig,
    retriever: object,
    *,
    request: BaseRequest | None = None,
    get_updates_request: BaseRequest | None = None,
) -> Application:
    """Build the Application with its services and handlers; nothing is sent until it starts.

    Args:
        config: the bot settings; ``config.token`` must be set.
        retriever: an ``index.Retriever`` (or anything with search/latest/article/stats).
        request: the HTTP layer for Bot API calls (tests and the terminal chat pass their own).
        get_updates_request: the HTTP layer for getUpdates; defaults to a second ``request``.
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
        .rate_limiter(AIORateLimiter())
        .concurrent_updates(CONCURRENT_UPDATES)
        .post_init(post_init)
    )
    if request is not None:
        builder = builder.request(request)
    if get_updates_request is not None:
        builder = builder.get_updates_request(get_updates_request)
    application = builder.build()
    application.bot_data["config"] = config
    application.bot_data["retriever"] = retriever
    application.bot_data["answers"] = AnswerStore(config.answer_cache)
    add_handlers(application)
    return application


def add_handlers(application: Application) -> None:
    """Register every handler, in the order they are tried."""
    private_text = filters.TEXT & ~filters.COMMAND & filters.ChatType.PRIVATE
    group_text_for_bot = (
        filters.TEXT & ~filters.COMMAND & filters.ChatType.GROUPS & handlers.ADDRESSED_TO_BOT
    )
    # Note: Order matters! Commands first; plain text only in private chats, or in groups when it
    # is addressed to the bot. Other group chatter matches nothing and gets no reply.
    new = filters.UpdateType.MESSAGE  # an edited question is not asked again
    application.add_handler(CommandHandler("start", handlers.start, filters=new))
    application.add_handler(CommandHandler("help", handlers.help_command, filters=new))
    application.add_handler(CommandHandler("ask", handlers.ask_command, filters=new))
    application.add_handler(CommandHandler("latest", handlers.latest, filters=new))
    application.add_handler(MessageHandler(private_text & new, handlers.ask_private))
    application.add_handler(MessageHandler(group_text_for_bot & new, handlers.ask_group))
    application.add_handler(CallbackQueryHandler(handlers.more, pattern=r"^more:\w+:\d+$"))
    application.add_handler(CallbackQueryHandler(handlers.full_article, pattern=r"^full:\w+:\d+$"))
    application.add_error_handler(errors.error_handler)


async def post_init(application: Application) -> None:
    """Register the command menu once the bot is initialized."""
    await application.bot.set_my_commands(COMMANDS)
    logger.info("serving as @%s", application.bot.username)


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
