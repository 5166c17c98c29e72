"""'What's new' questions: the rule set on two lists of questions, the answer, and the bot end to end."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from telegram import Update

from bot.analysis import whatsnew
from bot.digest_format import format_whats_new
from bot.text import CHINA_TZ
from index.schema import Article, Headline
from tests.fakebotapi import parse_html
from tests.fakeretriever import FakeRetriever
from tests.helpers import started

DATA = Path(__file__).parent / "data"


def questions(name: str) -> list[str]:
    lines = (DATA / name).read_text(encoding="utf-8").splitlines()
    return [q.strip() for q in lines if q.strip() and not q.startswith("#")]


WHATS_NEW = questions("whats_new_questions.txt")
ORDINARY = questions("not_whats_new_questions.txt")


def test_the_lists_hold_thirty_questions_each():
    assert len(WHATS_NEW) == len(set(WHATS_NEW)) == 30
    assert len(ORDINARY) == len(set(ORDINARY)) == 30


@pytest.mark.parametrize("question", WHATS_NEW)
def test_a_whats_new_phrasing_routes_to_the_headlines(question):
    assert whatsnew.is_whats_new(question)


@pytest.mark.parametrize("question", ORDINARY)
def test_an_ordinary_question_routes_to_the_search(question):
    assert not whatsnew.is_whats_new(question)


@pytest.mark.parametrize("question, routed", [
    ("最近有什么大事发生吗", True), ("今天有哪些新闻值得看", True), ("今天的新闻摘要", True), ("今日早报", True),
    ("新闻联播", False), ("武汉发生了什么", False), ("看病难怎么办", False), ("最近有什么新闻发布会", False),
])
def test_more_phrasings_beyond_the_lists(question, routed):
    assert whatsnew.is_whats_new(question) is routed


@pytest.mark.parametrize("question", ["今天有什麼新聞", "最近有甚麼新消息", "這幾天有啥新聞", "今日頭條"])
def test_traditional_script_is_read_as_simplified(question):
    assert whatsnew.is_whats_new(question)


NOW = datetime(2020, 2, 10, 9, 0, tzinfo=CHINA_TZ)


class DatedRetriever:
    """Headlines of two days, newest first, each with a one-paragraph article."""

    HEADS = [
        Headline("周一新闻甲", "2020-02-10T08:00:00+08:00", article_id="m1"),
        Headline("周日新闻乙", "2020-02-09T20:00:00+08:00", article_id="s1"),
        Headline("周日新闻丙", "2020-02-09T10:00:00+08:00", article_id="s2"),
        Headline("无日期标题", None),
    ]

    def latest(self, n=10, keyword=None):
        return self.HEADS[:n]

    def article(self, article_id):
        return Article(article_id, article_id, [f"这是{article_id}文章里最有代表性的一句话，讲的是新闻内容。"])


def test_yesterday_lists_the_headlines_of_yesterday_with_their_extracts():
    found = whatsnew.answer(DatedRetriever(), "昨天有什么新闻", NOW, 10)
    assert [i.headline.title for i in found.items] == ["周日新闻乙", "周日新闻丙"]
    assert not found.fallback and all("代表性" in i.extract for i in found.items)
    text = parse_html("\n".join(format_whats_new(found)))[0]
    assert text.startswith("昨天（2020-02-09）的新闻") and "周一新闻甲" not in text


def test_an_empty_window_falls_back_to_the_newest_and_says_which_day_it_is():
    found = whatsnew.answer(DatedRetriever(), "上个月有哪些新闻", NOW, 10)
    assert found.fallback and found.items[0].headline.title == "周一新闻甲"
    text = parse_html("\n".join(format_whats_new(found)))[0]
    assert text.startswith("🗓 2020-01-01 至 2020-01-31没有新闻。") and "新闻库最新的是 2020-02-10 的" in text


def test_a_window_behind_more_than_a_pool_of_newer_headlines_is_still_found():
    class Busy(DatedRetriever):
        HEADS = [Headline(f"今天第{i}条", "2020-02-10T08:00:00+08:00") for i in range(1200)] + [
            Headline("昨天唯一一条", "2020-02-09T08:00:00+08:00", article_id="y1")]

    found = whatsnew.answer(Busy(), "昨天有什么新闻", NOW, 10)
    assert not found.fallback and [i.headline.title for i in found.items] == ["昨天唯一一条"]


def test_no_time_word_gives_the_newest_day():
    found = whatsnew.answer(DatedRetriever(), "有啥新闻", NOW, 10)
    assert found.window is None and not found.fallback
    assert [i.headline.title for i in found.items] == ["周一新闻甲", "周日新闻乙", "周日新闻丙"]  # 24 h, undated left out


async def test_the_bot_answers_whats_new_with_headlines(make_bot, fake_bot_api):
    retriever = FakeRetriever()
    application = make_bot(retriever)
    async with started(application):
        await application.process_update(Update.de_json(fake_bot_api.message_update("今天有什么新闻"), application.bot))
        await application.process_update(
            Update.de_json(fake_bot_api.message_update("2020年2月9日有什么新闻"), application.bot))
    assert retriever.searches == []  # not searched: answered from the headlines
    fallback, dated = fake_bot_api.texts()
    assert "没有新闻" in fallback and "新闻库最新的是 2020-02-09 的" in fallback  # the fake's news is old
    assert "<tag>" in fallback and "•" in fallback  # headline lines, as in /latest
    assert dated.startswith("2020-02-09的新闻") and "第一段" in dated  # the digest's extract of the article
    assert application.bot_data["services"].usage["whats_new"] == 2
    # Votes on a headline answer count like any other (the feedback log keeps its question).
    first = next(c for c in fake_bot_api.calls if c.method == "sendMessage")
    [[up, down]] = first.params["reply_markup"]["inline_keyboard"]
    assert (up["text"], down["text"]) == ("👍", "👎")
    async with application:
        await application.process_update(Update.de_json(
            fake_bot_api.callback_update(down["callback_data"], first.result), application.bot))
    assert application.bot_data["services"].feedback.gaps() == [("今天有什么新闻", 0, 1)]
