"""SQLite log of group-chat text messages and per-chat summary state (digest subscriptions: bot.subscriptions)."""

from __future__ import annotations

import logging
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from . import db
from .analysis.messages import ChatMessage

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    chat_id    INTEGER NOT NULL,
    message_id INTEGER NOT NULL,
    user_id    INTEGER NOT NULL,
    sender     TEXT    NOT NULL,
    ts         REAL    NOT NULL,   -- UTC epoch seconds of the original message
    text       TEXT    NOT NULL,
    reply_to   INTEGER,
    edited     INTEGER NOT NULL DEFAULT 0,
    edit_ts    REAL,
    PRIMARY KEY (chat_id, message_id)
);
CREATE INDEX IF NOT EXISTS messages_chat_ts ON messages (chat_id, ts);
CREATE TABLE IF NOT EXISTS chat_state (
    chat_id                 INTEGER PRIMARY KEY,
    last_summary_message_id INTEGER NOT NULL,
    last_summary_ts         REAL    NOT NULL
);
"""

def _epoch(t: datetime) -> float:
    # Naive datetimes are taken as UTC, the convention of the whole log.
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    return t.timestamp()


def _row_to_message(row: sqlite3.Row) -> ChatMessage:
    return ChatMessage(
        chat_id=row["chat_id"],
        message_id=row["message_id"],
        user_id=row["user_id"],
        sender=row["sender"],
        time=datetime.fromtimestamp(row["ts"], UTC),
        text=row["text"],
        reply_to=row["reply_to"],
        edited=bool(row["edited"]),
    )


class ChatLog(db.LockedDB):
    """Per-chat message log in one SQLite file (WAL mode, one commit per write).

    One connection guarded by a lock, so methods may be called from
    `asyncio.to_thread` workers; each call is short and never holds the lock across awaits.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        super().__init__(path, _SCHEMA)
        self._conn.row_factory = sqlite3.Row
        with self._lock:
            self._conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    # -- lifecycle -------------------------------------------------------------------------

    def journal_mode(self) -> str:
        """Return SQLite's journal mode ("wal" when WAL is on)."""
        return self._query("PRAGMA journal_mode")[0][0]

    # -- internals -------------------------------------------------------------------------

    def _write(self, sql: str, params: tuple = ()) -> int:
        with self._lock:
            with self._conn:  # one transaction, committed on exit
                return self._conn.execute(sql, params).rowcount

    def _query(self, sql: str, params: tuple = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    # -- messages --------------------------------------------------------------------------

    def add(self, msg: ChatMessage) -> bool:
        """Log a group message; return False if it was already logged."""
        # Private chats have positive ids; refusing them here backs up the handler's filter.
        if msg.chat_id > 0:
            raise ValueError(f"refusing to log private chat {msg.chat_id}")
        n = self._write(
            "INSERT OR IGNORE INTO messages"
            " (chat_id, message_id, user_id, sender, ts, text, reply_to, edited)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                msg.chat_id,
                msg.message_id,
                msg.user_id,
                msg.sender,
                _epoch(msg.time),
                msg.text,
                msg.reply_to,
                int(msg.edited),
            ),
        )
        return n == 1

    def edit(self, chat_id: int, message_id: int, text: str, edit_time: datetime) -> bool:
        """Replace a logged message's text; return False if it is not in the log."""
        n = self._write(
            "UPDATE messages SET text = ?, edited = 1, edit_ts = ? WHERE chat_id = ? AND message_id = ?",
            (text, _epoch(edit_time), chat_id, message_id),
        )
        return n == 1

    def count(self, chat_id: int) -> int:
        """Return how many messages of the chat are logged."""
        return self._query("SELECT COUNT(*) FROM messages WHERE chat_id = ?", (chat_id,))[0][0]

    def chats(self) -> list[int]:
        """Return the ids of chats with logged messages."""
        return [r[0] for r in self._query("SELECT DISTINCT chat_id FROM messages ORDER BY chat_id")]

    def last(self, chat_id: int, n: int) -> list[ChatMessage]:
        """Return the chat's newest `n` messages, oldest first."""
        rows = self._query(
            "SELECT * FROM messages WHERE chat_id = ? ORDER BY message_id DESC LIMIT ?",
            (chat_id, max(n, 0)),
        )
        return [_row_to_message(r) for r in reversed(rows)]

    def since(self, chat_id: int, since: datetime, limit: int = 2000) -> list[ChatMessage]:
        """Return messages sent at or after `since`, oldest first, at most the newest `limit`."""
        rows = self._query(
            "SELECT * FROM messages WHERE chat_id = ? AND ts >= ? ORDER BY message_id DESC LIMIT ?",
            (chat_id, _epoch(since), max(limit, 0)),
        )
        return [_row_to_message(r) for r in reversed(rows)]

    def since_last_summary(self, chat_id: int, default_n: int = 200, limit: int = 2000) -> list[ChatMessage]:
        """Return messages after the last summary, or the newest `default_n` if there was none."""
        state = self.last_summary(chat_id)
        if state is None:
            return self.last(chat_id, default_n)
        rows = self._query(
            "SELECT * FROM messages WHERE chat_id = ? AND message_id > ? ORDER BY message_id DESC LIMIT ?",
            (chat_id, state[0], max(limit, 0)),
        )
        return [_row_to_message(r) for r in reversed(rows)]

    def select(
        self,
        chat_id: int,
        *,
        count: int | None = None,
        since: datetime | None = None,
        default_n: int = 200,
        limit: int = 2000,
    ) -> list[ChatMessage]:
        """Return the window a /summary asked for: last `count`, since a time, or the default."""
        if count is not None:
            return self.last(chat_id, min(count, limit))
        if since is not None:
            return self.since(chat_id, since, limit)
        return self.since_last_summary(chat_id, default_n, limit)

    # -- summary state ---------------------------------------------------------------------

    def mark_summarized(self, chat_id: int, message_id: int, time: datetime) -> None:
        """Record that the chat was summarized up to `message_id` at `time`."""
        self._write(
            "INSERT INTO chat_state (chat_id, last_summary_message_id, last_summary_ts) VALUES (?, ?, ?)"
            " ON CONFLICT(chat_id) DO UPDATE SET"
            " last_summary_message_id = excluded.last_summary_message_id,"
            " last_summary_ts = excluded.last_summary_ts",
            (chat_id, message_id, _epoch(time)),
        )

    def last_summary(self, chat_id: int) -> tuple[int, datetime] | None:
        """Return (message id, time) of the chat's last summary, or None."""
        rows = self._query(
            "SELECT last_summary_message_id, last_summary_ts FROM chat_state WHERE chat_id = ?", (chat_id,)
        )
        if not rows:
            return None
        return rows[0][0], datetime.fromtimestamp(rows[0][1], UTC)

    # -- deletion --------------------------------------------------------------------------

    def forget(self, chat_id: int) -> int:
        """Delete the chat's whole log and summary state; return the number of messages deleted."""
        with self._lock:
            with self._conn:
                n = self._conn.execute("DELETE FROM messages WHERE chat_id = ?", (chat_id,)).rowcount
                self._conn.execute("DELETE FROM chat_state WHERE chat_id = ?", (chat_id,))
        logger.info("forgot %d messages of chat %s", n, chat_id)
        return n

    def prune(self, now: datetime, max_days: float, max_messages: int) -> int:
        """Delete messages older than `max_days` and all but each chat's newest `max_messages`."""
        cutoff = _epoch(now - timedelta(days=max_days))
        with self._lock:
            with self._conn:
                old = self._conn.execute("DELETE FROM messages WHERE ts < ?", (cutoff,)).rowcount
                extra = self._conn.execute(
                    "DELETE FROM messages WHERE (chat_id, message_id) IN ("
                    " SELECT chat_id, message_id FROM ("
                    "  SELECT chat_id, message_id, ROW_NUMBER() OVER"
                    "   (PARTITION BY chat_id ORDER BY message_id DESC) AS rn FROM messages)"
                    " WHERE rn > ?)",
                    (max(max_messages, 0),),
                ).rowcount
        if old or extra:
            logger.info("pruned %d expired and %d surplus messages", old, extra)
        return old + extra
