"""Group messages meant for the bot: the filter that finds them and the question they hold."""

from __future__ import annotations

import re

from telegram import Message, MessageEntity
from telegram.ext import filters


class AddressedToBot(filters.MessageFilter):
    """Group messages meant for the bot: they mention it or reply to one of its messages."""

    def filter(self, message: Message) -> bool:
        bot = message.get_bot()
        reply = message.reply_to_message
        if reply is not None and reply.from_user is not None and reply.from_user.id == bot.id:
            return True
        return bool(_mentions(message, bot.username, bot.id))


ADDRESSED_TO_BOT = AddressedToBot(name="AddressedToBot")


def _mentions(message: Message, username: str, bot_id: int) -> list[MessageEntity]:
    entities = message.parse_entities([MessageEntity.MENTION, MessageEntity.TEXT_MENTION])
    return [
        entity
        for entity, text in entities.items()
        if (entity.type == MessageEntity.MENTION and text[1:].lower() == username.lower())
        or (entity.user is not None and entity.user.id == bot_id)
    ]


def question_without_mention(message: Message, username: str) -> str:
    """Return the message text with @mentions of the bot removed."""
    text = message.text or ""
    return re.sub(rf"@{re.escape(username)}\b", " ", text, flags=re.IGNORECASE).strip()
