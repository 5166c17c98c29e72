"""[llm] end to end: the real Application and handlers, the hash-embedded seed index, the spec-checked
fake Bot API (tests/fakebotapi.py) and a fake OpenAI-compatible model on 127.0.0.1 (tests/fakellm.py).

Private chats see the checked answer grow in a draft (sendMessageDraft) and then get it with the
quotes in one sendMessage; groups and inline mode get the final reply only; any failure gives
exactly today's reply.
"""

from __future__ import annotations

import io
import re
import subprocess
import sys
from pathlib import Path

import pytest
from telegram import Update

from bot.config import LLMConfig
from bot.console import ConsoleRequest
from bot.formatting import ANSWER_MARK
from tests.fakebotapi import parse_html
from tests.fakellm import Behaviour, FakeLLM, first_sentence, passages_of, quoting
from tests.helpers import feed, started

QUESTION = "社区防控要突出什么"
OFF_TOPIC = "巴西足球比赛的比分是多少"
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
async def model():
    fake = await FakeLLM(reply=quoting).start()
    yield fake
    await fake.stop()


def llm(model: FakeLLM, **overrides) -> LLMConfig:
    return LLMConfig(enabled=True, base_url=model.base_url, model="fake", **{"timeout_seconds": 5.0, **overrides})


def without_answer(html: str) -> str:
    """A reply with its answer paragraph and quote markers taken out."""
    html = re.sub(rf"{ANSWER_MARK} [^\n]*\n\n", "", html)
    return re.sub(r"(<blockquote(?: expandable)?>)\[\d\] ", r"\1", html)


async def ask_private(make_bot, retriever, api, question=QUESTION, **config):
    async with started(make_bot(retriever, **config)) as application:
        await feed(application, api.message_update(question))
    return application


async def test_a_private_chat_sees_the_answer_drafted_then_sent_with_numbered_quotes(
        make_bot, fake_bot_api, hash_seed_retriever, model):
    await ask_private(make_bot, hash_seed_retriever, fake_bot_api, llm=llm(model))

    methods = [c.method for c in fake_bot_api.calls if c.method in ("sendChatAction", "sendMessageDraft", "sendMessage")]
    assert methods[0] == "sendChatAction" and methods[-1] == "sendMessage"
    drafts = fake_bot_api.sent("sendMessageDraft")
    assert [d["text"] for d in drafts][0] == ANSWER_MARK  # while the model starts
    assert len({d["draft_id"] for d in drafts}) == 1 and int(drafts[0]["draft_id"]) != 0
    [request] = model.requests
    sentence = first_sentence(passages_of(request.body)[1])
    expected = f"{ANSWER_MARK} {sentence}[1]。"
    assert parse_html(drafts[-1]["text"])[0] == expected  # the last draft is the checked answer
    [reply] = fake_bot_api.sent("sendMessage")
    text = parse_html(reply["text"])[0]
    assert text.startswith(expected + "\n\n")  # the answer paragraph first...
    assert re.search(r"<blockquote(?: expandable)?>\[1\] ", reply["text"])  # ...then the quotes, numbered
    assert sentence in text[len(expected):]  # the cited sentence is in the quotes below
    assert "👍" in str(reply["reply_markup"])  # the buttons as today


async def test_the_fallback_reply_is_identical_to_todays_answer(make_bot, fake_bot_api, hash_seed_retriever, model):
    await ask_private(make_bot, hash_seed_retriever, fake_bot_api)  # [llm] off: today's answer
    [today] = fake_bot_api.sent("sendMessage")
    fake_bot_api.forget_calls()
    model.queue.append(Behaviour(status=500))
    application = await ask_private(make_bot, hash_seed_retriever, fake_bot_api, llm=llm(model))
    [fallback] = fake_bot_api.sent("sendMessage")
    assert len(model.requests) == 1  # the model was asked, and failed
    assert fallback["text"] == today["text"]
    assert str(fallback["reply_markup"]).count("callback_data") == str(today["reply_markup"]).count("callback_data")
    assert [d["text"] for d in fake_bot_api.sent("sendMessageDraft")] == [ANSWER_MARK]  # only the placeholder
    [(_, question, reason)] = application.bot_data["services"].feedback.llm_fallbacks()
    assert (question, reason) == (QUESTION, "HTTP 500")


async def test_an_answer_with_an_invented_number_is_never_shown(make_bot, fake_bot_api, hash_seed_retriever, model):
    await ask_private(make_bot, hash_seed_retriever, fake_bot_api)
    [today] = fake_bot_api.sent("sendMessage")
    fake_bot_api.forget_calls()
    model.reply = lambda body: Behaviour(first_sentence(passages_of(body)[1]) + "[1]。共有98765人参加[1]。")
    await ask_private(make_bot, hash_seed_retriever, fake_bot_api, llm=llm(model))
    [reply] = fake_bot_api.sent("sendMessage")
    assert reply["text"] == today["text"]
    assert all("98765" not in d["text"] for d in fake_bot_api.sent("sendMessageDraft"))


async def test_with_the_answer_the_quotes_are_todays(make_bot, fake_bot_api, hash_seed_retriever, model):
    await ask_private(make_bot, hash_seed_retriever, fake_bot_api)
    [today] = fake_bot_api.sent("sendMessage")
    fake_bot_api.forget_calls()
    await ask_private(make_bot, hash_seed_retriever, fake_bot_api, llm=llm(model))
    [reply] = fake_bot_api.sent("sendMessage")
    assert without_answer(reply["text"]) == today["text"]


async def test_not_found_never_asks_the_model(make_bot, fake_bot_api, hash_seed_retriever, model):
    await ask_private(make_bot, hash_seed_retriever, fake_bot_api, OFF_TOPIC, llm=llm(model))
    assert model.requests == [] and fake_bot_api.sent("sendMessageDraft") == []
    [reply] = fake_bot_api.sent("sendMessage")
    assert ANSWER_MARK not in reply["text"]


async def test_a_group_gets_the_final_reply_only(make_bot, fake_bot_api, hash_seed_retriever, model):
    async with started(make_bot(hash_seed_retriever, llm=llm(model))) as application:
        await feed(application, fake_bot_api.mention_update("@news_test_bot " + QUESTION))
    assert fake_bot_api.sent("sendMessageDraft") == []  # drafts exist only in private chats
    [reply] = fake_bot_api.sent("sendMessage")
    assert parse_html(reply["text"])[0].startswith(ANSWER_MARK + " ")
    assert "reply_parameters" in reply  # quoting the question, as today


async def test_inline_mode_offers_the_answer_first(make_bot, fake_bot_api, hash_seed_retriever, model):
    fake_bot_api.bot_user["supports_inline_queries"] = True
    async with started(make_bot(hash_seed_retriever, llm=llm(model))) as application:
        await application.process_update(Update.de_json(fake_bot_api.inline_query_update(QUESTION), application.bot))
    [answer] = fake_bot_api.sent("answerInlineQuery")
    first, *others = answer["results"]
    assert first["id"] == "answer" and first["title"].startswith(ANSWER_MARK)
    text = parse_html(first["input_message_content"]["message_text"])[0]
    assert text.startswith(ANSWER_MARK + " ") and "[1] " in text
    assert others and all(r["id"].startswith("p") for r in others)  # the passages as today
    assert fake_bot_api.sent("sendMessageDraft") == []


def test_the_terminal_prints_the_stream_as_it_comes():
    out = io.StringIO()
    request = ConsoleRequest(out)
    request.call("sendMessageDraft", {"chat_id": 1, "draft_id": 5, "text": "🤖", "parse_mode": "HTML"})
    assert out.getvalue() == "🤖"
    request.call("sendMessageDraft", {"chat_id": 1, "draft_id": 5, "text": "🤖 甲[1]。", "parse_mode": "HTML"})
    assert out.getvalue() == "🤖 甲[1]。"
    request.call("sendMessageDraft", {"chat_id": 1, "draft_id": 5, "text": "🤖 甲[1]。乙&lt;[2]。", "parse_mode": "HTML"})
    assert out.getvalue() == "🤖 甲[1]。乙<[2]。"  # only what is new
    request.call("sendMessage", {"chat_id": 1, "text": "最终", "parse_mode": "HTML"})
    assert out.getvalue() == "🤖 甲[1]。乙<[2]。\n\n最终\n\n"


def test_with_llm_off_the_llm_package_is_not_imported():
    code = (
        "import sys\n"
        "from bot import app, handlers, inline, ask, console, groups\n"
        "from bot.config import BotConfig\n"
        "from bot.services import Services\n"
        "s = Services.open(BotConfig(token='1:x'), news=object())\n"
        "assert s.llm is None\n"
        "print(sorted(m for m in sys.modules if m.startswith('bot.llm')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


async def test_a_hedged_answer_keeps_its_hedge_line_above_the_answer(make_bot, fake_bot_api, model):
    from bot.formatting import HEDGE
    from tests.fakeretriever import FakeRetriever

    await ask_private(make_bot, FakeRetriever(found_every=1, confident=False), fake_bot_api, "随便问问", llm=llm(model))
    [reply] = fake_bot_api.sent("sendMessage")
    lines = parse_html(reply["text"])[0].split("\n")
    assert lines[0] == HEDGE
    assert lines[1] == f"{ANSWER_MARK} 第一句[1]。"  # the faithful model quoted passage 1's first sentence
    assert lines[2] == ""  # then the quotes


# --- /summary (opt-in: [llm] summaries = true) ---------------------------------------------------

CHATTER = ["今天的会议改到下午三点了", "好的，我三点前到会议室", "那份报告谁来写？", "我来写报告，周五交",
           "周五之前我先把数据发给你", "数据在共享盘的二季度文件夹里", "记得把去年的对比也放进去",
           "去年的数字我有，晚上发群里", "会议室订好了吗", "订好了，三楼小会议室", "投影仪需要借吗",
           "不用，会议室里有投影仪"]


def summarizing(body: dict) -> Behaviour:
    """A faithful summarizer: the first pick's first sentence, cited."""
    picks = dict(re.findall(r"^\[(\d+)\] 发言人：.*\n(.*)$", body["messages"][-1]["content"], re.M))
    return Behaviour(first_sentence(picks["1"]) + "[1]。")


@pytest.mark.parametrize("summaries", [True, False])
async def test_summary_adds_a_cited_paragraph_above_the_picks_only_when_opted_in(
        make_bot, fake_bot_api, hash_seed_retriever, model, summaries):
    from bot.llm import summary
    from tests.fakebotapi import ALICE, BOB, GROUP_CHAT

    model.reply = summarizing
    async with started(make_bot(hash_seed_retriever, llm=llm(model, summaries=summaries))) as application:
        start = int(__import__("time").time()) - 3600
        for i, text in enumerate(CHATTER):
            await feed(application, fake_bot_api.message_update(text, chat=GROUP_CHAT, user=(ALICE, BOB)[i % 2],
                                                                date=start + 60 * i))
        await feed(application, fake_bot_api.message_update("/summary", chat=GROUP_CHAT, user=ALICE))
    [reply] = fake_bot_api.sent("sendMessage", GROUP_CHAT["id"])
    if not summaries:
        assert model.requests == [] and ANSWER_MARK not in reply["text"]  # the group's messages stayed here
        return
    [request] = model.requests
    assert request.body["messages"][0]["content"] == summary.SYSTEM
    lines = reply["text"].split("\n")
    lead = next(line for line in lines if line.startswith(ANSWER_MARK))
    assert re.fullmatch(rf'{ANSWER_MARK} [^<\[]+<a href="https://t\.me/c/123/\d+">\[1\]</a>。', lead)
    first_pick = next(line for line in lines if line.startswith("[1] "))  # the picks, numbered to match
    link = re.search(r'href="(https://t\.me/c/123/\d+)"', lead)[1]
    assert link in first_pick
    assert lines.index(lead) < lines.index(first_pick)
