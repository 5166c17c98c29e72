"""The one error handler, and the filters that keep the bot token out of logs and tracebacks."""

from __future__ import annotations

import html
import logging
import sys
import threading
import traceback
from urllib.parse import quote

from telegram import Update
from telegram.error import BadRequest, NetworkError, RetryAfter
from telegram.ext import ContextTypes

from .services import SERVICES

logger = logging.getLogger(__name__)

APOLOGY = "抱歉，处理这条消息时出了点问题，请稍后再试。"


async def error_handler(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log the error with the update, then tell the user briefly that something went wrong."""
    # Log the error before we do anything else, so we can see it even if something breaks.
    described = update.to_dict() if isinstance(update, Update) else repr(update)
    logger.error("Exception while handling an update: %s", described, exc_info=context.error)
    shared = context.bot_data.get(SERVICES)
    if shared is not None:
        shared.usage["errors"] += 1
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
        # A URL may carry the secret percent-encoded (":" as %3A).
        self.secrets = list(dict.fromkeys(v for s in secrets if s for v in (s, quote(s, safe=""))))
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


def redact_tracebacks(*secrets: str | None) -> None:
    """Print uncaught exceptions (of any thread) with the secrets replaced, instead of Python's default.

    A malformed base URL makes the HTTP layer quote a URL holding the token in the exception that
    ends the program; that traceback never goes through logging.
    """
    flt = RedactingFilter(*secrets)

    def excepthook(exc_type, exc, tb) -> None:
        sys.stderr.write(flt._redact("".join(traceback.format_exception(exc_type, exc, tb))))

    def thread_excepthook(args: threading.ExceptHookArgs) -> None:
        if args.exc_type is not SystemExit:
            sys.stderr.write(f"Exception in thread {args.thread.name if args.thread else '?'}:\n")
            excepthook(args.exc_type, args.exc_value, args.exc_traceback)

    sys.excepthook = excepthook
    threading.excepthook = thread_excepthook
