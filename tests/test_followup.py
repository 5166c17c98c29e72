"""Follow-up questions: the rules on three lists of phrasings, the memory, and the bot end to end.

The end-to-end tests drive the real Application against the spec-checking fake Bot API with
``FakeRetriever``, which records what was searched and which articles were preferred.
"""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path

import pytest

from bot import groups
from bot.app import build_application
from bot.config import BotConfig
from bot.console import CONSOLE_TOKEN, ConsoleRequest, run_console
from bot.newsindex import NewsIndex
from bot.analysis import followup
from bot.analysis.followup import Kind
from bot.conversation import Conversations, Turn
from bot.handlers import NO_MORE
from tests.fakebotapi import GROUP_CHAT, PRIVATE_CHAT, parse_html
from tests.fakeretriever import FakeRetriever
from index.ingest.clean import clean_text
from index.ingest.seeds import read_seed_file
from tests.helpers import Shared, feed, started

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).parent / "data"
LINE = "（接着上一个问题："


def questions(name: str) -> list[str]:
    lines = (DATA / name).read_text(encoding="utf-8").splitlines()
    return [q.strip() for q in lines if q.strip() and not q.startswith("#")]


FOLLOWUPS = questions("followup_questions.txt")
NEW = questions("new_questions.txt")
MORE = questions("more_questions.txt")


def test_the_lists_hold_distinct_phrasings():
    assert len(FOLLOWUPS) == len(set(FOLLOWUPS)) == 30
    assert len(NEW) == len(set(NEW)) == 30
    assert len(MORE) == len(set(MORE)) == 10


@pytest.mark.parametrize("question", FOLLOWUPS)
def test_a_follow_up_phrasing_leans_on_the_question_before(question):
    assert followup.classify(question) is Kind.FOLLOWUP


@pytest.mark.parametrize("question", NEW)
def test_a_complete_question_is_a_new_one(question):
    assert followup.classify(question) is Kind.NEW


@pytest.mark.parametrize("question", MORE)
def test_asking_for_more_gets_the_next_passages(question):
    assert followup.classify(question) is Kind.MORE


def test_the_topic_goes_first_and_the_question_stays_as_asked():
    topic = followup.topic_after("社区防控要突出什么")
    assert topic == ("社区", "防控", "突出")
    assert followup.merged_query("为什么？", topic) == "社区 防控 突出 为什么？"
    assert followup.merged_query("它有多少个城乡社区", topic) == "防控 突出 它有多少个城乡社区"  # 社区 is its own
    assert followup.topic_after("那返程高峰呢", topic) == ("返程", "高峰", "社区", "防控", "突出")
    assert len(followup.topic_after("一二三四五六七八九十个不同的词语", topic)) == followup.MAX_TOPIC_WORDS
    assert followup.topic_line(("社区", "防控")) == "（接着上一个问题：社区防控）"
    assert len(followup.topic_line(("很长的词语",) * 10)) <= followup.MAX_LINE_CHARS + len("（接着上一个问题：）")


def test_the_question_alone_wins_only_when_clearly_surer():
    margin = followup.ALONE_MARGIN
    assert followup.merged_wins(0.5, 0.5) and followup.merged_wins(0.5 + margin, 0.5) and followup.merged_wins(0.0, 0.0)
    assert not followup.merged_wins(0.51 + margin, 0.5)


def test_a_huge_question_is_read_in_bounded_time():
    long = "它" + "，".join(f"城市{i}" for i in range(100_000))  # capped like the search: still many words of its own
    assert followup.classify(long) is Kind.NEW
    assert len(followup.own_words(long)) < 500


# --- the memory ---------------------------------------------------------------------------------


def turn(chat_id: int, key: str | None, at: float) -> Turn:
    return Turn(chat_id, "社区防控要突出什么", ("社区", "防控"), ("a0",), key, 0, at)


def test_a_private_turn_expires_and_forget_drops_a_chat():
    memory = Conversations(minutes=5)
    memory.remember(turn(1, "k1", 100.0), private=True)
    assert memory.last(1, 100.0 + 300) is not None
    assert memory.last(1, 100.0 + 301) is None
    assert memory.last(1, 100.0) is None  # dropped once expired
    memory.remember(turn(1, "k2", 500.0), private=True)
    assert memory.of_answer("k1").chat_id == 1  # a reply to an older answer still finds it
    assert memory.forget(1) and memory.last(1, 500.0) is None and memory.of_answer("k2") is None
    assert not memory.forget(1)


def test_the_memory_is_bounded_whoever_writes():
    memory = Conversations(minutes=5, max_answers=3, max_chats=2)
    for chat in range(10):
        memory.remember(turn(chat, f"k{chat}", 0.0), private=True)
    assert memory.last(9, 0.0) is not None and memory.last(0, 0.0) is None
    assert [memory.of_answer(f"k{c}") is not None for c in (6, 7, 8, 9)] == [False, True, True, True]


def test_a_group_turn_is_kept_by_answer_only():
    memory = Conversations(minutes=5)
    memory.remember(turn(-5, "g1", 0.0), private=False)
    assert memory.last(-5, 0.0) is None and memory.of_answer("g1") is not None


# --- end to end ----------------------------------------------------------------------------------


def texts(fake_bot_api, chat_id: int) -> list[str]:
    return [parse_html(t)[0] for t in fake_bot_api.texts(chat_id)]


async def test_a_private_two_turn_dialogue(make_bot, fake_bot_api):
    retriever = FakeRetriever(found_every=1)
    async with started(make_bot(retriever)) as application:
        await feed(application, fake_bot_api.message_update("社区防控要突出什么"))
        await feed(application, fake_bot_api.message_update("为什么？"))
    # The follow-up is searched alone and with the topic before; the previous answer's article is preferred.
    assert retriever.searches == ["社区防控要突出什么", "为什么？", "社区 防控 突出 为什么？"]
    assert retriever.preferred == [(), (), ("a0", "a1")]
    first, second = texts(fake_bot_api, PRIVATE_CHAT["id"])
    assert LINE not in first
    assert second.startswith("（接着上一个问题：社区防控突出）\n") and "第一句。" in second
    assert application.bot_data["services"].usage["followups"] == 1


async def test_more_please_gives_the_next_page_then_says_there_is_no_more(make_bot, fake_bot_api):
    retriever = FakeRetriever(found_every=1)
    async with started(make_bot(retriever, passages=2, max_passages=4)) as application:
        for text in ("口罩产量是多少", "还有吗", "更多"):
            await feed(application, fake_bot_api.message_update(text))
    assert retriever.searches == ["口罩产量是多少"]  # the pages come from the kept answer
    first, more, none = texts(fake_bot_api, PRIVATE_CHAT["id"])
    assert "第0段" in first and "第1段" in first and "第0段" not in more and "第2段" in more
    assert none == NO_MORE


async def test_a_new_topic_and_forget_clear_the_context(make_bot, fake_bot_api):
    retriever = FakeRetriever(found_every=1)
    async with started(make_bot(retriever)) as application:
        for text in ("社区防控要突出什么", "口罩的日产量是多少", "为什么", "/forget", "为什么"):
            await feed(application, fake_bot_api.message_update(text))
    # 为什么 leans on the newest topic (口罩), and after /forget on nothing.
    assert retriever.searches == ["社区防控要突出什么", "口罩的日产量是多少", "为什么", "口罩 日产量 为什么", "为什么"]
    assert texts(fake_bot_api, PRIVATE_CHAT["id"])[3] == groups.FORGOTTEN_CONVERSATION


async def test_the_context_expires(make_bot, fake_bot_api):
    retriever = FakeRetriever(found_every=1)
    async with started(make_bot(retriever, followup_minutes=2)) as application:
        clock = application.bot_data["services"].clock
        await feed(application, fake_bot_api.message_update("社区防控要突出什么"))
        clock.advance(119)
        await feed(application, fake_bot_api.message_update("为什么"))  # in time: the window counts from here
        clock.advance(121)
        await feed(application, fake_bot_api.message_update("具体呢"))
    assert retriever.searches == ["社区防控要突出什么", "为什么", "社区 防控 突出 为什么", "具体呢"]
    assert LINE not in texts(fake_bot_api, PRIVATE_CHAT["id"])[2]


async def test_a_group_reply_to_the_answer_carries_its_context(make_bot, fake_bot_api):
    retriever = FakeRetriever(found_every=1)
    async with started(make_bot(retriever)) as application:
        await feed(application, fake_bot_api.mention_update("@news_test_bot 社区防控要突出什么"))
        answer = next(c.result for c in fake_bot_api.calls if c.method == "sendMessage")
        await feed(application, fake_bot_api.message_update("那返程高峰呢？", chat=GROUP_CHAT, reply_to=answer))
    assert retriever.searches == ["社区防控要突出什么", "那返程高峰呢？", "社区 防控 突出 那返程高峰呢？"]
    assert retriever.preferred[-1] == ("a0", "a1")
    assert texts(fake_bot_api, GROUP_CHAT["id"])[-1].startswith("（接着上一个问题：社区防控突出）")


async def test_a_group_message_that_is_no_reply_gets_no_context(make_bot, fake_bot_api):
    retriever = FakeRetriever(found_every=1)
    async with started(make_bot(retriever)) as application:
        await feed(application, fake_bot_api.mention_update("@news_test_bot 社区防控要突出什么"))
        await feed(application, fake_bot_api.mention_update("@news_test_bot 为什么？"))
    assert retriever.searches == ["社区防控要突出什么", "为什么？"]
    assert not any(LINE in t for t in texts(fake_bot_api, GROUP_CHAT["id"]))


async def test_inline_mode_has_no_context(make_bot, fake_bot_api):
    retriever = FakeRetriever(found_every=1)
    fake_bot_api.bot_user["supports_inline_queries"] = True
    async with started(make_bot(retriever)) as application:
        await feed(application, fake_bot_api.message_update("社区防控要突出什么"))
        await feed(application, fake_bot_api.inline_query_update("为什么"))
    assert retriever.searches == ["社区防控要突出什么", "为什么"]


# --- the seed dialogues in the terminal chat ---------------------------------------------------

DIALOGUES = [json.loads(line) for line in (DATA / "seed_dialogues.jsonl").read_text(encoding="utf-8").splitlines()
             if line.strip()]


def chat(retriever, dialogues: list[dict]) -> list[str]:
    """Each dialogue typed into the terminal chat after /forget; the reply to every turn, in order."""
    out = io.StringIO()
    request = ConsoleRequest(out)
    application = build_application(BotConfig(token=CONSOLE_TOKEN, questions_per_minute=0), NewsIndex(Shared(retriever)),
                                    request=request,
                                    get_updates_request=request)
    lines = "".join("/forget\n" + "".join(t["q"] + "\n" for t in d["turns"]) for d in dialogues)
    asyncio.run(run_console(application, io.StringIO(lines), out))
    replies = out.getvalue().split("\n> ")
    replies[0] = replies[0].removeprefix("> ")
    return [r for r in replies if not r.startswith("/forget\n")]


def test_the_ten_seed_dialogues_hold_three_or_four_turns():
    assert len(DIALOGUES) == 10 and all(3 <= len(d["turns"]) <= 4 for d in DIALOGUES)
    seed = read_seed_file(ROOT / "seeds" / "000_eb63601c10643f4d.txt").articles[0]
    body = clean_text("".join(seed.paragraphs))
    for d in DIALOGUES:
        for t in d["turns"]:
            assert t["contains"] is None or t["contains"] in body  # the answer is in the seed article
            assert t["q"] not in body  # paraphrased, not copied


class Recording(Shared):
    """A shared retriever that records every query searched."""

    def __init__(self, retriever) -> None:
        super().__init__(retriever)
        self.searches: list[str] = []

    def search(self, query, k=3, now=None, **kwargs):
        self.searches.append(query)
        return self._retriever.search(query, k, now=now, **kwargs)


def test_the_terminal_chat_reads_the_seed_dialogues_as_conversations(hash_seed_retriever):
    recording = Recording(hash_seed_retriever)
    replies = chat(recording, DIALOGUES)
    turns = [t for d in DIALOGUES for t in d["turns"]]
    assert [r.split("\n", 1)[0] for r in replies] == [t["q"] for t in turns]  # one reply per turn, in order
    for d in DIALOGUES:
        first, *rest = d["turns"]
        assert recording.searches.count(first["q"]) >= 1  # after /forget: a question of its own
        for t in rest:  # a follow-up is searched alone and with the topic before it (topic words first)
            if followup.classify(t["q"]) is Kind.FOLLOWUP:
                assert any(s.endswith(" " + t["q"]) for s in recording.searches), t["q"]
    assert sum(LINE in r for r in replies) >= 1


@pytest.mark.model
def test_the_terminal_chat_answers_the_seed_dialogues(seed_retriever):
    """The real model: the ten dialogues typed into the terminal chat, each turn's passage quoted."""
    replies = chat(seed_retriever, DIALOGUES)
    turns = [t for d in DIALOGUES for t in d["turns"]]
    assert [r.split("\n", 1)[0] for r in replies] == [t["q"] for t in turns]
    missed = [t["q"] for t, r in zip(turns, replies) if "没有找到" in r or (t["contains"] and t["contains"] not in r)]
    assert len(missed) <= 3, missed  # 31 of 33 when written: 防控中要避免哪些过头的做法, 最终要筑起什么
    followups = [r for t, r in zip(turns, replies) if followup.classify(t["q"]) is Kind.FOLLOWUP]
    assert sum(LINE in r for r in followups) >= len(followups) - 3  # read with the topic before, and said so


@pytest.mark.model
def test_the_seed_dialogues_find_their_passages_with_context_in_the_ranking(seed_retriever):
    """The real model's ranking: a follow-up's passage is in the first three more often with the topic before."""

    def in_top3(query: str, wanted: str) -> bool:
        return any(wanted in seed_retriever.passages[c.row].text for c in seed_retriever.rank(query)[:3])

    alone = merged = asked = 0
    for d in DIALOGUES:
        topic = followup.topic_after(d["turns"][0]["q"])
        for t in d["turns"][1:]:
            kind = followup.classify(t["q"])
            if kind is Kind.FOLLOWUP:
                asked += 1
                alone += in_top3(t["q"], t["contains"])
                merged += in_top3(followup.merged_query(t["q"], topic), t["contains"])
            topic = followup.topic_after(t["q"], topic if kind is not Kind.NEW else ())
    assert asked >= 15  # most turns after the first are read as follow-ups
    assert merged >= alone + 3 and merged >= 0.8 * asked, (alone, merged, asked)
