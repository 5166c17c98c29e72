"""bot.analysis.digest: which headlines a digest lists, and how it reads (no Telegram, no model)."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.analysis.digest import build_digest, headline_time
from bot.digest_format import format_digest
from index.schema import Article, Headline
from tests.fakebotapi import parse_html

NOW = datetime(2024, 5, 2, 12, 0, tzinfo=UTC)


class FakeIndex:
    """latest() and article() like index.Retriever: newest first, undated last."""

    def __init__(self, headlines: list[Headline], articles: dict[str, Article] | None = None):
        self.headlines = headlines
        self.articles = articles or {}

    def latest(self, n: int = 10) -> list[Headline]:
        dated = sorted((h for h in self.headlines if h.published_at), key=headline_time, reverse=True)
        return (dated + [h for h in self.headlines if not h.published_at])[:n]

    def article(self, article_id: str) -> Article | None:
        return self.articles.get(article_id)


def h(title: str, when: str | None, article_id: str | None = None) -> Headline:
    return Headline(title, when, article_id=article_id)


def test_window_ends_at_the_newest_dated_headline_not_at_the_clock():
    index = FakeIndex([
        h("最新", "2020-02-09T23:00:00+08:00"),
        h("一天内", "2020-02-09T01:00:00+08:00"),
        h("一天多以前", "2020-02-08T22:00:00+08:00"),
        h("没有时间", None),
    ])
    digest = build_digest(index, hours=24, max_items=10)
    assert [i.headline.title for i in digest.items] == ["最新", "一天内"]
    assert digest.end == datetime.fromisoformat("2020-02-09T23:00:00+08:00")


def test_max_items_repeated_titles_and_naive_times():
    index = FakeIndex([h(f"标题{n}", f"2024-05-02T0{n}:00:00") for n in range(1, 8)] + [h("标题7", "2024-05-02T06:30:00")])
    digest = build_digest(index, hours=24, max_items=3)
    assert [i.headline.title for i in digest.items] == ["标题7", "标题6", "标题5"]
    # A time without an offset is China time.
    assert headline_time(h("x", "2024-05-02T08:00:00")) == datetime(2024, 5, 2, 0, 0, tzinfo=UTC)


def test_only_headlines_with_an_article_get_an_extract():
    article = Article(
        "a1", "江城防汛工程全面加固",
        ["新华社武汉5月1日电 江城防汛工程全面加固，堤坝加固长度达到十公里。", "天气晴。", "防汛工程的堤坝加固今年完成。"],
    )
    index = FakeIndex([h("江城防汛工程全面加固", "2024-05-02T10:00:00+08:00", "a1"), h("别的新闻", "2024-05-02T09:00:00+08:00")],
                      {"a1": article})
    first, second = build_digest(index, 24, 10).items
    assert first.extract == "江城防汛工程全面加固，堤坝加固长度达到十公里。"  # the dateline is cut
    assert second.extract == ""


def test_format_says_when_the_newest_news_is_old_and_escapes_html():
    index = FakeIndex([h("<特稿> & 评论", "2020-02-09T23:26:00+08:00")])
    [message] = format_digest(build_digest(index, 24, 10), NOW)
    text, problems = parse_html(message)
    assert not problems
    assert "<特稿> & 评论" in text
    assert "新闻库最新的新闻是 2020-02-09 的" in text
    fresh = FakeIndex([h("今天的新闻", "2024-05-02T19:00:00+08:00")])
    assert "新闻库最新" not in format_digest(build_digest(fresh, 24, 10), NOW)[0]


def test_an_index_without_dated_headlines_gets_one_line():
    assert format_digest(build_digest(FakeIndex([h("没有时间", None)]), 24, 10), NOW) == [
        "新闻库里还没有带日期的标题，暂时没有新闻摘要。"
    ]
