"""The bot's pure formatting: answers, headlines, articles, escaping, button state."""

from __future__ import annotations

import re

import pytest

from bot import formatting as fmt
from bot.answers import Answer, AnswerStore
from index.search.rank import drop_redundant_headlines
from bot.console import html_to_text
from index.schema import HEADLINE, PARAGRAPH, Article, Headline, Hit, Passage
from tests.fakebotapi import parse_html

TITLE = "【央视快评】筑牢基层社区疫情防控的严密防线"
WHEN = "2020-02-09T23:26:08+08:00"


def passage(pid, text, *, article="a1", position=1, kind=PARAGRAPH, title=TITLE, url=None, tag=None, when=WHEN):
    return Passage(pid, article, position, kind, text, title, when, "观察者网", url, tag)


def hit(rank, p, best=None):
    return Hit(rank, 1.0 / rank, p, best if best is not None else p.text)


def plain(html: str) -> str:
    text, problems = parse_html(html)
    assert problems == [], problems
    return text


# --- answers -----------------------------------------------------------------------------------


def test_quote_passage_bolds_the_best_sentence_and_escapes():
    html = fmt.quote_passage("甲说：a<b。乙&丙。", "乙&丙。")
    assert html == "<blockquote>甲说：a&lt;b。<b>乙&amp;丙。</b></blockquote>"


def test_quote_passage_without_a_matching_sentence_has_no_bold():
    assert fmt.quote_passage("正文。", "别的句子。") == "<blockquote>正文。</blockquote>"


def test_format_hits_groups_passages_of_one_article_under_one_title():
    hits = [
        hit(1, passage(3, "第三段。", position=3)),
        hit(2, passage(9, "另一篇。", article="a2", title="另一篇文章", url="https://e.x/a?b=1&c=2")),
        hit(3, passage(1, "第一段。", position=1)),
    ]
    [html] = fmt.format_hits(hits)
    text = plain(html)
    assert text.count(TITLE) == 1 and text.count("另一篇文章") == 1
    # The best article first; within it, passages in article order, then the attribution.
    assert text.index("第一段") < text.index("第三段") < text.index(TITLE) < text.index("另一篇。")
    assert "2020-02-09 23:26 · 观察者网" in text
    assert '<a href="https://e.x/a?b=1&amp;c=2">原文链接</a>' in html
    assert html.count("<blockquote>") == 3
    assert "原文链接" not in html.split("另一篇。")[0]  # no url, no link


def test_format_hits_shows_a_lone_headline_once():
    h = passage(7, "湖北疫情指挥部:新型冠状病毒属于SARS冠状病毒", article=None, kind=HEADLINE,
                title="湖北疫情指挥部:新型冠状病毒属于SARS冠状病毒", tag="新冠肺炎抗疫战", position=0)
    [html] = fmt.format_hits([hit(1, h)])
    assert plain(html).count("湖北疫情指挥部") == 1
    assert "新冠肺炎抗疫战" in html


def test_drop_redundant_headlines_keeps_lone_headlines():
    own = passage(1, TITLE, kind=HEADLINE, position=0)
    para = passage(2, "正文。")
    other = passage(3, "别的标题", article=None, kind=HEADLINE, title="别的标题")
    kept = drop_redundant_headlines([hit(1, own), hit(2, para), hit(3, other)])
    assert [h.passage.id for h in kept] == [2, 3]


def test_format_not_found_escapes_the_question_and_lists_headlines():
    heads = [Headline("标题一", "2020-02-09T21:06:00+08:00", "新冠肺炎抗疫战"), Headline("标题二", None)]
    [html] = fmt.format_not_found("<b>巴西</b> & 足球", heads)
    text = plain(html)
    assert "“<b>巴西</b> & 足球”" in text
    assert "• 2020-02-09 21:06  标题一〔新冠肺炎抗疫战〕" in text
    assert "• 时间不详  标题二" in text


def test_format_not_found_shortens_a_huge_question():
    [html] = fmt.format_not_found("问" * 10_000, [])
    assert len(html) < 300 and "…" in html


def test_answer_keyboard_data_fits_64_bytes():
    markup = fmt.answer_keyboard("ab12cd34", 999, [(0, "很长的标题" * 20), (1, "另一篇")])
    buttons = [b for row in markup.inline_keyboard for b in row]
    assert [b.callback_data for b in buttons] == ["more:ab12cd34:999", "full:ab12cd34:0", "full:ab12cd34:1"]
    assert all(len(b.callback_data.encode()) <= 64 for b in buttons)
    assert buttons[1].text.startswith("全文：") and len(buttons[1].text) <= 16
    assert fmt.answer_keyboard("k", None, []) is None
    with pytest.raises(ValueError):
        fmt.answer_keyboard("k" * 60, 1, [])


# --- headlines, articles, help -----------------------------------------------------------------


def test_headline_list_escapes_and_links():
    heads = [Headline("A&B <新闻>", "2020-02-09T23:16:00+08:00", None, url="https://e.x/1")]
    [html] = fmt.headline_list(heads, keyword="新闻")
    assert html.startswith("含“新闻”的最新 1 条标题：")
    assert '<a href="https://e.x/1">A&amp;B &lt;新闻&gt;</a>' in html
    assert fmt.headline_list([], keyword="<x>") == ["没有找到含“&lt;x&gt;”的标题。"]


def test_format_article_splits_a_long_article_between_paragraphs():
    paragraphs = [f"第{i}段。" + "内容" * 400 + "。" for i in range(12)]
    messages = fmt.format_article(Article("a1", "标题&", paragraphs, WHEN, "来源", "https://e.x"))
    assert len(messages) > 1
    assert all(len(m) <= fmt.MAX_MESSAGE_CHARS for m in messages)
    assert messages[0].startswith("<b>标题&amp;</b>\n2020-02-09 23:26 · 来源 · <a href=")
    texts = [plain(m) for m in messages]
    assert all(any(t.startswith(f"第{i}段") for t in texts) or f"第{i}段" in "".join(texts) for i in range(12))
    assert all(t.endswith("。") for t in texts)


def test_format_help_mentions_counts_and_dates():
    text = fmt.format_help({"articles": 1, "headlines": 38, "date_min": "2020-02-09T20:51:00+08:00",
                            "date_max": "2020-02-09T23:26:08+08:00"})
    assert "1 篇文章、38 条标题" in text and "2020-02-09 到 2020-02-09" in text
    assert "暂无日期" in fmt.format_help({})


@pytest.mark.parametrize(
    "value, shown",
    [(WHEN, "2020-02-09 23:26"), ("2020-02-09", "2020-02-09"), (None, "时间不详"), ("昨天", "昨天")],
)
def test_format_time(value, shown):
    assert fmt.format_time(value) == shown


# --- button state and the console renderer ------------------------------------------------------


def test_answer_pages_and_articles():
    hits = tuple(hit(i, passage(i, f"段{i}。", article=f"a{i % 2}", title=f"T{i % 2}")) for i in range(1, 6))
    answer = Answer("问", hits, per_page=2)
    assert [h.rank for h in answer.page(0)] == [1, 2] and answer.next_offset(0) == 2
    assert answer.next_offset(4) is None and answer.page(6) == ()
    assert answer.article_ids == ["a1", "a0"]
    assert answer.articles_on_page(2) == [(0, "T1"), (1, "T0")]


def test_answer_store_is_bounded_and_keys_are_short():
    store = AnswerStore(maxsize=2)
    keys = [store.add(Answer(str(i), (), 3)) for i in range(3)]
    assert all(re.fullmatch(r"[0-9a-f]{8}", k) for k in keys)
    assert store.get(keys[0]) is None and store.get(keys[2]).query == "2" and len(store) == 2


def test_html_to_text_indents_quotes_and_shows_links():
    html = '<blockquote>第一行 <b>粗体</b>\n第二行 &amp;</blockquote>\n—— <b>标题</b>\n<a href="https://e.x">原文链接</a>'
    assert html_to_text(html) == "    第一行 粗体\n    第二行 &\n—— 标题\n原文链接 (https://e.x)"
