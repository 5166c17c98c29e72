"""Sending replies: a reply of several messages in order, threaded as the question was."""

from __future__ import annotations

from collections.abc import Sequence

from telegram import Chat, InlineKeyboardMarkup, Message, ReplyParameters
from telegram.ext import ContextTypes


async def send_messages(
    context: ContextTypes.DEFAULT_TYPE,
    chat_id: int,
    messages: Sequence[str],
    *,
    reply_to: Message | None = None,
    keyboard: InlineKeyboardMarkup | None = None,
) -> None:
    """Send messages in order; quote ``reply_to`` with the first, put ``keyboard`` on the last."""
    thread_id = reply_to.message_thread_id if reply_to and reply_to.is_topic_message else None
    for n, text in enumerate(messages):
        await context.bot.send_message(
            chat_id,
            text,
            message_thread_id=thread_id,
            reply_parameters=(
                ReplyParameters(reply_to.message_id, allow_sending_without_reply=True)
                if reply_to is not None and n == 0
                else None
            ),
            reply_markup=keyboard if n == len(messages) - 1 else None,
        )


def quote_in(chat: Chat, message: Message) -> Message | None:
    """In groups a reply quotes the question so the thread stays readable; not in private."""
    return None if chat.type == Chat.PRIVATE else message
