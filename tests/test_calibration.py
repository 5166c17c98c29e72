"""Per-index calibration and the relevance rule (index.search.calibration, answerability.RelevanceRule): pure parts."""

from __future__ import annotations

import numpy as np

from index.search.answerability import ANSWER, HEDGE, NONE, RelevanceRule
from index.search.calibration import baseline_of, unrelated_questions
from index.search.query import prepare


def unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def test_the_baseline_is_each_passages_own_and_the_chance_level_grows_with_the_index():
    rng = np.random.default_rng(0)
    questions = unit(rng.normal(size=(160, 32)))
    small, big = unit(rng.normal(size=(40, 32))), unit(rng.normal(size=(4000, 32)))
    mean, sd, chance_small, _ = baseline_of(questions, small)
    cos = questions @ small.T
    np.testing.assert_allclose(mean, cos.mean(0), rtol=1e-5)
    np.testing.assert_allclose(sd, cos.std(0), rtol=1e-4)
    # The best of 4,000 passages stands out further by chance than the best of 40: the level is the index's.
    _, _, chance_big, _ = baseline_of(questions, big)
    assert chance_big > chance_small + 1.0


def test_the_chance_level_is_measured_out_of_sample_and_blocks_change_nothing(monkeypatch):
    from index.search import calibration

    rng = np.random.default_rng(1)
    questions, passages = unit(rng.normal(size=(50, 16))), unit(rng.normal(size=(300, 16)))
    whole = baseline_of(questions, passages)
    monkeypatch.setattr(calibration, "BLOCK", 7)
    blocked = baseline_of(questions, passages)
    np.testing.assert_allclose(whole[0], blocked[0], rtol=1e-6)
    assert abs(whole[2] - blocked[2]) < 1e-9 and abs(whole[3] - blocked[3]) < 1e-9
    # In sample, a question's best z against a baseline that includes it would be lower than out of sample.
    cos = questions @ passages.T
    in_sample = ((cos - cos.mean(0)) / cos.std(0)).max(1).mean()
    assert whole[2] > in_sample


RULE = RelevanceRule(coverage_weight=2.0, headline_penalty=1.0, quote_at=1.2, confident_at=1.8, related_at=0.0)


def test_relevance_adds_coverage_and_takes_off_for_a_bare_headline():
    assert RULE.relevance(1.0, 0.5, False) == 2.0
    assert RULE.relevance(1.0, 0.5, True) == 1.0


def test_the_best_candidate_decides_and_its_neighbours_above_chance_come_along():
    assert RULE.verdicts([1.1, 0.5, -1.0]) == [NONE, NONE, NONE]  # nothing clears the quote line: not found
    assert RULE.verdicts([0.5, 1.5, -0.2]) == [HEDGE, HEDGE, NONE]  # answered under the hedge
    assert RULE.verdicts([2.0, 0.3, -0.5]) == [ANSWER, HEDGE, NONE]  # answered; a neighbour above chance shown too
    assert RULE.verdicts([]) == []


def test_the_shipped_unrelated_questions_are_read_and_none_is_empty_after_preparing():
    questions = unrelated_questions()
    assert len(questions) >= 150
    assert all(prepare(q).text for q in questions)
    offtopic = (__import__("pathlib").Path(__file__).resolve().parents[1] / "bench" / "offtopic_questions.txt")
    assert not set(questions) & set(offtopic.read_text(encoding="utf-8").split())  # never an evaluation line


def test_a_question_of_function_words_only_has_no_topic():
    for q in ("的的的的", "是", "吗", "什么", "啊啊啊"):
        assert not prepare(q).topical, q
    for q in ("社区防控要突出什么", "你好", "口罩"):
        assert prepare(q).topical, q
