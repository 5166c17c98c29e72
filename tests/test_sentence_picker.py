"""bot.sentence_picker: the digest's one sentence per article.

TestRepresentativeSentence moved here from test_summarize.py with the picker (bot/summarize.py ->
bot/sentence_picker.py).
"""

from __future__ import annotations

from bot.sentence_picker import representative_sentence


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
