"""Daily digest subscriptions of group chats (/digest on 08:00): one China time per chat.

They live in the message log's SQLite file (``[groups] log_path``, table ``subscriptions``) so they
survive restarts, through a connection of their own; /forget deletes a chat's messages, not its
subscription (/digest off is a separate choice). Without a log_path, in memory only.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from . import db

_SCHEMA = """
CREATE TABLE IF NOT EXISTS subscriptions (
    chat_id    INTEGER PRIMARY KEY,
    at         TEXT    NOT NULL,   -- "HH:MM", China time
    created_ts REAL    NOT NULL
);
"""

_HHMM = re.compile(r"^(\d{1,2})(?::(\d{2}))?$")


def normalize_hhmm(value: str) -> str:
    """Return "HH:MM" for inputs like "8", "8:00", "08:30", or raise ValueError."""
    m = _HHMM.match(value.strip().replace("：", ":"))
    if not m:
        raise ValueError(f"时间格式应为 HH:MM，例如 08:00（收到 {_echo(value)}）")
    hour, minute = int(m.group(1)), int(m.group(2) or 0)
    if hour > 23 or minute > 59:
        raise ValueError(f"时间超出范围：{_echo(value)}（00:00–23:59）")
    return f"{hour:02d}:{minute:02d}"


def _echo(value: str, limit: int = 20) -> str:
    """The argument as quoted back to the user: a long one is cut, so the reply stays short."""
    return repr(value if len(value) <= limit else value[:limit] + "…")


class Subscriptions(db.LockedDB):
    """The chats subscribed to the daily digest, and when (one connection guarded by a lock).

    Methods may be called from ``asyncio.to_thread`` workers; each call is short.
    """

    def __init__(self, path: str | Path) -> None:
        super().__init__(path, _SCHEMA)

    def subscribe(self, chat_id: int, at: str, now: datetime | None = None) -> str:
        """Subscribe the chat to the daily digest at China-time `at`; return the normalized "HH:MM"."""
        hhmm = normalize_hhmm(at)
        now = now or datetime.now(UTC)
        if now.tzinfo is None:  # naive times are UTC, as in the message log
            now = now.replace(tzinfo=UTC)
        with self._lock, self._conn:
            self._conn.execute(
                "INSERT INTO subscriptions (chat_id, at, created_ts) VALUES (?, ?, ?)"
                " ON CONFLICT(chat_id) DO UPDATE SET at = excluded.at",
                (chat_id, hhmm, now.timestamp()),
            )
        return hhmm

    def unsubscribe(self, chat_id: int) -> bool:
        """Remove the chat's digest subscription; return False if it had none."""
        with self._lock, self._conn:
            return self._conn.execute("DELETE FROM subscriptions WHERE chat_id = ?", (chat_id,)).rowcount == 1

    def all(self) -> list[tuple[int, str]]:
        """Return all (chat_id, "HH:MM") subscriptions, ordered by chat id."""
        with self._lock:
            rows = self._conn.execute("SELECT chat_id, at FROM subscriptions ORDER BY chat_id").fetchall()
        return [(r[0], r[1]) for r in rows]

    def at(self, chat_id: int) -> str | None:
        """Return the chat's digest time, or None."""
        with self._lock:
            row = self._conn.execute("SELECT at FROM subscriptions WHERE chat_id = ?", (chat_id,)).fetchone()
        return row[0] if row else None
