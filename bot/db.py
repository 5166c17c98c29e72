"""How the bot opens its SQLite files (message log, digest subscriptions, feedback)."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path


def connect(path: str | Path, schema: str) -> sqlite3.Connection:
    """Open (creating the folder) a SQLite file for use from worker threads, WAL mode, with ``schema``.

    ``":memory:"`` gives a private in-memory database. The caller guards the connection with a lock.
    """
    if str(path) != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
    # WAL lets a reader (e.g. a backup) run while the bot writes; NORMAL is durable enough for these
    # logs and avoids an fsync per write.
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA busy_timeout=5000")
    conn.executescript(schema)
    return conn


class LockedDB:
    """One SQLite connection shared by worker threads behind a lock; closes on ``with`` exit."""

    def __init__(self, path: str | Path, schema: str) -> None:
        self._lock = threading.Lock()
        self._conn = connect(path, schema)

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
