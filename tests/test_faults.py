"""Telegram trouble: 429s, 5xx, timeouts, dropped connections and redelivered updates.

The real Application against the fake Bot API (tests/fakebotapi.py), whose ``fail`` injects each
fault into the next call of a method. What the bot must do (bot/delivery.py): wait out a 429 and
retry; retry what provably did not happen (5xx, connection refused) and, after a lost answer,
only idempotent calls, never sendMessage (no duplicates); answer a redelivered update once; keep
polling through all of it.
"""

from __future__ import annotations

import asyncio
import logging

import httpx
import pytest
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut

from bot.delivery import safe_to_retry
from bot.error_handling import APOLOGY
from tests.fakebotapi import PRIVATE_CHAT, parse_html
from tests.fakeretriever import FakeRetriever
from tests.helpers import feed, started

QUESTION = "社区防控要突出什么"



def _network_error(cause: Exception | None, cls=NetworkError) -> NetworkError:
    error = cls("boom") if cls is not TimedOut else TimedOut()
    error.__cause__ = cause
    return error


_REQ = httpx.Request("POST", "https://api.telegram.org/botX/sendMessage")


@pytest.mark.parametrize(
    ("endpoint", "error", "safe"),
    [
        ("sendMessage", _network_error(httpx.ConnectError("refused", request=_REQ)), True),
        ("sendMessage", _network_error(httpx.ConnectTimeout("t", request=_REQ), TimedOut), True),
        ("sendMessage", _network_error(httpx.PoolTimeout("t", request=_REQ), TimedOut), True),
        ("sendMessage", _network_error(None), True),  # an HTTP 5xx answer
        ("sendMessage", _network_error(httpx.ReadTimeout("t", request=_REQ), TimedOut), False),
        ("sendMessage", _network_error(httpx.RemoteProtocolError("gone", request=_REQ)), False),
        ("sendChatAction", _network_error(httpx.ReadTimeout("t", request=_REQ), TimedOut), True),
        ("answerCallbackQuery", _network_error(httpx.RemoteProtocolError("gone", request=_REQ)), True),
        ("sendMessage", RetryAfter(3), False),  # the rate limiter's job, not this one's
        ("sendMessage", BadRequest("text is too long"), False),  # a NetworkError subclass in PTB
        ("sendChatAction", Forbidden("bot was blocked by the user"), False),
    ],
)
def test_safe_to_retry_repeats_only_what_cannot_duplicate(endpoint, error, safe):
    assert safe_to_retry(endpoint, error) is safe


async def test_a_429_is_waited_out_then_the_answer_is_sent_once(
    make_bot, fake_bot_api, handler_errors
):
    application = make_bot(FakeRetriever())
    fake_bot_api.fail("sendMessage", "retry_after", retry_after=1)
    async with started(application):
        await feed(application, fake_bot_api.message_update(QUESTION))

    attempts = [c for c in fake_bot_api.calls if c.method == "sendMessage"]
    assert [c.fault for c in attempts] == ["retry_after", None]
    assert attempts[1].at - attempts[0].at >= 1.0  # retry_after honoured (AIORateLimiter adds 0.1 s)
    assert len(fake_bot_api.sent("sendMessage")) == 1
    assert handler_errors == []


@pytest.mark.parametrize(
    ("kind", "options"),
    [("server_error", {"status": 500}), ("server_error", {"status": 502}), ("connect_error", {})],
)
async def test_a_reply_that_surely_failed_is_retried_and_arrives_once(
    make_bot, fake_bot_api, handler_errors, fast_limiter, kind, options
):
    application = make_bot(FakeRetriever(), rate_limiter=fast_limiter)
    fake_bot_api.fail("sendMessage", kind, times=2, **options)
    async with started(application):
        await feed(application, fake_bot_api.message_update(QUESTION))

    attempts = [c for c in fake_bot_api.calls if c.method == "sendMessage"]
    assert [c.fault for c in attempts] == [kind, kind, None]
    assert len(fake_bot_api.sent("sendMessage")) == 1
    assert QUESTION in fake_bot_api.texts()[0]
    assert handler_errors == []


@pytest.mark.parametrize(
    ("kind", "options"), [("read_timeout", {}), ("dropped", {}), ("slow", {"delay": 5.0})]
)
async def test_a_reply_whose_answer_was_lost_is_not_sent_again(
    make_bot, fake_bot_api, handler_errors, fast_limiter, kind, options, caplog
):
    # The fake carried the sendMessage out; only its answer was lost. Sending it again would show
    # the user the same answer twice, so the bot logs the error and sends nothing more.
    application = make_bot(FakeRetriever(), rate_limiter=fast_limiter, read_timeout=0.3)
    fake_bot_api.fail("sendMessage", kind, **options)
    async with started(application):
        with caplog.at_level(logging.ERROR, logger="bot.error_handling"):
            await feed(application, fake_bot_api.message_update(QUESTION))

    attempts = [c for c in fake_bot_api.calls if c.method == "sendMessage"]
    assert len(attempts) == 1 and attempts[0].delivered
    assert APOLOGY not in fake_bot_api.texts()
    [(_, error)] = handler_errors
    assert isinstance(error, NetworkError)
    assert any(r.name == "bot.error_handling" for r in caplog.records)  # logged, not silent


async def test_idempotent_calls_are_retried_after_a_lost_answer(
    make_bot, fake_bot_api, handler_errors, fast_limiter
):
    application = make_bot(FakeRetriever(), rate_limiter=fast_limiter)
    fake_bot_api.fail("sendChatAction", "read_timeout")
    fake_bot_api.fail("answerCallbackQuery", "dropped")
    async with started(application):
        await feed(application, fake_bot_api.message_update(QUESTION))
        message = fake_bot_api.calls[-1].result
        await feed(application, fake_bot_api.callback_update("more:00000000:3", message))

    assert [c.fault for c in fake_bot_api.calls if c.method == "sendChatAction"] == ["read_timeout", None]
    assert len(fake_bot_api.sent("sendMessage")) == 1
    assert len([c for c in fake_bot_api.calls if c.method == "answerCallbackQuery"]) == 2
    assert handler_errors == []


async def test_a_redelivered_update_is_answered_once(make_bot, fake_bot_api, handler_errors):
    application = make_bot(FakeRetriever())
    update = fake_bot_api.message_update(QUESTION)
    async with started(application):
        await feed(application, update)
        await feed(application, update)
        # Two copies handled at once (concurrent updates): the check-and-record has no await.
        second = fake_bot_api.message_update("第二个问题")
        await asyncio.gather(feed(application, second), feed(application, second))

    assert len(fake_bot_api.sent("sendMessage")) == 2
    assert application.bot_data["services"].usage["redelivered"] == 2
    assert handler_errors == []


async def _wait_for(predicate, timeout: float = 30.0) -> bool:
    for _ in range(int(timeout / 0.05)):
        if predicate():
            return True
        await asyncio.sleep(0.05)
    return predicate()


async def test_polling_survives_every_fault_and_answers_each_question_once(
    make_bot, fake_bot_api, handler_errors, fast_limiter
):
    # Alice asks a dozen questions in a row: no per-user limit here.
    application = make_bot(
        FakeRetriever(), rate_limiter=fast_limiter, read_timeout=1.0, questions_per_minute=0
    )
    faults = [
        ("getUpdates", "server_error", {"status": 502}),
        ("getUpdates", "read_timeout", {}),  # the batch is lost, then served again
        ("getUpdates", "dropped", {}),
        ("getUpdates", "connect_error", {}),
        ("getUpdates", "retry_after", {"retry_after": 1}),
        ("getUpdates", "slow", {"delay": 30.0}),  # past the client's timeout
        ("sendMessage", "server_error", {"status": 500}),
        ("sendMessage", "connect_error", {}),
        ("sendMessage", "retry_after", {"retry_after": 1}),
        ("sendChatAction", "dropped", {}),
    ]
    async with started(application):
        # PTB waits 1 s after a failed getUpdates when poll_interval is 0, else 1.5 x poll_interval (its public
        # setting; a 429's retry_after is waited out either way): 75 ms here instead of a second per fault.
        await application.updater.start_polling(poll_interval=0.05, timeout=1)
        await application.start()
        try:
            for n, (method, kind, options) in enumerate(faults):
                fake_bot_api.fail(method, kind, **options)
                fake_bot_api.enqueue(fake_bot_api.message_update(f"问题{n}号"))
                assert await _wait_for(lambda: len(fake_bot_api.sent("sendMessage")) > n), (method, kind)
            # A server that forgets the offset, and a batch holding one update twice.
            fake_bot_api.redeliver()
            twice = fake_bot_api.message_update("重复的问题")
            fake_bot_api.enqueue(twice)
            fake_bot_api.enqueue(twice)
            # Asked in the same chat after them: a chat's updates are handled in order, so once it
            # is answered, any duplicate let through would have been answered already (no waiting).
            fake_bot_api.enqueue(fake_bot_api.message_update("最后的问题"))
            assert await _wait_for(lambda: any("最后的问题" in t for t in fake_bot_api.texts()))
        finally:
            await application.updater.stop()
            await application.stop()

    assert fake_bot_api.faults_left() == 0
    texts = fake_bot_api.texts()
    for n in range(len(faults)):
        assert sum(f"问题{n}号" in t for t in texts) == 1, texts
    assert sum("重复的问题" in t for t in texts) == 1
    assert sum("最后的问题" in t for t in texts) == 1
    assert len(texts) == len(faults) + 2
    # Only polling errors reached the error handler (the answers all went through).
    assert all(update is None for update, _ in handler_errors)


async def test_an_apology_is_still_sent_for_a_bug(make_bot, fake_bot_api, handler_errors):
    class Broken(FakeRetriever):
        def search(self, query, k=3, now=None):
            raise RuntimeError("index exploded")

    application = make_bot(Broken())
    async with started(application):
        await feed(application, fake_bot_api.message_update(QUESTION))
    assert fake_bot_api.texts() == [APOLOGY]
    assert parse_html(fake_bot_api.sent()[0]["text"])[1] == []
    assert PRIVATE_CHAT["id"] == int(fake_bot_api.sent()[0]["chat_id"])
    assert len(handler_errors) == 1
