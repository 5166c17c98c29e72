"""The one error handler, and a logging filter that keeps the bot token out of the logs."""

from __future__ import annotations

import html
import logging

from telegram import Update
from telegram.error import BadRequest, NetworkError, RetryAfter
from telegram.ext import ContextTypes

logger = logging.getLogger(__name__)

APOLOGY = "抱歉，处理这条消息时出了点问题，请稍后再试。"


async def error_handler(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log the error with the update, then tell the user briefly that something went wrong."""
    # Log the error before we do anything else, so we can see it even if something breaks.
    described = update.to_dict() if isinstance(update, Update) else repr(update)
    logger.error("Exception while handling an update: %s", described, exc_info=context.error)
    usage = context.bot_data.get("usage")
    if usage is not None:
        usage["errors"] += 1
    if not isinstance(update, Update) or update.effective_chat is None:
        return
    if isinstance(context.error, NetworkError | RetryAfter) and not isinstance(context.error, BadRequest):
        # Telegram trouble: the reply may even have arrived (a lost answer to sendMessage), and
        # an apology would go the same broken way. bot.delivery already retried what was safe.
        return
    try:
        if update.callback_query is not None:
            await update.callback_query.answer(APOLOGY)
        else:
            await context.bot.send_message(update.effective_chat.id, html.escape(APOLOGY))
    except Exception:  # noqa: BLE001 - the apology is best effort; the cause is logged above
        logger.warning("could not send the apology", exc_info=True)


class RedactingFilter(logging.Filter):
    """Replace secrets (the bot token) in log records, tracebacks included."""

    def __init__(self, *secrets: str | None, placeholder: str = "<TOKEN>"):
        super().__init__()
        self.secrets = [s for s in secrets if s]
        self.placeholder = placeholder

    def _redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, self.placeholder)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        record.msg = self._redact(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self._redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self._redact(record.stack_info)
        return True


def redact_logs(*secrets: str | None) -> RedactingFilter:
    """Install a RedactingFilter on every handler of the root logger and return it."""
    flt = RedactingFilter(*secrets)
    for handler in logging.getLogger().handlers:
        handler.addFilter(flt)
    return flt
