"""The ask service on its own: one question to a typed reply, the same for every surface."""

from __future__ import annotations

from datetime import datetime

import pytest

from bot.ask import Asking, Headlines, NotFound, Quotes, Surface, TooFast, Unaskable, ask
from bot.config import BotConfig
from bot.newsindex import NewsIndex
from bot.services import Services
from index.chinatime import CHINA_TZ
from tests.fakeretriever import FakeRetriever
from tests.helpers import FakeClock

NOW = datetime(2020, 2, 10, 9, 0, tzinfo=CHINA_TZ)


@pytest.fixture
def make_services():
    made = []

    def make(retriever, **config):
        services = Services.open(BotConfig(token="0:test", **config), NewsIndex(retriever), FakeClock())
        made.append(services)
        return services

    yield make
    for services in made:
        services.close()


def private(user: int = 7) -> Asking:
    return Asking(Surface.PRIVATE, user, user, NOW)


async def test_found_passages_are_kept_for_the_buttons_and_logged(make_services):
    services = make_services(FakeRetriever(found_every=1), passages=2)
    reply = await ask(services, "口罩\u200b产量", private())
    assert isinstance(reply, Quotes) and reply.question == "口罩产量"  # cleaned of the zero-width space
    assert services.answers.get(reply.key) is reply.answer and reply.answer.per_page == 2
    assert reply.answer.hits == tuple(reply.result.hits)
    assert services.feedback.counts()["answers"] == 1 and services.usage["questions"] == 1


async def test_a_question_nothing_answers_is_logged_as_a_gap(make_services):
    services = make_services(FakeRetriever())
    reply = await ask(services, "巴西足球", private())
    assert isinstance(reply, NotFound) and reply.result.nearest_headlines
    assert services.feedback.gaps() == [("巴西足球", 1, 0)] and services.usage["not_found"] == 1


async def test_whats_new_gets_headlines_and_no_search(make_services):
    retriever = FakeRetriever()
    services = make_services(retriever)
    reply = await ask(services, "今天有什么新闻", private())
    assert isinstance(reply, Headlines) and reply.key and reply.found.items
    assert retriever.searches == []


async def test_nothing_to_search_costs_no_question(make_services):
    services = make_services(FakeRetriever(), questions_per_minute=1)
    assert isinstance(await ask(services, " 🙂？！", private()), Unaskable)
    assert isinstance(await ask(services, "口罩", private()), NotFound)  # the one question of the minute


async def test_the_limit_is_per_user_across_surfaces_and_waits_for_the_search(make_services):
    retriever = FakeRetriever()
    services = make_services(retriever, questions_per_minute=2)
    admitted = []

    async def working():
        admitted.append(len(retriever.searches))  # before the search starts

    inline = Asking(Surface.INLINE, None, 7, NOW)
    replies = [await ask(services, f"问题{n}", asking, working=working)
               for n, asking in enumerate([inline, private(), inline, private()])]
    assert [type(r) for r in replies] == [NotFound, NotFound, TooFast, TooFast]
    assert [r.notify for r in replies[2:]] == [True, False]  # one notice, then silence
    assert admitted == [0, 1] and retriever.searches == ["问题0", "问题1"]
    assert isinstance(await ask(services, "别人的问题", private(user=8)), NotFound)


async def test_inline_mode_keeps_and_logs_nothing(make_services):
    services = make_services(FakeRetriever(found_every=1))
    inline = Asking(Surface.INLINE, None, 7, NOW)
    found = await ask(services, "口罩产量", inline)
    empty = await ask(services, "", inline)
    assert isinstance(found, Quotes) and found.key is None and len(services.answers) == 0
    assert isinstance(empty, Headlines) and empty.key is None  # an empty inline query offers headlines
    assert services.feedback.counts() == {"answers": 0, "up": 0, "down": 0, "not_found": 0}
    assert services.usage["inline"] == 2 and services.usage["questions"] == 0
