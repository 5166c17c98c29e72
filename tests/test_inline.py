"""Inline mode end to end: the real Application answers inline queries through the spec-checked fake Bot API."""

from __future__ import annotations

import pytest
from telegram import Update

from bot import inline
from bot.ask import TOO_FAST
from bot.services import services
from tests.fakebotapi import BOB, parse_html
from tests.fakeretriever import FakeRetriever
from tests.helpers import feed, started

QUESTION = "社区防控要突出什么"
SEED_SENTENCE = "社区防控,要以网格化为基础,守住门,突出“严”。"
TITLE = "【央视快评】筑牢基层社区疫情防控的严密防线"


@pytest.fixture
def inline_api(fake_bot_api):
    """The fake Bot API of a bot whose inline mode is on (BotFather /setinline)."""
    fake_bot_api.bot_user["supports_inline_queries"] = True
    return fake_bot_api


async def ask_inline(make_bot, api, retriever, *queries):
    application = make_bot(retriever)
    async with started(application):
        for q in queries:
            await application.process_update(Update.de_json(api.inline_query_update(q), application.bot))
    return api.sent("answerInlineQuery"), application


async def test_an_inline_question_is_answered_with_quotes_in_valid_html(make_bot, inline_api, seed_retriever):
    # The real model's index: inline mode's end-to-end check of the real answers.
    [answer], application = await ask_inline(make_bot, inline_api, seed_retriever, QUESTION)
    assert answer["cache_time"] == str(inline.CACHE_SECONDS) and answer["is_personal"] == "false"
    results = answer["results"]
    assert 1 <= len(results) <= 9 and all(r["type"] == "article" for r in results)
    first = results[0]
    assert first["title"] == TITLE
    assert first["description"].startswith("2020-02-09 23:26 · ") and SEED_SENTENCE in first["description"]
    content = first["input_message_content"]
    assert content["parse_mode"] == "HTML" and content["link_preview_options"] == {"is_disabled": True}
    text, problems = parse_html(content["message_text"])
    assert problems == []  # the fake checked it too: a violation would fail the test
    assert f"<b>{SEED_SENTENCE}</b>" in content["message_text"]  # formatted like an answer
    assert TITLE in text and "2020-02-09 23:26 · 观察者网" in text
    assert application.bot_data["services"].usage["inline"] == 1


async def test_an_unanswerable_inline_question_gets_one_not_found_article(make_bot, inline_api, hash_seed_retriever):
    [answer], _ = await ask_inline(make_bot, inline_api, hash_seed_retriever, "巴西足球比赛的比分是多少")
    [only] = answer["results"]
    assert only["title"] == inline.NOT_FOUND_TITLE and only["description"].startswith("最接近：")
    assert parse_html(only["input_message_content"]["message_text"])[0].startswith("抱歉，没有找到")


async def test_an_empty_or_whats_new_query_offers_the_newest_headlines(make_bot, inline_api):
    retriever = FakeRetriever()
    (empty, whats_new), _ = await ask_inline(make_bot, inline_api, retriever, "", "今天有什么新闻")
    assert retriever.searches == []  # headlines, no search
    for answer in (empty, whats_new):
        results = answer["results"]
        assert results and len({r["id"] for r in results}) == len(results)
        assert all(r["description"].startswith("2020-02-09 23:26") for r in results)
        assert all(parse_html(r["input_message_content"]["message_text"])[0].startswith("• 2020-02-09 23:26")
                   for r in results)
    # The fake's headlines carry markup in their titles: sent escaped, shown literally.
    assert "&lt;a href=" in empty["results"][0]["input_message_content"]["message_text"]


async def test_hostile_passages_give_valid_html_results(make_bot, inline_api):
    [answer], _ = await ask_inline(make_bot, inline_api, FakeRetriever(found_every=1, confident=False), "口罩产量")
    results = answer["results"]
    assert len(results) == 4 and all(r["description"].startswith("（不确定）") for r in results)
    assert all("不确定是否回答了你的问题" in parse_html(r["input_message_content"]["message_text"])[0]
               for r in results)


def test_the_fake_refuses_inline_results_telegram_would():
    from tests.fakebotapi import _inline_results_problems

    def article(i, text, mode="HTML"):
        return {"type": "article", "id": i, "title": "t",
                "input_message_content": {"message_text": text, "parse_mode": mode}}

    assert _inline_results_problems([article("a", "<b>ok</b>")]) == []
    assert _inline_results_problems([article("a", "x"), article("a", "y")])  # repeated id
    assert _inline_results_problems([article("a" * 65, "x")])  # id over 64 bytes
    assert _inline_results_problems([article("a", "<b>unclosed")])
    assert _inline_results_problems([article("a", "字" * 4097)])
    assert _inline_results_problems([article(str(i), "x") for i in range(51)])


async def test_inline_queries_share_the_per_user_question_limit(make_bot, inline_api, handler_errors):
    # Issue 23 item 10: 100 inline queries from one user ran 100 searches while messages stopped at 10.
    retriever = FakeRetriever()
    application = make_bot(retriever, questions_per_minute=3)
    async with started(application):
        for n in range(20):
            await feed(application, inline_api.inline_query_update(f"问题{n}"))
        await feed(application, inline_api.message_update("消息里的问题"))  # the same user's budget
        await feed(application, inline_api.inline_query_update("鲍勃的问题", user=BOB))
    assert retriever.searches == ["问题0", "问题1", "问题2", "鲍勃的问题"]
    answers = inline_api.sent("answerInlineQuery")
    assert len(answers) == 21  # every query answered: an unanswered one leaves the client waiting
    for answer in answers[3:20]:
        # Only for this user, and not cached: another user's same query must still be searched.
        assert answer["is_personal"] == "true" and answer["cache_time"] == "0"
        [only] = answer["results"]
        assert only["title"] == inline.TOO_FAST_TITLE
        assert parse_html(only["input_message_content"]["message_text"])[0] == TOO_FAST.format(n=3)
    assert inline_api.texts() == []  # the limit's one notice went inline; the message is dropped
    services(application).clock.advance(60)  # a minute later Alice may ask again
    async with application:
        await feed(application, inline_api.inline_query_update("一分钟后的问题"))
    assert retriever.searches[-1] == "一分钟后的问题" and handler_errors == []
