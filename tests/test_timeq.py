"""Time words in questions: the parser (pure) and time-restricted search on a small synthetic corpus."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone

import pytest

from index.search.timeq import date_mentions, parse_time_query
from tests.helpers import started

NOW = datetime(2020, 2, 10, 20, 0)  # a Monday evening, China time


@pytest.mark.parametrize(
    "question, rest, first, last",
    [
        ("今天的新闻", "的新闻", "2020-02-10", "2020-02-10"),
        ("今日 要闻", "要闻", "2020-02-10", "2020-02-10"),
        ("昨天 天气预报", "天气预报", "2020-02-09", "2020-02-09"),
        ("昨日天气预报", "天气预报", "2020-02-09", "2020-02-09"),
        ("前天 快讯", "快讯", "2020-02-08", "2020-02-08"),
        ("大前天发生了什么", "发生了什么", "2020-02-07", "2020-02-07"),
        ("上周 疫情", "疫情", "2020-02-03", "2020-02-09"),
        ("上星期的会议", "的会议", "2020-02-03", "2020-02-09"),
        ("本周 会议", "会议", "2020-02-10", "2020-02-10"),
        ("本月 疫情", "疫情", "2020-02-01", "2020-02-10"),
        ("上个月 疫情", "疫情", "2020-01-01", "2020-01-31"),
        ("2月9日 国内联播快讯", "国内联播快讯", "2020-02-09", "2020-02-09"),
        ("二月九号的天气", "的天气", "2020-02-09", "2020-02-09"),
        ("12月31日 跨年", "跨年", "2019-12-31", "2019-12-31"),  # not yet this year: last year's
        ("2020年2月 疫情", "疫情", "2020-02-01", "2020-02-29"),
        ("2019年12月份", "", "2019-12-01", "2019-12-31"),
        ("2020年2月9日 快讯", "快讯", "2020-02-09", "2020-02-09"),
        ("2020-02-09 快讯", "快讯", "2020-02-09", "2020-02-09"),
        ("去年 经济", "经济", "2019-01-01", "2019-12-31"),
        ("今年以来 经济", "经济", "2020-01-01", "2020-02-10"),
        ("前年", "", "2018-01-01", "2018-12-31"),
        ("2019年 经济", "经济", "2019-01-01", "2019-12-31"),
        ("1月份 疫情", "疫情", "2020-01-01", "2020-01-31"),
        ("3月 春耕", "春耕", "2019-03-01", "2019-03-31"),  # March has not come yet in 2020
        ("最近3天 疫情", "疫情", "2020-02-08", "2020-02-10"),
        ("近一周 疫情", "疫情", "2020-02-04", "2020-02-10"),
        ("过去两个月", "", "2019-12-13", "2020-02-10"),
        ("昨天和今天", "和", "2020-02-09", "2020-02-10"),  # the span covering both
        ("上上周 疫情", "疫情", "2020-01-27", "2020-02-02"),  # two weeks back, not last week
        ("上上个星期的会议", "的会议", "2020-01-27", "2020-02-02"),
        ("大大前天发生了什么", "发生了什么", "2020-02-06", "2020-02-06"),  # four days back, not three
        ("上上个月 疫情", "疫情", "2019-12-01", "2019-12-31"),
        ("二〇二〇年二月九日社区防控", "社区防控", "2020-02-09", "2020-02-09"),  # a year written digit by digit
        ("二〇一九年 经济", "经济", "2019-01-01", "2019-12-31"),
        ("２０１９年 经济", "经济", "2019-01-01", "2019-12-31"),  # full-width digits
        ("２０２０年２月", "", "2020-02-01", "2020-02-29"),
        ("最近一百天的疫情", "的疫情", "2019-11-03", "2020-02-10"),
        ("近一百零五天", "", "2019-10-29", "2020-02-10"),
        ("近百天", "", "2019-11-03", "2020-02-10"),
    ],
)
def test_time_words_become_a_date_range_and_leave_the_question(question, rest, first, last):
    tq = parse_time_query(question, NOW)
    assert tq.date_range == (first, last)
    assert tq.text == rest
    assert not tq.recent


@pytest.mark.parametrize("question, rest", [("最新 疫情", "疫情"), ("最近有什么新闻", "有什么新闻"), ("近期 口罩", "口罩")])
def test_recency_words_ask_for_the_newest_without_a_range(question, rest):
    tq = parse_time_query(question, NOW)
    assert tq.recent and tq.date_range is None and tq.text == rest


@pytest.mark.parametrize("question", ["社区防控要突出什么", "前天津市委书记", "马上周末了", "前10000日元", "天气预报", ""])
def test_no_time_words_means_no_range(question):
    tq = parse_time_query(question, NOW)
    assert tq.date_range is None and not tq.recent
    assert tq.text == question.strip()


@pytest.mark.parametrize(
    "question, rest",
    [
        ("2020年13月的疫情", "的疫情"),
        ("2020年2月30日的疫情", "的疫情"),  # not February 2020 with a stray "30日"
        ("2月30日", ""),
        ("2020-02-30 快讯", "快讯"),
        ("最近五千天的疫情", "的疫情"),  # longer than any span read (3660 days)
        ("最近十十天的疫情", "的疫情"),
        ("9999年1月1日的新闻", "的新闻"),
    ],
)
def test_a_date_naming_no_real_day_is_no_date_but_leaves_the_question(question, rest):
    tq = parse_time_query(question, NOW)
    assert tq.date_range is None and tq.window is None and tq.event is None
    assert tq.text == rest and tq.ignored


def test_the_reference_time_is_china_time():
    # 2020-02-09 17:00 UTC is already the 10th in China.
    utc = datetime(2020, 2, 9, 17, 0, tzinfo=timezone.utc)
    assert parse_time_query("今天", utc).date_range == ("2020-02-10", "2020-02-10")
    assert parse_time_query("2月29日", datetime(2021, 3, 1)).date_range == ("2020-02-29", "2020-02-29")


# --- search -----------------------------------------------------------------------------------

CHINA = timezone(timedelta(hours=8))
DAYS = ["2020-02-06", "2020-02-07", "2020-02-08", "2020-02-09", "2020-02-10"]


@pytest.fixture(scope="module")
def dated_retriever(tmp_path_factory):
    """A lexical-only index of a bulletin that recurs daily (one temperature a day) plus undated items."""
    from index import Retriever, build_index

    folder = tmp_path_factory.mktemp("timeq")
    lines = []
    for n, day in enumerate(DAYS):
        lines.append({
            "id": f"weather-{day}", "title": "天气预报", "published_at": f"{day}T19:30:00+08:00",
            "source": "测试台", "body": f"北京明天晴，最高气温{n + 1}度，风力三级。",
        })
    lines.append({"id": "weather-undated", "title": "天气预报", "source": "测试台",
                  "body": "北京明天多云，最高气温九十九度，风力三级。"})
    lines.append({"id": "masks", "title": "口罩生产恢复", "published_at": "2020-01-20T10:00:00+08:00",
                  "body": "多家企业恢复口罩生产，日产量提高。"})
    lines.append({"id": "masks-new", "title": "口罩产能继续提高", "published_at": "2020-02-09T10:00:00+08:00",
                  "body": "口罩生产企业复工，日产量继续提高。"})
    seeds = folder / "seeds"
    seeds.mkdir()
    (seeds / "news.jsonl").write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in lines), encoding="utf-8")
    build_index([seeds], folder / "index", None, embed=False, progress=False)
    retriever = Retriever.load(folder / "index")
    yield retriever
    retriever.close()


def test_a_publication_window_restricts_the_answer_to_it(dated_retriever):
    result = dated_retriever.search("昨天北京的天气预报", k=3, now=NOW)
    assert result.found and result.date_range == ("2020-02-09", "2020-02-09") and not result.outside_range
    assert {h.passage.article_id for h in result.hits} == {"weather-2020-02-09"}


def test_an_event_date_raises_that_day_without_restricting(dated_retriever):
    result = dated_retriever.search("2月7日 北京天气预报", k=3, now=NOW)
    assert result.date_range is None  # not a window: nothing was left out
    assert result.hits[0].passage.article_id == "weather-2020-02-07"
    assert len({h.passage.article_id for h in result.hits}) > 1


def test_a_year_question_is_answered_by_an_article_published_the_year_after(dated_retriever):
    result = dated_retriever.search("2019年口罩生产企业日产量", k=3, now=NOW)
    assert result.found and result.date_range is None
    assert result.hits[0].passage.article_id in {"masks", "masks-new"}
    assert all(h.passage.published_at.startswith("2020") for h in result.hits)


def test_a_range_keeps_only_dated_passages_inside_it(dated_retriever):
    result = dated_retriever.search("上周 北京天气预报", k=9, now=NOW)  # 2020-02-03 … 02-09
    assert result.date_range == ("2020-02-03", "2020-02-09")
    ids = {h.passage.article_id for h in result.hits}
    assert ids and ids <= {f"weather-{d}" for d in DAYS[:4]}
    assert "weather-undated" not in ids and "weather-2020-02-10" not in ids


def test_an_empty_window_answers_from_outside_it_and_says_so(dated_retriever):
    later = datetime(2020, 2, 20, 9, 0)
    result = dated_retriever.search("昨天北京的天气预报", k=3, now=later)
    assert result.found and result.outside_range
    assert result.date_range == ("2020-02-19", "2020-02-19")
    assert all(not (h.passage.published_at or "").startswith("2020-02-19") for h in result.hits)
    assert result.hits[0].passage.title == "天气预报"
    nothing = dated_retriever.search("昨天 量子计算机芯片", now=later)
    assert not nothing.found and nothing.date_range == ("2020-02-19", "2020-02-19")


@pytest.mark.parametrize("dated, plain", [
    ("2020年13月的口罩生产日产量", "口罩生产日产量"),
    ("2020年2月30日的口罩生产日产量", "口罩生产日产量"),
    ("二〇二〇年二月九日口罩生产日产量", "口罩生产日产量"),
    ("最近一百天的口罩生产日产量", "口罩生产日产量"),
    ("２０１９年口罩生产日产量", "口罩生产日产量"),
])
def test_a_date_phrase_valid_or_not_is_not_searched_for(dated_retriever, dated, plain):
    from index.search.query import prepare

    assert prepare(dated, NOW).words == prepare(plain, NOW).words == ["口罩", "生产", "日产量"]
    assert dated_retriever.search(dated, k=3, now=NOW).found and dated_retriever.search(plain, k=3, now=NOW).found


def test_newest_first_for_zuixin_and_plain_search_without_now(dated_retriever):
    recent = dated_retriever.search("最新 口罩 生产 日产量", k=2, now=NOW)
    assert recent.found and recent.date_range is None
    assert recent.hits[0].passage.article_id == "masks-new"
    assert [h.rank for h in recent.hits] == [1, 2]
    plain = dated_retriever.search("北京天气预报", k=9)  # no `now`: no time handling, undated included
    assert plain.date_range is None
    assert "weather-undated" in {h.passage.article_id for h in plain.hits}
    same = dated_retriever.search("北京天气预报", k=9, now=NOW)  # no time words: the same answer
    assert [h.passage.id for h in same.hits] == [h.passage.id for h in plain.hits]


# --- the bot says which dates it searched ------------------------------------------------------


async def test_the_answer_shows_the_searched_window_and_an_empty_one(make_bot, fake_bot_api, dated_retriever, monkeypatch):
    from telegram import Update

    import bot.handlers
    from tests.fakebotapi import parse_html

    # The bot searches as of the current time: pin it to the evening of 2020-02-08.
    monkeypatch.setattr(bot.handlers, "datetime", _FixedNow(datetime(2020, 2, 8, 20, 0, tzinfo=CHINA)))
    application = make_bot(dated_retriever)
    async with started(application):
        for text in ("昨天 北京天气预报", "2020年2月7日 北京天气预报", "大前天以前 北京天气预报"):
            update = Update.de_json(fake_bot_api.message_update(text), application.bot)
            await application.process_update(update)
    window, event, _ = (parse_html(t)[0] for t in fake_bot_api.texts())
    assert window.startswith("🗓 检索范围：2020-02-07（北京时间）")
    assert "最高气温2度" in window and "最高气温3度" not in window
    assert "检索范围" not in event and "最高气温2度" in event.split("\n\n")[0]


class _FixedNow:
    """Stands in for the datetime class in a module: now() is fixed, everything else is datetime's."""

    def __init__(self, at: datetime):
        self._at = at

    def now(self, tz=None):
        return self._at.astimezone(tz) if tz else self._at

    def __getattr__(self, name):
        return getattr(datetime, name)


async def test_an_empty_window_says_so_before_the_nearest_passages(make_bot, fake_bot_api, dated_retriever, monkeypatch):
    from telegram import Update

    import bot.handlers
    from tests.fakebotapi import parse_html

    monkeypatch.setattr(bot.handlers, "datetime", _FixedNow(datetime(2020, 2, 20, 9, 0, tzinfo=CHINA)))
    application = make_bot(dated_retriever)
    async with started(application):
        update = Update.de_json(fake_bot_api.message_update("昨天 北京天气预报"), application.bot)
        await application.process_update(update)
    [text] = [parse_html(t)[0] for t in fake_bot_api.texts()]
    assert text.startswith("🗓 2020-02-19（北京时间）没有相关报道；最接近的是 2020-02-")
    assert "最高气温" in text


@pytest.mark.parametrize(
    "question, window",
    [
        ("最近两三天的疫情", ("2020-02-08", "2020-02-10")),  # "two or three days": up to three
        ("最近一两天有什么新闻", ("2020-02-09", "2020-02-10")),
        ("近三四个月的经济数据", ("2019-10-14", "2020-02-10")),
        ("过去五六天", ("2020-02-05", "2020-02-10")),
        ("最近十十天", None),  # not a number: ignored
        ("0000年2月的新闻", None),  # no year 0
        ("9999年1月1日的新闻", None),
        ("一二月三日", None),
        ("最近一百天", ("2019-11-03", "2020-02-10")),
        ("最近一百万天", None),
    ],
)
def test_approximate_and_impossible_numbers_are_read_or_ignored_never_raised(question, window):
    tq = parse_time_query(question, NOW)
    assert (None if tq.window is None else tuple(d.isoformat() for d in tq.window)) == window


def test_event_dates_and_windows_are_told_apart():
    tq = parse_time_query("昨天公布的2019年粮食产量", NOW)
    assert tq.window == (date(2020, 2, 9), date(2020, 2, 9))
    assert tq.event == (date(2019, 1, 1), date(2019, 12, 31))
    assert date_mentions(tq) == ("2019年",)
    assert date_mentions(parse_time_query("二月九号的天气", NOW)) == ("2月9日", "2月9号")
