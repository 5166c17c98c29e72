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
TOPICAL = [tuple(line.split("\t")) for line in questions("whats_new_topic_questions.txt")]


def test_the_lists_hold_thirty_questions_each():
    assert len(WHATS_NEW) == len(set(WHATS_NEW)) == 30
    assert len(ORDINARY) == len(set(ORDINARY)) == 30
    assert len(TOPICAL) == len(set(TOPICAL)) == 30 and all(len(pair) == 2 for pair in TOPICAL)


@pytest.mark.parametrize("question", WHATS_NEW)
def test_a_whats_new_phrasing_routes_to_the_headlines(question):
    assert whatsnew.is_whats_new(question)


@pytest.mark.parametrize("question", WHATS_NEW)
def test_a_bare_whats_new_phrasing_has_no_topic(question):
    assert whatsnew.topic_of(question) == ""


@pytest.mark.parametrize("question", ORDINARY)
def test_an_ordinary_question_routes_to_the_search(question):
    assert not whatsnew.is_whats_new(question)
    assert whatsnew.topic_of(question) == ""


@pytest.mark.parametrize("question, topic", TOPICAL)
def test_a_topical_whats_new_phrasing_gives_its_topic(question, topic):
    assert not whatsnew.is_whats_new(question)  # not all the newest headlines
    assert whatsnew.topic_of(question) == topic


@pytest.mark.parametrize("question, topic", [
    ("最近疫情有什麼新消息", "疫情"), ("湖北有甚麼新聞", "湖北"), ("有什麼關於口罩的最新消息", "口罩"),
])
def test_a_traditional_script_topic_is_read_as_simplified(question, topic):
    assert whatsnew.topic_of(question) == topic


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


# --- topical questions: the newest headlines about the topic ----------------------------------------

TOPIC_ARTICLES = [  # (id, title, date, body); 口罩 in the title or only in the body, at several dates
    ("k-old", "口罩出口去年大增", "2019-06-01", "去年口罩出口大增，订单来自多个国家。"),
    ("k1", "口罩产能持续提升", "2020-03-01", "多家企业扩产，口罩日产量持续提升。"),
    ("w1", "武汉开通公交新线路", "2020-03-12", "武汉今天开通三条公交新线路，方便市民出行。"),
    ("k2", "一家工厂连夜扩产", "2020-03-10", "这家工厂连夜扩产，每天生产医用口罩十万只。"),
    ("f1", "足球联赛今晚开赛", "2020-03-15", "足球联赛今晚开赛，球迷期待已久。"),
]


@pytest.fixture(scope="module")
def topic_retriever(tmp_path_factory, project_config):
    """A small index of dated articles, embedded with the HashEncoder (answer line on lexical evidence)."""
    from index import Retriever, build_index
    from tests.hashencoder import HashEncoder
    from tests.helpers import hash_retrieval, jsonl

    folder = tmp_path_factory.mktemp("topics")
    (folder / "seeds").mkdir()
    jsonl(folder / "seeds" / "news.jsonl", [
        {"id": i, "title": t, "published_at": f"{d}T10:00:00+08:00", "source": "测试社", "url": None, "body": b}
        for i, t, d, b in TOPIC_ARTICLES])
    build_index([folder / "seeds"], folder / "index", HashEncoder(), project_config.index, progress=False)
    retriever = Retriever.load(folder / "index", HashEncoder(), hash_retrieval(project_config.retrieval))
    yield retriever
    retriever.close()


def test_the_newest_about_a_topic_are_its_articles_newest_first(topic_retriever):
    # k2 says 口罩 only in its body; 武汉 and 足球 are newer but not about it; k-old is a year older.
    titles = [h.title for h in topic_retriever.newest_about("口罩", 10)]
    assert titles == ["一家工厂连夜扩产", "口罩产能持续提升", "口罩出口去年大增"]
    assert [h.title for h in topic_retriever.newest_about("口罩", 1)] == ["一家工厂连夜扩产"]
    window = (datetime(2020, 3, 1).date(), datetime(2020, 3, 5).date())
    assert [h.title for h in topic_retriever.newest_about("口罩", 10, window)] == ["口罩产能持续提升"]
    assert topic_retriever.newest_about("股市", 10) == []


def test_a_topical_question_gets_the_topics_newest_headlines(topic_retriever):
    found = whatsnew.answer(topic_retriever, "最近口罩有什么新消息", NOW, 10)
    assert found.topic == "口罩" and not found.off_topic
    assert [i.headline.title for i in found.items] == ["一家工厂连夜扩产", "口罩产能持续提升", "口罩出口去年大增"]
    assert "十万只" in found.items[0].extract
    text = parse_html("\n".join(format_whats_new(found)))[0]
    assert text.startswith("关于「口罩」的最新新闻（最新的是 2020-03-10 的）") and "武汉" not in text


def test_a_topic_with_nothing_about_it_says_so_and_gives_the_newest(topic_retriever):
    found = whatsnew.answer(topic_retriever, "有什么关于股市的新闻", NOW, 10)
    assert found.off_topic and found.items[0].headline.title == "足球联赛今晚开赛"
    text = parse_html("\n".join(format_whats_new(found)))[0]
    assert text.startswith("没有找到关于「股市」的新闻。新闻库最新的新闻（2020-03-15）")


def test_a_topic_and_a_window_keep_to_the_window_or_say_there_is_none(topic_retriever):
    now = datetime(2020, 3, 11, 9, 0, tzinfo=CHINA_TZ)
    found = whatsnew.answer(topic_retriever, "昨天有什么关于口罩的新闻", now, 10)
    assert [i.headline.title for i in found.items] == ["一家工厂连夜扩产"] and not found.fallback
    assert parse_html(format_whats_new(found)[0])[0].startswith("昨天（2020-03-10）关于「口罩」的新闻，最新 1 条")
    found = whatsnew.answer(topic_retriever, "今天有什么关于口罩的新闻", now, 10)
    assert found.fallback and found.items[0].headline.title == "一家工厂连夜扩产"
    assert parse_html(format_whats_new(found)[0])[0].startswith("🗓 今天（2020-03-11）没有关于「口罩」的新闻。")


def test_a_reader_without_a_search_falls_back_to_headlines_holding_the_topic():
    class Keyworded(DatedRetriever):
        HEADS = [Headline("周一球赛", "2020-02-10T08:00:00+08:00", article_id="m1"),
                 Headline("口罩日产量破亿", "2020-02-09T20:00:00+08:00", article_id="s1")]

        def latest(self, n=10, keyword=None):
            return [h for h in self.HEADS if keyword is None or keyword in h.title][:n]

    found = whatsnew.answer(Keyworded(), "口罩有什么消息", NOW, 10)
    assert found.topic == "口罩" and [i.headline.title for i in found.items] == ["口罩日产量破亿"]


@pytest.mark.parametrize("question, topic, expected", [
    ("湖北有什么新消息", "湖北", ["16个省对口支援湖北", "湖北疫情指挥部"]),
    ("武汉的新闻", "武汉", ["今天武汉搞了个大动作", "红十字会总会赴武汉工作组", "“武汉战疫”发起总攻"]),
])
async def test_the_bot_answers_a_topical_question_with_that_topics_headlines(
        make_bot, fake_bot_api, hash_seed_retriever, question, topic, expected):
    application = make_bot(hash_seed_retriever)
    async with started(application):
        await application.process_update(Update.de_json(fake_bot_api.message_update(question), application.bot))
    [text] = fake_bot_api.texts()
    assert text.startswith(f"关于「{topic}」的最新新闻（最新的是 2020-02-09 的）")
    lines = [line for line in text.splitlines() if line.startswith("•")]
    assert len(lines) == len(expected) and all(e in line for e, line in zip(expected, lines))
    assert application.bot_data["services"].usage["whats_new"] == 1


async def test_the_bot_says_when_nothing_is_about_the_topic(make_bot, fake_bot_api, hash_seed_retriever):
    application = make_bot(hash_seed_retriever)
    async with started(application):
        await application.process_update(
            Update.de_json(fake_bot_api.message_update("最近有什么关于股市的消息"), application.bot))
    [text] = fake_bot_api.texts()
    assert text.startswith("没有找到关于「股市」的新闻。新闻库最新的新闻（2020-02-09）") and "•" in text


def test_a_span_too_large_to_score_exactly_is_left_to_the_whole_index_search(topic_retriever, monkeypatch):
    from index.search import retriever as retriever_module

    spans = []
    real = topic_retriever.rank
    monkeypatch.setattr(topic_retriever, "rank", lambda pq, **kw: spans.append(kw.get("within")) or real(pq, **kw))
    monkeypatch.setattr(retriever_module, "MAX_SPAN_ROWS", 1)
    found = topic_retriever.newest_about("口罩", 2)
    assert spans == [None]  # every span holds more than one passage: only the whole index was searched
    bodies = {t: b for _, t, _, b in TOPIC_ARTICLES}
    assert found and all("口罩" in bodies[h.title] for h in found)
    assert [h.published_at for h in found] == sorted((h.published_at for h in found), reverse=True)


def test_a_hedged_passage_counts_as_about_the_topic_only_when_it_names_it(topic_retriever, monkeypatch):
    from index.search.answerability import HEDGE
    from index.search.judge import Assessment

    # The judge hedges on everything (a loose topic match): only the articles that name 口罩 are kept.
    monkeypatch.setattr(topic_retriever.judge, "assess",
                        lambda pq, candidates, qvec: [Assessment(c, 0.4, HEDGE) for c in candidates])
    titles = [h.title for h in topic_retriever.newest_about("口罩", 10)]
    assert titles == ["一家工厂连夜扩产", "口罩产能持续提升", "口罩出口去年大增"]
