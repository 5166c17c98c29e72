"""index.ingest.split, tested directly: sentences, long paragraphs cut at sentence ends, articles into passages."""

from __future__ import annotations

from index.schema import HEADLINE, PARAGRAPH, Article
from index.ingest.split import chunk_paragraph, split_article, split_sentences


def test_sentences_end_at_chinese_and_latin_marks_keeping_them():
    assert split_sentences("第一句。第二句！第三句？第四句；fifth; sixth! seventh?") == [
        "第一句。", "第二句！", "第三句？", "第四句；", "fifth;", "sixth!", "seventh?",
    ]


def test_closing_quotes_and_brackets_stay_with_their_sentence():
    assert split_sentences("他说：“我年轻，我顶上！”不料倒下了。（完）") == [
        "他说：“我年轻，我顶上！”", "不料倒下了。", "（完）",
    ]
    assert split_sentences("真的吗？！」好。") == ["真的吗？！」", "好。"]


def test_line_breaks_end_a_sentence_and_blanks_are_dropped():
    assert split_sentences("标题一行\n  正文第一句。\n\n最后没有句号") == ["标题一行", "正文第一句。", "最后没有句号"]
    assert split_sentences("") == [] and split_sentences(" \n ") == []


def test_an_ellipsis_and_a_comma_do_not_end_a_sentence():
    assert split_sentences("病例为0……好消息，还有更多。") == ["病例为0……好消息，还有更多。"]


def test_a_long_paragraph_is_cut_at_sentence_ends_into_parts_that_fit():
    sentence = "这是一句十个字的话。"
    paragraph = sentence * 7
    parts = chunk_paragraph(paragraph, 25)
    assert parts == [sentence * 2] * 3 + [sentence]
    assert chunk_paragraph(paragraph, len(paragraph)) == [paragraph]
    # One sentence longer than the limit is kept whole: a passage never ends mid-sentence.
    assert chunk_paragraph("很" * 40 + "。" + "短句。", 20) == ["很" * 40 + "。", "短句。"]


def test_an_article_is_its_headline_then_its_paragraph_passages():
    article = Article(
        id="a1", title="标题", paragraphs=["第一段。", "第二段第一句。第二段第二句。"],
        published_at="2020-02-09T08:00:00+08:00", source="新闻联播", url="https://example.com/a1",
    )
    drafts = split_article(article, max_chars=10)
    assert [(d.position, d.kind, d.text) for d in drafts] == [
        (0, HEADLINE, "标题"),
        (1, PARAGRAPH, "第一段。"),
        (2, PARAGRAPH, "第二段第一句。"),
        (3, PARAGRAPH, "第二段第二句。"),
    ]
    # A whole paragraph is searched as it is; a part of a cut one carries its headline as context.
    assert [d.index_text for d in drafts] == ["标题", "第一段。", "标题\n第二段第一句。", "标题\n第二段第二句。"]
    assert {(d.article_id, d.title, d.published_at, d.source, d.url) for d in drafts} == {
        ("a1", "标题", "2020-02-09T08:00:00+08:00", "新闻联播", "https://example.com/a1")
    }
