"""The seed article asked as a newcomer would, through the terminal chat, with the real model (issue #20).

tests/data/seed_questions.jsonl: 30 hand-written questions paraphrasing the seed article (each with
a distinctive substring of the paragraph that answers it), 20 off-topic ones and 5 stopword-only
inputs. The seed index is also one of the leave-one-source-out sources the decision's lines were
chosen on (docs/answerability.md): the floors below are what the chosen rule gives here, the
issue's targets beside them where they are not met yet.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from bot.app import build_application
from bot.config import BotConfig
from bot.console import CONSOLE_TOKEN, ConsoleRequest, run_console
from bot.newsindex import NewsIndex
from index.search.query import prepare

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = [json.loads(line) for line in (ROOT / "tests" / "data" / "seed_questions.jsonl").read_text(
    encoding="utf-8").splitlines() if line.strip()]
NOT_FOUND = "抱歉，没有找到"
HEDGE = "不确定是否回答了你的问题"


@pytest.fixture(scope="module")
def replies(seed_retriever) -> dict[str, str]:
    """Each question's reply as the terminal chat printed it."""
    import asyncio

    out = io.StringIO()
    request = ConsoleRequest(out)
    application = build_application(BotConfig(token=CONSOLE_TOKEN, passages=3, questions_per_minute=0),
                                    NewsIndex(seed_retriever), request=request, get_updates_request=request)
    lines = io.StringIO("".join(q["question"] + "\n" for q in QUESTIONS))
    asyncio.run(run_console(application, lines, out))
    blocks = ("\n" + out.getvalue()).split("\n> ")[1:]
    assert [b.split("\n", 1)[0] for b in blocks] == [prepare(q["question"]).question for q in QUESTIONS]
    return {q["question"]: block for q, block in zip(QUESTIONS, blocks)}


def answerable():
    return [q for q in QUESTIONS if q["answerable"]]


def test_every_answerable_question_is_quoted_and_most_without_the_hedge(replies, seed_retriever):
    refused = [q["question"] for q in answerable() if NOT_FOUND in replies[q["question"]]]
    hedged = [q["question"] for q in answerable() if HEDGE in replies[q["question"]]]
    with_paragraph = [q["question"] for q in answerable()
                      if any(s in h.passage.text for h in seed_retriever.search(q["question"], k=3).hits
                             for s in q["contains"])]
    # Issue #20's targets: 30 of 30 quoted with their paragraph, at least 25 without the hedge. Measured
    # (docs/answerability.md): 29 quoted, 28 of them without the hedge, 26 with the answering paragraph
    # among the three quoted (on the code before this decision: 29 of 30 refused).
    assert len(answerable()) == 30
    assert len(refused) <= 1, refused
    assert len(hedged) <= 4, hedged
    assert len(with_paragraph) >= 25, sorted(set(q["question"] for q in answerable()) - set(with_paragraph))


def test_off_topic_questions_are_refused(replies):
    off_topic = [q for q in QUESTIONS if not q["answerable"] and q.get("style") != "stopwords"]
    answered = [q["question"] for q in off_topic if NOT_FOUND not in replies[q["question"]]]
    assert len(off_topic) == 20
    assert len(answered) <= 1, answered  # the target: 0
    # The one answered today: 明天出门要不要带伞？, matched to the headline 明天上班怎么去最安全 (明天, 出门/上班).


def test_stopword_only_inputs_are_never_answered_with_confidence(replies):
    stopwords = [q for q in QUESTIONS if q.get("style") == "stopwords"]
    assert {q["question"] for q in stopwords} >= {"的的的的", "是"}
    for q in stopwords:
        reply = replies[q["question"]]
        assert "全文" not in reply or HEDGE in reply, (q["question"], reply[:80])  # no quote, or one under the hedge


def test_confident_passages_are_quoted_before_hedged_ones(seed_retriever):
    # Fused, a hot-list headline just over the quote line ("“武汉战疫”发起总攻…") came first and the answering
    # paragraph third; the confident passages now come first: a related headline, then the paragraph.
    hits = seed_retriever.search("农村能不能随便挖断道路来防疫？", k=3).hits
    texts = [h.passage.text for h in hits]
    assert "武汉战疫" not in texts[0] and any("断路封道" in t for t in texts[:2]), [t[:30] for t in texts]
