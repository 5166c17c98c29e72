"""bot.analysis.sentence_picker: the digest's one sentence per article.

TestRepresentativeSentence moved here from test_summarize.py with the picker (bot/summarize.py ->
bot/sentence_picker.py).
"""

from __future__ import annotations

from bot.analysis.excerpts import units
from bot.analysis.sentence_picker import article_sentences, representative_sentence
from index.ingest.split import split_sentences


class TestRepresentativeSentence:
    def test_prefers_the_central_sentence_over_the_first(self):
        # The third sentence shares a topic with every other one; the first shares none.
        paragraphs = [
            "记者今天上午从有关部门获悉以下情况。今年高校毕业生人数创新高。",
            "稳就业政策重点支持高校毕业生，鼓励企业扩大招聘岗位。",
            "多地企业招聘会陆续举行，招聘岗位明显增加。各地将加快落实稳就业政策。",
        ]
        assert representative_sentence(paragraphs) == "稳就业政策重点支持高校毕业生，鼓励企业扩大招聘岗位。"

    def test_cuts_datelines_and_handles_edge_cases(self):
        assert representative_sentence([]) == ""
        assert representative_sentence(["央视网消息（新闻联播）：新年第一天，天安门广场举行升国旗仪式。"]) == (
            "新年第一天，天安门广场举行升国旗仪式。"
        )

    def test_returns_a_sentence_of_the_article(self):
        paragraphs = ["第一段说了一件事。第二句话补充细节！", "第二段又讲了同一件事；还有结尾"]
        assert representative_sentence(paragraphs) in {
            "第一段说了一件事。", "第二句话补充细节！", "第二段又讲了同一件事；", "还有结尾"
        }


# --- one sentence splitter: the bot's sentences are index.ingest.split's --------------------------------


def test_article_sentences_are_the_index_sentences_of_each_paragraph():
    paragraphs = ["他说：“我年轻，我顶上！”不料大年初一，他倒下了。", "第二段；还有结尾", ""]
    assert article_sentences(paragraphs) == [
        "他说：“我年轻，我顶上！”", "不料大年初一，他倒下了。", "第二段；", "还有结尾",
    ]
    assert article_sentences(paragraphs) == [s for p in paragraphs for s in split_sentences(p)]


def test_an_ellipsis_does_not_end_a_sentence():
    # The index's rule; the bot's old regex also cut here (47 of 37,086 xwlb/dxy paragraphs).
    assert article_sentences(["全国14地新增确诊病例为0……抗击疫情的9个好消息。"]) == [
        "全国14地新增确诊病例为0……抗击疫情的9个好消息。"
    ]


def test_summary_units_of_a_long_message_are_index_sentences_cut_at_commas_when_long():
    sentences = ["今天的会议主要讨论三件事情，第一是预算。", "第二是招聘计划怎么安排？", "第三是下个季度的目标！"]
    long_message = "".join(sentences) * 3  # over units()'s 80 characters: cut into sentences
    assert [u.text for u in units([long_message])] == split_sentences(long_message)
    run_on = "，".join(["我们先把这个方案再过一遍"] * 12) + "。"  # one sentence of 156 characters
    pieces = [u.text for u in units([run_on], max_chars=60)]
    assert len(pieces) > 1 and all(len(p) <= 60 for p in pieces) and "".join(pieces) == run_on
