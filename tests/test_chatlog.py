"""Tests for bot.chatlog.ChatLog (SQLite, no Telegram)."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime, timedelta

import pytest

from bot.chatlog import ChatLog, ChatMessage

A, B = -1001111, -1002222
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def msg(chat: int, mid: int, minutes: float = 0, text: str | None = None, **kw) -> ChatMessage:
    """Build a message with made-up sender and a time `minutes` after T0."""
    return ChatMessage(chat, mid, 7, "小王", T0 + timedelta(minutes=minutes), text or f"消息{mid}", **kw)


@pytest.fixture
def log(tmp_path):
    with ChatLog(tmp_path / "chat.sqlite") as log:
        yield log


def ids(messages: list[ChatMessage]) -> list[int]:
    return [m.message_id for m in messages]


def test_wal_mode_on(log, tmp_path):
    assert log.journal_mode() == "wal"
    # WAL is a property of the file: a second connection sees it too.
    with sqlite3.connect(tmp_path / "chat.sqlite") as other:
        assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_add_roundtrip_and_ignore_repeat(log):
    m = msg(A, 1, text="今天高铁票又涨了", reply_to=None)
    assert log.add(m)
    assert not log.add(m)  # Telegram may deliver an update twice
    (got,) = log.last(A, 10)
    assert got == m
    assert got.time.tzinfo is not None


def test_committed_per_message(log, tmp_path):
    log.add(msg(A, 1))
    # A separate connection sees the row without any explicit flush or close.
    with sqlite3.connect(tmp_path / "chat.sqlite") as other:
        assert other.execute("SELECT COUNT(*) FROM messages").fetchone()[0] == 1


def test_refuses_private_chats(log):
    with pytest.raises(ValueError):
        log.add(msg(12345, 1))
    assert log.count(12345) == 0


def test_edit_updates_text(log):
    log.add(msg(A, 1, text="原文"))
    assert log.edit(A, 1, "改过的", T0 + timedelta(minutes=5))
    (got,) = log.last(A, 1)
    assert got.text == "改过的" and got.edited
    assert got.time == T0  # the message keeps its original time
    assert not log.edit(A, 99, "不在日志里", T0)


def test_windows(log):
    for i in range(1, 11):
        log.add(msg(A, i, minutes=i))
        log.add(msg(B, 100 + i, minutes=i))
    assert ids(log.last(A, 3)) == [8, 9, 10]
    assert ids(log.since(A, T0 + timedelta(minutes=8))) == [8, 9, 10]
    assert ids(log.since(A, T0, limit=2)) == [9, 10]
    # No summary yet: the default window is the last default_n messages.
    assert ids(log.since_last_summary(A, default_n=4)) == [7, 8, 9, 10]
    log.mark_summarized(A, 6, T0 + timedelta(minutes=6))
    assert log.last_summary(A) == (6, T0 + timedelta(minutes=6))
    assert ids(log.since_last_summary(A, default_n=2)) == [7, 8, 9, 10]
    assert ids(log.since_last_summary(A, limit=3)) == [8, 9, 10]
    assert log.last_summary(B) is None
    assert ids(log.select(A, count=2)) == [9, 10]
    assert ids(log.select(A, since=T0 + timedelta(minutes=9))) == [9, 10]
    assert ids(log.select(A)) == [7, 8, 9, 10]
    assert ids(log.last(B, 2)) == [109, 110]


def test_forget_only_that_chat(log):
    for i in range(1, 4):
        log.add(msg(A, i))
        log.add(msg(B, i))
    log.mark_summarized(A, 2, T0)
    assert log.forget(A) == 3
    assert log.count(A) == 0 and log.last_summary(A) is None
    assert log.count(B) == 3


def test_prune_by_age_and_count_per_chat(log):
    for i in range(1, 11):
        log.add(msg(A, i, minutes=i * 60 * 24))  # one a day
    for i in range(1, 4):
        log.add(msg(B, i, minutes=9 * 60 * 24 + i))
    now = T0 + timedelta(days=10, hours=1)
    # Age: older than 3 days goes (days 1..6 for A). Count: A keeps its newest 2.
    deleted = log.prune(now, max_days=3, max_messages=2)
    assert ids(log.last(A, 100)) == [9, 10]
    assert ids(log.last(B, 100)) == [2, 3]
    assert deleted == 8 + 1
    assert log.prune(now, max_days=3, max_messages=2) == 0


def test_persists_across_reopen(tmp_path):
    path = tmp_path / "sub" / "chat.sqlite"
    with ChatLog(path) as log:
        log.add(msg(A, 1, text="第一条"))
        log.edit(A, 1, "第一条（改）", T0)
        log.mark_summarized(A, 1, T0)
    with ChatLog(path) as log:
        (m,) = log.last(A, 5)
        assert m.text == "第一条（改）" and m.edited
        assert log.last_summary(A) == (1, T0)
        assert log.journal_mode() == "wal"


async def test_concurrent_writes_from_threads(log):
    await asyncio.gather(*(asyncio.to_thread(log.add, msg(A, i)) for i in range(1, 101)))
    assert log.count(A) == 100
