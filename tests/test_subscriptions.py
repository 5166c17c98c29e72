"""Tests for bot.subscriptions (SQLite, no Telegram); moved from test_chatlog.py with the subscriptions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.chatlog import ChatLog, ChatMessage
from bot.subscriptions import Subscriptions, normalize_hhmm

A, B = -1001111, -1002222
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def subs(tmp_path):
    with Subscriptions(tmp_path / "chat.sqlite") as subs:
        yield subs


def test_subscriptions(subs):
    assert subs.subscribe(A, "8:00") == "08:00"
    assert subs.subscribe(B, "21:30") == "21:30"
    assert subs.subscribe(A, "07:15") == "07:15"  # re-subscribing moves the time
    assert subs.all() == [(B, "21:30"), (A, "07:15")]  # ordered by chat id
    assert subs.at(A) == "07:15" and subs.at(-1) is None
    assert subs.unsubscribe(B)
    assert not subs.unsubscribe(B)
    assert subs.all() == [(A, "07:15")]
    with pytest.raises(ValueError):
        subs.subscribe(A, "25:00")


@pytest.mark.parametrize(("raw", "want"), [("8", "08:00"), ("08:00", "08:00"), ("7:05", "07:05"), ("23：59", "23:59")])
def test_normalize_hhmm(raw, want):
    assert normalize_hhmm(raw) == want


@pytest.mark.parametrize("raw", ["", "24:00", "12:60", "8am", "8:5", "abc"])
def test_normalize_hhmm_rejects(raw):
    with pytest.raises(ValueError):
        normalize_hhmm(raw)


def test_forgetting_a_chats_log_keeps_its_subscription(tmp_path):
    path = tmp_path / "chat.sqlite"
    with ChatLog(path) as log, Subscriptions(path) as subs:
        for i in range(1, 4):
            log.add(ChatMessage(A, i, 7, "小王", T0 + timedelta(minutes=i), f"消息{i}"))
        subs.subscribe(A, "08:00")
        assert log.forget(A) == 3
        assert subs.at(A) == "08:00"  # /digest off is a separate choice


def test_persist_across_reopen_in_the_message_logs_file(tmp_path):
    path = tmp_path / "sub" / "chat.sqlite"
    with ChatLog(path) as log, Subscriptions(path) as subs:
        log.add(ChatMessage(A, 1, 7, "小王", T0, "第一条"))
        subs.subscribe(A, "08:00")
    with ChatLog(path) as log, Subscriptions(path) as subs:
        assert subs.all() == [(A, "08:00")]
        assert [m.text for m in log.last(A, 5)] == ["第一条"]
