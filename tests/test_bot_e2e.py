"""End to end: the real Application and handlers, the seed index, a spec-checked fake Bot API.

The seed index is embedded with the deterministic HashEncoder (``hash_seed_retriever``): these tests
are about the bot. The first two also run on the real model's index (``either_seed_bot``).

Every request the bot makes goes over HTTP (httpx.MockTransport) to tests/fakebotapi.py, which
rejects anything the Bot API 10.0 spec would; the ``fake_bot_api`` fixture fails a test that
made such a request.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import sqlite3
import threading
from pathlib import Path

import pytest
from telegram.ext import AIORateLimiter

from bot import app as bot_app
from bot import handlers
from bot.config import BotConfig
from bot.error_handling import APOLOGY
from bot.handlers import EXPIRED
from bot.services import SERVICES, Services, services
from tests.fakebotapi import BOB, GROUP_CHAT, PRIVATE_CHAT, parse_html, utf16_len
from tests.helpers import feed, started

TITLE = "【央视快评】筑牢基层社区疫情防控的严密防线"
QUESTION = "社区防控要突出什么"
OFF_TOPIC = "巴西足球比赛的比分是多少"
SEED_SENTENCE = "社区防控,要以网格化为基础,守住门,突出“严”。"


@pytest.fixture(params=["hash", pytest.param("e5", marks=pytest.mark.model)])
async def either_seed_bot(request, make_bot):
    """``seed_bot`` (conftest), then the same over the seed index embedded with the real model."""
    retriever = request.getfixturevalue("hash_seed_retriever" if request.param == "hash" else "seed_retriever")
    async with started(make_bot(retriever)) as application:
        yield application


def quotes(html: str) -> list[str]:
    return re.findall(r"<blockquote(?: expandable)?>(.*?)</blockquote>", html, re.S)


# --- private questions -------------------------------------------------------------------------


async def test_private_question_quotes_the_seed_with_title_date_and_source(either_seed_bot, fake_bot_api):
    seed_bot = either_seed_bot
    await feed(seed_bot, fake_bot_api.message_update(QUESTION))

    assert isinstance(seed_bot.bot.rate_limiter, AIORateLimiter)  # every request goes through it
    methods = [c.method for c in fake_bot_api.calls]
    assert methods.index("sendChatAction") < methods.index("sendMessage")
    assert fake_bot_api.sent("sendChatAction")[0]["action"] == "typing"
    [reply] = fake_bot_api.sent("sendMessage")
    assert reply["parse_mode"] == "HTML"
    assert reply["link_preview_options"] == {"is_disabled": True}
    html = reply["text"]
    assert 1 <= len(quotes(html)) <= 3
    assert "<b>" + SEED_SENTENCE + "</b>" in html  # the best sentence, in bold, inside a quote
    text = parse_html(html)[0]
    assert SEED_SENTENCE in text
    assert text.count(TITLE) == 1  # three passages of one article: one title
    assert "2020-02-09 23:26" in text
    assert "观察者网" in text
    # The quoted passages are real paragraphs of the seed article.
    article = seed_bot.bot_data["services"].news.retriever.article(
        seed_bot.bot_data["services"].news.retriever.search(QUESTION).hits[0].passage.article_id
    )
    body = "".join(article.paragraphs)
    for quote in quotes(html):
        assert parse_html(quote)[0] in body


async def test_off_topic_question_says_not_found_and_offers_three_headlines(either_seed_bot, fake_bot_api):
    seed_bot = either_seed_bot
    await feed(seed_bot, fake_bot_api.message_update(OFF_TOPIC))

    [reply] = fake_bot_api.sent("sendMessage")
    text = parse_html(reply["text"])[0]
    assert text.startswith("抱歉，没有找到")
    assert OFF_TOPIC in text
    assert "<blockquote>" not in reply["text"]
    headlines = [line for line in text.splitlines() if line.startswith("• ")]
    assert len(headlines) == 3
    known = {h.title for h in seed_bot.bot_data["services"].news.retriever.latest(100)}
    assert all(any(title in line for title in known) for line in headlines)
    assert "reply_markup" not in reply


async def test_html_in_a_question_comes_back_literally(seed_bot, fake_bot_api):
    hostile = "<b>巴西</b> & 足球比分是多少？"
    await feed(seed_bot, fake_bot_api.message_update(hostile))

    [reply] = fake_bot_api.sent("sendMessage")
    assert "&lt;b&gt;巴西&lt;/b&gt; &amp; 足球" in reply["text"]
    assert hostile in parse_html(reply["text"])[0]  # the fake parsed it: valid Telegram HTML


async def test_html_in_a_question_that_is_answered_gives_valid_html(seed_bot, fake_bot_api):
    await feed(seed_bot, fake_bot_api.message_update("<i>社区防控</i> & 要突出什么 </blockquote>"))

    [reply] = fake_bot_api.sent("sendMessage")
    assert quotes(reply["text"])  # answered, and the fake found the HTML well-formed


async def test_a_hedged_answer_quotes_under_a_hedge_in_valid_html(make_bot, fake_bot_api):
    from tests.fakeretriever import FakeRetriever

    application = make_bot(FakeRetriever(found_every=1, confident=False))
    async with started(application):
        await feed(application, fake_bot_api.message_update("口罩产量是多少"))

    [reply] = fake_bot_api.sent("sendMessage")
    text, _ = parse_html(reply["text"])  # the fake parsed it: valid Telegram HTML
    assert text.startswith("不确定是否回答了你的问题，最接近的是：\n")
    assert quotes(reply["text"])  # the passages are still quoted
    assert "抱歉" not in text


# --- commands ----------------------------------------------------------------------------------


async def test_start_and_help_say_what_the_bot_knows(seed_bot, fake_bot_api):
    await feed(seed_bot, fake_bot_api.message_update("/start"))
    await feed(seed_bot, fake_bot_api.message_update("/help"))

    start, help_ = fake_bot_api.texts()
    assert start == help_
    assert "1 篇文章" in start and "38 条标题" in start
    assert "2020-02-09" in start
    assert "/ask" in start and "/latest" in start
    assert len(start) < 400  # brief


async def test_post_init_registers_the_command_menu(seed_bot, fake_bot_api):
    default, in_groups = fake_bot_api.sent("setMyCommands")
    assert "scope" not in default
    assert [c["command"] for c in default["commands"]] == ["ask", "latest", "digest", "forget", "help"]
    # Groups get their own menu (issue 4), which repeats the commands that work everywhere.
    assert in_groups["scope"] == {"type": "all_group_chats"}
    assert [c["command"] for c in in_groups["commands"]] == [
        "ask", "summary", "latest", "digest", "forget", "help"
    ]


async def test_the_services_are_made_in_post_init_and_closed_in_post_shutdown(make_bot, hash_seed_retriever):
    application = make_bot(hash_seed_retriever)
    assert SERVICES not in application.bot_data  # a built bot has opened nothing yet
    async with started(application):
        shared = services(application)
        assert isinstance(shared, Services) and shared.retriever.stats() == hash_seed_retriever.stats()
        await application.post_shutdown(application)
    assert SERVICES not in application.bot_data
    with pytest.raises(sqlite3.ProgrammingError):  # the logs are closed
        shared.chatlog.count(GROUP_CHAT["id"])

def _times(lines: list[str]) -> list[str]:
    return [re.match(r"• (\S+ \S+|时间不详)", line)[1] for line in lines]


async def test_latest_lists_the_seed_headlines_newest_first(seed_bot, fake_bot_api):
    await feed(seed_bot, fake_bot_api.message_update("/latest"))

    [text] = fake_bot_api.texts()
    lines = [line for line in text.splitlines() if line.startswith("• ")]
    assert len(lines) == 10
    assert TITLE in lines[0] and lines[0].startswith("• 2020-02-09 23:26")
    assert "陈焕春:新型冠状病毒属于SARS病毒系口误" in lines[1]
    assert "〔新冠肺炎抗疫战〕" in lines[2]  # the tag
    times = _times(lines)
    assert times == sorted(times, reverse=True)


async def test_latest_n_and_undated_headlines_come_last(seed_bot, fake_bot_api):
    await feed(seed_bot, fake_bot_api.message_update("/latest 20"))
    await feed(seed_bot, fake_bot_api.message_update("/latest 50"))

    twenty, everything = (
        [line for line in t.splitlines() if line.startswith("• ")] for t in fake_bot_api.texts()
    )
    assert len(twenty) == 20
    assert len(everything) == 38  # every headline of the seed page
    times = _times(everything)
    undated = [i for i, t in enumerate(times) if t == "时间不详"]
    assert undated, "the seed's hot list has no times"
    assert min(undated) > max(i for i, t in enumerate(times) if t != "时间不详")
    dated = [t for t in times if t != "时间不详"]
    assert dated == sorted(dated, reverse=True)


async def test_latest_filters_by_keyword(seed_bot, fake_bot_api):
    await feed(seed_bot, fake_bot_api.message_update("/latest 疫情"))

    [text] = fake_bot_api.texts()
    lines = [line for line in text.splitlines() if line.startswith("• ")]
    assert lines and all("疫情" in line for line in lines)
    assert len(lines) == len(seed_bot.bot_data["services"].news.retriever.latest(50, "疫情"))


@pytest.mark.parametrize("args", ["abc", "-5", "100000", "0", "3 4"])
async def test_latest_bad_arguments_get_a_one_line_usage_hint(seed_bot, fake_bot_api, args):
    await feed(seed_bot, fake_bot_api.message_update(f"/latest {args}"))

    [text] = fake_bot_api.texts()
    assert text.startswith("用法：/latest") and "\n" not in text


# --- groups ------------------------------------------------------------------------------------


async def test_group_chatter_gets_no_reply(seed_bot, fake_bot_api):
    fake_bot_api.forget_calls()  # start-up
    await feed(seed_bot, fake_bot_api.message_update(QUESTION, chat=GROUP_CHAT))
    await feed(seed_bot, fake_bot_api.message_update("今天天气不错", chat=GROUP_CHAT, user=BOB))
    bob_says = fake_bot_api.message_update("大家好", chat=GROUP_CHAT, user=BOB)
    await feed(seed_bot, bob_says)
    reply_to_bob = fake_bot_api.message_update(QUESTION, chat=GROUP_CHAT, reply_to=bob_says["message"])
    await feed(seed_bot, reply_to_bob)

    assert [c.method for c in fake_bot_api.calls] == []


async def test_group_mention_ask_and_reply_to_the_bot_are_answered(seed_bot, fake_bot_api):
    mention = fake_bot_api.mention_update(f"@news_test_bot {QUESTION}")
    ask = fake_bot_api.message_update(f"/ask {QUESTION}", chat=GROUP_CHAT)
    ask_named = fake_bot_api.message_update(f"/ask@news_test_bot {QUESTION}", chat=GROUP_CHAT)
    for update in (mention, ask, ask_named):
        await feed(seed_bot, update)
    replies = fake_bot_api.sent("sendMessage", GROUP_CHAT["id"])
    assert len(replies) == 3
    for update, reply in zip((mention, ask, ask_named), replies):
        assert SEED_SENTENCE in parse_html(reply["text"])[0]
        # In a group the answer quotes the question it answers.
        assert reply["reply_parameters"]["message_id"] == update["message"]["message_id"]

    # A reply to one of the bot's own messages is a question too.
    bot_message = fake_bot_api.calls[-1].result
    await feed(
        seed_bot,
        fake_bot_api.message_update("社区防控要管好什么人", chat=GROUP_CHAT, user=BOB, reply_to=bot_message),
    )
    assert len(fake_bot_api.sent("sendMessage", GROUP_CHAT["id"])) == 4


async def test_ask_without_a_question_explains_usage(seed_bot, fake_bot_api):
    await feed(seed_bot, fake_bot_api.message_update("/ask", chat=GROUP_CHAT))
    [text] = fake_bot_api.texts()
    assert text.startswith("用法：/ask")


# --- buttons -----------------------------------------------------------------------------------


def _buttons(reply: dict) -> dict[str, str]:
    rows = reply["reply_markup"]["inline_keyboard"]
    return {b["text"]: b["callback_data"] for row in rows for b in row}


async def test_more_button_pages_to_the_next_passages(make_bot, hash_seed_retriever, fake_bot_api):
    application = make_bot(hash_seed_retriever, passages=2, max_passages=6)
    async with started(application):
        await feed(application, fake_bot_api.message_update(QUESTION))
        first_call = [c for c in fake_bot_api.calls if c.method == "sendMessage"][-1]
        buttons = _buttons(first_call.params)
        assert "更多 ▸" in buttons and "全文" in buttons
        assert all(len(data.encode()) <= 64 for data in buttons.values())
        assert len(quotes(first_call.params["text"])) == 2

        await feed(application, fake_bot_api.callback_update(buttons["更多 ▸"], first_call.result))

        [answered] = fake_bot_api.sent("answerCallbackQuery")
        assert answered["callback_query_id"].startswith("cq")
        second = fake_bot_api.sent("sendMessage")[-1]
        assert len(fake_bot_api.sent("sendMessage")) == 2
        new_quotes = quotes(second["text"])
        assert new_quotes and not set(new_quotes) & set(quotes(first_call.params["text"]))
        assert TITLE in parse_html(second["text"])[0]

        # Pressing the first page's button again gives the same second page (the data is the offset).
        await feed(application, fake_bot_api.callback_update(buttons["更多 ▸"], first_call.result))
        assert fake_bot_api.sent("sendMessage")[-1]["text"] == second["text"]


async def test_full_article_button_sends_the_whole_cleaned_article(seed_bot, fake_bot_api):
    await feed(seed_bot, fake_bot_api.message_update(QUESTION))
    first_call = [c for c in fake_bot_api.calls if c.method == "sendMessage"][-1]

    await feed(seed_bot, fake_bot_api.callback_update(_buttons(first_call.params)["全文"], first_call.result))

    assert len(fake_bot_api.sent("answerCallbackQuery")) == 1
    article_texts = fake_bot_api.texts()[1:]
    assert article_texts and article_texts[0].startswith(TITLE)
    retriever = seed_bot.bot_data["services"].news.retriever
    article = retriever.article(retriever.search(QUESTION).hits[0].passage.article_id)
    sent = "".join(article_texts)
    assert all(paragraph in sent for paragraph in article.paragraphs)


async def test_a_button_of_a_forgotten_answer_says_it_expired(seed_bot, fake_bot_api):
    await feed(seed_bot, fake_bot_api.message_update(QUESTION))
    message = fake_bot_api.calls[-1].result
    await feed(seed_bot, fake_bot_api.callback_update("more:00000000:3", message))

    [answered] = fake_bot_api.sent("answerCallbackQuery")
    assert answered["text"] == EXPIRED
    assert len(fake_bot_api.sent("sendMessage")) == 1


def _press(fake_bot_api, data: str | None, *, message: dict | None = None, user: dict = BOB) -> dict:
    """A button press; without ``message`` it comes from an inline message (``inline_message_id``)."""
    query = {"id": "cq-press", "from": user, "chat_instance": "ci-1"}
    query.update({"message": message} if message is not None else {"inline_message_id": "im-1"})
    if data is not None:
        query["data"] = data
    return fake_bot_api.update(callback_query=query)


@pytest.mark.parametrize("data", [None, ""])
async def test_a_button_press_without_data_is_answered_without_an_apology(seed_bot, fake_bot_api, handler_errors, data):
    # Telegram passes a callback without data to every pattern handler (python-telegram-bot matches it).
    await feed(seed_bot, fake_bot_api.message_update(QUESTION))
    await feed(seed_bot, _press(fake_bot_api, data, message=fake_bot_api.calls[-1].result))
    [answered] = fake_bot_api.sent("answerCallbackQuery")
    assert answered.get("text") != APOLOGY and handler_errors == []
    assert len(fake_bot_api.sent("sendMessage")) == 1


async def test_more_pressed_under_an_inline_message_is_answered(make_bot, hash_seed_retriever, fake_bot_api, handler_errors):
    application = make_bot(hash_seed_retriever, passages=2, max_passages=6)
    async with started(application):
        await feed(application, fake_bot_api.message_update(QUESTION))
        more = _buttons(fake_bot_api.sent("sendMessage")[-1])["更多 ▸"]
        key = more.split(":")[1]
        # A message sent through inline mode has no chat the bot may write to: only the toast can answer.
        await feed(application, _press(fake_bot_api, f"more:{key}:3"))
        await feed(application, _press(fake_bot_api, f"full:{key}:0"))
    answered = fake_bot_api.sent("answerCallbackQuery")
    assert [a["text"] for a in answered] == [handlers.NOT_HERE, handlers.NOT_HERE]
    assert len(fake_bot_api.sent("sendMessage")) == 1 and handler_errors == []


@pytest.mark.parametrize("data", ["vote:{key}:sideways", "more:{key}", "unknown"])
async def test_every_button_press_gets_answered_even_one_no_handler_knows(seed_bot, fake_bot_api, handler_errors, data):
    await feed(seed_bot, fake_bot_api.message_update(QUESTION))
    answer = fake_bot_api.calls[-1]
    key = _buttons(answer.params)["👍"].split(":")[1]
    await feed(seed_bot, _press(fake_bot_api, data.format(key=key), message=answer.result))
    [answered] = fake_bot_api.sent("answerCallbackQuery")  # the client's spinner stops
    assert answered["text"] == EXPIRED and handler_errors == []


# --- long replies ----------------------------------------------------------------------------

LONG_URL = "https://news.example.com/2020/02/10/long.html?a=1&b=2"


@pytest.fixture(scope="session")
def long_retriever(tmp_path_factory, project_config, hash_retrieval_config):
    """An index (hash-embedded) of the seed page plus one long article (with a url) given as JSONL."""
    from index import Retriever, build_index
    from tests.hashencoder import HashEncoder

    root = Path(__file__).resolve().parents[1]
    seeds = tmp_path_factory.mktemp("long-seeds")
    sentences = [f"第{n}句说明江城防汛工程的第{n}项进展，堤坝加固长度达到{n * 10}公里。" for n in range(1, 161)]
    paragraphs = ["".join(sentences[i : i + 12]) for i in range(0, len(sentences), 12)]
    paragraphs.append("".join(sentences))  # one paragraph far longer than a message
    article = {
        "id": "long-1",
        "title": "江城防汛工程全面加固 <特稿> & 评论",
        "published_at": "2020-02-10T08:30:00+08:00",
        "source": "测试日报",
        "url": LONG_URL,
        "body": "\n".join(paragraphs),
    }
    (seeds / "long.jsonl").write_text(json.dumps(article, ensure_ascii=False) + "\n", encoding="utf-8")
    folder = tmp_path_factory.mktemp("long-index")
    build_index([root / "seeds", seeds], folder, HashEncoder(), project_config.index, progress=False)
    retriever = Retriever.load(folder, HashEncoder(), hash_retrieval_config)
    yield retriever
    retriever.close()


async def test_long_article_is_split_under_the_limit_between_sentences(make_bot, long_retriever, fake_bot_api):
    application = make_bot(long_retriever)
    async with started(application):
        await feed(application, fake_bot_api.message_update("江城防汛工程的堤坝加固长度达到多少公里"))
        answer = [c for c in fake_bot_api.calls if c.method == "sendMessage"][-1]
        assert f'<a href="{LONG_URL.replace("&", "&amp;")}">' in answer.params["text"]
        assert "江城防汛工程全面加固 &lt;特稿&gt; &amp; 评论" in answer.params["text"]

        await feed(application, fake_bot_api.callback_update(_buttons(answer.params)["全文"], answer.result))

    messages = fake_bot_api.sent("sendMessage")[1:]
    texts = [parse_html(m["text"])[0] for m in messages]
    assert len(messages) >= 3
    assert all(utf16_len(t) <= 4096 for t in texts)
    assert all(len(m["text"]) <= 4096 for m in messages)  # even the markup fits
    # Split between paragraphs or after a sentence, never inside one.
    assert all(t.rstrip()[-1] in "。！？；" for t in texts[:-1])
    article = long_retriever.article("long-1")
    joined = "".join(texts).replace("\n", "")
    # 全文 is capped at 3 messages (issue 12): the article's beginning, then a pointer to the rest.
    shown, _, rest = joined[joined.index(article.paragraphs[0]) :].rpartition("（全文较长，余下")
    assert len(messages) == 3 and rest.endswith("请看原文）")
    assert "".join(article.paragraphs).startswith(shown) and len(shown) > 8000


# --- start-up, polling, concurrency, errors -------------------------------------------------------


def test_run_polling_registers_commands_then_answers(make_bot, hash_seed_retriever, fake_bot_api):
    application = make_bot(hash_seed_retriever)
    fake_bot_api.enqueue(fake_bot_api.message_update(QUESTION))

    polls = []

    def stop_after_reply(call):
        # Runs inside the application's loop, where stop_running must be called.
        if call.method == "getUpdates":
            polls.append(call)
        if call.method == "sendMessage" or len(polls) > 200:  # a reply, or ~40 s of waiting
            application.stop_running()

    fake_bot_api.on_call = stop_after_reply
    application.run_polling(stop_signals=None)

    methods = [c.method for c in fake_bot_api.calls]
    assert methods.index("setMyCommands") < methods.index("sendMessage")
    assert "getUpdates" in methods
    assert SEED_SENTENCE in fake_bot_api.texts()[-1]


class SlowFor:
    """The real retriever, but one question blocks until released."""

    def __init__(self, retriever, slow_question: str):
        self._retriever = retriever
        self.slow_question = slow_question
        self.release = threading.Event()

    def __getattr__(self, name):
        return getattr(self._retriever, name)

    def search(self, query, k=3, now=None):
        if query == self.slow_question:
            assert self.release.wait(30), "never released"
        return self._retriever.search(query, k)


async def test_a_slow_question_does_not_stall_other_chats(make_bot, hash_seed_retriever, fake_bot_api):
    slow = SlowFor(hash_seed_retriever, OFF_TOPIC)
    application = make_bot(slow)
    other_chat = {"id": 2002, "type": "private", "first_name": "Bob"}
    fake_bot_api.chats[other_chat["id"]] = other_chat
    async with started(application):
        await application.updater.start_polling(poll_interval=0, timeout=1)
        await application.start()
        try:
            fake_bot_api.enqueue(fake_bot_api.message_update(OFF_TOPIC))
            fake_bot_api.enqueue(fake_bot_api.message_update(QUESTION, chat=other_chat, user=BOB))
            for _ in range(300):
                if fake_bot_api.sent("sendMessage", other_chat["id"]):
                    break
                await asyncio.sleep(0.05)
            # Bob got his answer while Alice's question was still being searched.
            assert fake_bot_api.sent("sendMessage", other_chat["id"])
            assert not fake_bot_api.sent("sendMessage", PRIVATE_CHAT["id"])
            slow.release.set()
            for _ in range(300):
                if fake_bot_api.sent("sendMessage", PRIVATE_CHAT["id"]):
                    break
                await asyncio.sleep(0.05)
            assert fake_bot_api.sent("sendMessage", PRIVATE_CHAT["id"])
        finally:
            slow.release.set()
            await application.updater.stop()
            await application.stop()


class Broken:
    def stats(self):
        return {}

    def search(self, query, k=3, now=None):
        raise RuntimeError("index exploded")


async def test_errors_are_logged_with_the_update_first_then_apologised_for(
    make_bot, fake_bot_api, caplog
):
    application = make_bot(Broken())
    async with started(application):
        with caplog.at_level(logging.ERROR):
            await feed(application, fake_bot_api.message_update(QUESTION))

    [record] = [r for r in caplog.records if r.name == "bot.error_handling"]
    assert record.levelno == logging.ERROR
    assert QUESTION in record.getMessage()  # the update is in the log
    assert "index exploded" in str(record.exc_info[1])
    assert fake_bot_api.texts() == [APOLOGY]


async def test_base_url_is_configurable(make_bot, hash_seed_retriever, fake_bot_api):
    application = make_bot(hash_seed_retriever, base_url="http://127.0.0.1:8081/bot")
    async with started(application):
        await feed(application, fake_bot_api.message_update("/latest 3"))
    assert fake_bot_api.calls
    assert all(c.url.startswith("http://127.0.0.1:8081/bot") for c in fake_bot_api.calls)


def test_run_uses_a_webhook_with_its_secret_when_configured(monkeypatch, make_bot, hash_seed_retriever):
    config = BotConfig(token="1:x", webhook_url="https://bot.example.com/telegram", webhook_secret="s3cret")
    application = make_bot(hash_seed_retriever)
    seen = {}
    monkeypatch.setattr(application, "run_webhook", lambda **kw: seen.update(webhook=kw))
    monkeypatch.setattr(application, "run_polling", lambda **kw: seen.update(polling=kw))

    bot_app.run(application, config)
    assert seen["webhook"]["secret_token"] == "s3cret"
    assert seen["webhook"]["webhook_url"] == "https://bot.example.com/telegram"
    assert seen["webhook"]["url_path"] == "telegram"

    seen.clear()
    bot_app.run(application, BotConfig(token="1:x"))
    assert set(seen) == {"polling"}
