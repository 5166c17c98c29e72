"""The answerability model, the date evidence and the prepared question: pure functions, no index."""

from __future__ import annotations

from datetime import date, datetime
from types import SimpleNamespace

import numpy as np
import pytest

from index.search import answerability as ans
from index.search import rank
from index.search.query import MAX_QUESTION_CHARS, prepare


def test_logistic_fit_learns_which_feature_separates_and_the_verdicts_follow_the_lines():
    rng = np.random.default_rng(0)
    x = np.column_stack([rng.normal(size=400), rng.normal(size=400)])
    y = (x[:, 0] > 0).astype(float)  # only the first feature decides
    weights, bias = ans.fit_logistic(x, y, l2=0.1)
    assert weights[0] > 5 * abs(weights[1])
    model = ans.AnswerModel({"cosine": weights[0], "coverage": weights[1]}, bias, answer_at=0.7, hedge_at=0.3)
    ev = lambda cosine: ans.Evidence(cosine, 0.0, 0.0, 0.0, 0.0, 0.0)  # noqa: E731
    p_low, p_mid, p_high = (model.probability(ev(v)) for v in (-2.0, 0.0, 2.0))
    assert p_low < 0.3 < p_mid < 0.7 < p_high
    assert [model.verdict(p) for p in (p_low, p_mid, p_high)] == [ans.NONE, ans.HEDGE, ans.ANSWER]


def test_a_feature_without_a_weight_does_not_count():
    model = ans.AnswerModel({"coverage": 4.0}, -2.0, 0.5, 0.2)
    a = ans.Evidence(0.1, -3.0, 0.9, 0.0, 5.0, 5.0)
    b = ans.Evidence(0.9, 8.0, 0.9, 2.0, 0.0, 0.0)
    assert model.probability(a) == model.probability(b)


def test_leg_ranks_put_absent_candidates_last_and_self_score_counts_repeats():
    ranks = ans.leg_ranks(np.array([0.2, 0.9, 0.5, 0.0]), np.array([True, True, True, False]))
    assert ranks.tolist() == [2, 0, 1, 4]
    idf = {"疫情": 2.0, "的": 0.1}.get
    once = ans.bm25_self_score({"疫情": 1, "的": 1}, idf, 1.5)
    twice = ans.bm25_self_score({"疫情": 2, "的": 1}, idf, 1.5)
    assert once == pytest.approx(2.0 / 2.5 + 0.1 / 2.5) and twice > once


def test_date_evidence_only_adds_and_prefers_a_mention_or_the_span():
    config = SimpleNamespace(date_mention_bonus=0.2, date_published_bonus=0.2, date_after_bonus=0.1, date_after_days=400)
    start, end = date(2019, 1, 1).toordinal(), date(2019, 12, 31).toordinal()
    undated = np.iinfo(np.int32).min
    days = np.array([date(2019, 6, 1).toordinal(), date(2020, 1, 17).toordinal(), date(2018, 5, 1).toordinal(),
                     date(2021, 6, 1).toordinal(), undated, undated])
    mentions = np.array([False, False, False, False, True, False])
    bonus = rank.date_bonus(days, mentions, start, end, config)
    assert bonus.tolist() == pytest.approx([0.2, 0.1, 0.0, 0.0, 0.2, 0.0])
    assert (bonus >= 0).all()


def test_a_prepared_question_is_capped_and_loses_its_time_words_only_with_a_reference_time():
    long = prepare("疫情" * 2000)
    assert len(long.question) == MAX_QUESTION_CHARS
    plain = prepare("昨天北京的天气预报")
    assert plain.time is None and "昨天" in plain.text
    dated = prepare("昨天北京的天气預報", datetime(2020, 2, 10, 20))
    assert dated.text == "北京的天气预报" and dated.time.window == (date(2020, 2, 9),) * 2
    assert "天气预报" in dated.words and "的" not in dated.words
    assert prepare("2019年粮食产量", datetime(2020, 2, 10)).mentions == ("2019年",)
    assert prepare("  ？？ ").empty
