"""Load: 200 questions from 50 chats at once (marked slow; 40 from 10 in the default run), through
polling, with the production rate limiter.

Every question is answered once, each chat's answers come in the order it asked (answers finish
out of order: the fake retriever sleeps a random while), and the fake's timestamps show Telegram's
flood limits kept. Wall-clock speed is measured in bench/load.py, never asserted here.
"""

from __future__ import annotations

import asyncio
import random

import pytest

from bot.delivery import RetryingRateLimiter, SlidingWindow
from tests.fakeretriever import FakeRetriever
from tests.helpers import started

CHATS = 50
QUESTIONS = 200
SEED = 7


def load_updates(fake, chats: int = CHATS, questions: int = QUESTIONS, seed: int = SEED) -> dict[int, list[str]]:
    """Queue ``questions`` questions from ``chats`` chats (half private, half groups, shuffled).

    Returns each chat's questions in the order they were queued.
    """
    rng = random.Random(seed)
    asked: dict[int, list[str]] = {}
    plan = [n % chats for n in range(questions)]
    rng.shuffle(plan)
    for n, c in enumerate(plan):
        if c % 2:
            chat = {"id": 3000 + c, "type": "private", "first_name": f"U{c}"}
            user = {"id": 3000 + c, "is_bot": False, "first_name": f"U{c}"}
            text = f"问题{c}之{n}"
        else:
            chat = {"id": -2000 - c, "type": "group", "title": f"群{c}"}
            user = {"id": 5000 + n, "is_bot": False, "first_name": f"M{n}"}  # a different member each time
            text = f"/ask 问题{c}之{n}"
        fake.chats.setdefault(chat["id"], chat)
        fake.enqueue(fake.message_update(text, chat=chat, user=user))
        asked.setdefault(chat["id"], []).append(f"问题{c}之{n}")
    return asked


def max_in_window(times: list[float], period: float) -> int:
    """The most timestamps inside any half-open window [t, t + period)."""
    times = sorted(times)
    best, j = 0, 0
    for i, t in enumerate(times):
        while times[j] <= t - period:
            j += 1
        best = max(best, i - j + 1)
    return best


async def run_load(application, fake, expected: int, timeout: float = 120.0) -> None:
    await application.updater.start_polling(poll_interval=0, timeout=1)
    await application.start()
    try:
        for _ in range(int(timeout / 0.05)):
            if len(fake.sent("sendMessage")) >= expected:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.2)  # room for a duplicate to show
    finally:
        await application.updater.stop()
        await application.stop()


async def test_40_questions_from_10_chats_are_answered_in_order_within_the_limits(
    make_bot, fake_bot_api, handler_errors
):
    """The load test below at a fifth of its size: the same checks, in the default run."""
    await answered_in_order_within_the_limits(make_bot, fake_bot_api, handler_errors, chats=10, questions=40)


@pytest.mark.slow  # ≥ 7 s by design: 200 answers and 200 "typing" actions at Telegram's 30 requests/s
async def test_200_questions_from_50_chats_are_answered_in_order_within_the_limits(
    make_bot, fake_bot_api, handler_errors
):
    await answered_in_order_within_the_limits(make_bot, fake_bot_api, handler_errors)


async def answered_in_order_within_the_limits(make_bot, fake_bot_api, handler_errors, *, chats: int = CHATS,
                                              questions: int = QUESTIONS) -> None:
    retriever = FakeRetriever(delay=0.05, seed=SEED)
    application = make_bot(retriever)  # the production RetryingRateLimiter
    asked = load_updates(fake_bot_api, chats=chats, questions=questions)
    async with started(application):
        await run_load(application, fake_bot_api, questions)

    assert handler_errors == []
    assert len(fake_bot_api.sent("sendMessage")) == questions  # one reply per question, no duplicate
    for chat_id, chat_questions in asked.items():
        replies = fake_bot_api.texts(chat_id)
        answered = [q for r in replies for q in chat_questions if f"“{q}”" in r]
        assert answered == chat_questions, chat_id  # all, once each, in the order asked
    chat_calls = [c for c in fake_bot_api.calls if "chat_id" in c.params]
    assert max_in_window([c.at for c in chat_calls], 1.0) <= 30
    for chat_id in asked:
        if chat_id < 0:
            assert max_in_window([c.at for c in chat_calls if int(c.params["chat_id"]) == chat_id], 60.0) <= 20
    # Nothing grows with the load: the per-chat queues are gone, the seen-update memory is capped.
    assert application.update_processor.busy_chats == 0
    assert len(application.bot_data["services"].seen_updates) == questions


async def test_a_busy_group_is_held_to_its_window_while_private_chats_go_on(
    make_bot, fake_bot_api, handler_errors
):
    """The group limit with a short window (4 requests per 1.5 s) so the test stays quick."""
    limiter = RetryingRateLimiter(group_rate=(4, 1.5))
    application = make_bot(FakeRetriever(), rate_limiter=limiter)
    group = {"id": -4242, "type": "group", "title": "热闹的群"}
    fake_bot_api.chats[group["id"]] = group
    for n in range(6):
        user = {"id": 6000 + n, "is_bot": False, "first_name": f"G{n}"}
        fake_bot_api.enqueue(fake_bot_api.message_update(f"/ask 群问题{n}", chat=group, user=user))
    fake_bot_api.enqueue(fake_bot_api.message_update("私聊问题"))
    async with started(application):
        await run_load(application, fake_bot_api, 7)

    assert handler_errors == []
    group_calls = [c for c in fake_bot_api.calls if c.params.get("chat_id") and int(c.params["chat_id"]) == group["id"]]
    assert len(group_calls) == 12
    assert max_in_window([c.at for c in group_calls], 1.5) <= 4
    private = [c for c in fake_bot_api.calls if c.method == "sendMessage" and int(c.params["chat_id"]) == 1001]
    assert private and private[0].at < group_calls[4].at  # not stuck behind the group


async def test_a_sliding_window_never_lets_more_than_its_limit_start():
    """On a fake clock (sleeping advances it), so the check is of the window, not of the machine's load."""
    clock = [0.0]

    async def sleep(seconds: float) -> None:
        clock[0] += max(seconds, 1e-9)  # as real time, it always moves on
        await asyncio.sleep(0)  # let the other waiters run

    window = SlidingWindow(5, 0.3, margin=0.0, clock=lambda: clock[0], sleep=sleep)
    starts: list[float] = []

    async def one() -> None:
        async with window:
            starts.append(clock[0])

    await asyncio.gather(*(one() for _ in range(17)))
    assert len(starts) == 17 and starts == sorted(starts)
    assert max_in_window(starts, 0.3) <= 5
    assert starts[-1] - starts[0] >= 3 * 0.3  # 17 starts need at least four windows
    assert starts[-1] - starts[0] < 4 * 0.3  # and no more than that: nobody waits longer than needed
