"""A logged group message, as the summary reads it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

__all__ = ["ChatMessage"]


@dataclass(frozen=True)
class ChatMessage:
    """One logged group text message; `time` is timezone-aware UTC."""

    chat_id: int
    message_id: int
    user_id: int
    sender: str
    time: datetime
    text: str
    reply_to: int | None = None
    edited: bool = False
