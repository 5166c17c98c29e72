"""index.search.rank's fusion of the lexical and dense legs, tested directly (pure functions, no index)."""

from __future__ import annotations

import numpy as np
import pytest

from index.search.rank import fuse


def test_lexical_only_when_the_dense_leg_has_no_weight_or_no_vectors():
    lexical = np.array([2.0, 8.0, 4.0])
    dense = np.array([0.9, 0.1, 0.5])
    assert fuse(lexical, dense, np.ones(3, bool), 0.0).tolist() == [0.25, 1.0, 0.5]
    assert fuse(lexical, dense, np.zeros(3, bool), 0.7).tolist() == [0.25, 1.0, 0.5]


def test_a_convex_mix_of_the_normalised_legs():
    lexical = np.array([0.0, 5.0, 10.0])  # normalised by the top score: 0, 0.5, 1
    dense = np.array([0.8, 0.6, 0.7])  # min-max normalised: 1, 0, 0.5
    fused = fuse(lexical, dense, np.ones(3, bool), 0.5)
    assert fused == pytest.approx([0.5, 0.25, 0.75])
    # The dense leg alone decides when it has all the weight.
    assert fuse(lexical, dense, np.ones(3, bool), 1.0) == pytest.approx([1.0, 0.0, 0.5])


def test_a_passage_without_a_vector_keeps_its_lexical_score_for_the_dense_part():
    lexical = np.array([10.0, 4.0, 6.0])
    dense = np.array([0.2, 0.0, 0.9])  # the 0.0 is a placeholder: passage 1 has no vector yet
    has_vector = np.array([True, False, True])
    fused = fuse(lexical, dense, has_vector, 0.6)
    assert fused[1] == pytest.approx(0.4)  # 0.4 · lexical + 0.6 · lexical: neither pushed up nor down
    assert fused == pytest.approx([0.4 * 1.0 + 0.6 * 0.0, 0.4, 0.4 * 0.6 + 0.6 * 1.0])


def test_degenerate_scores_do_not_divide_by_zero():
    assert fuse(np.zeros(3), np.zeros(3), np.ones(3, bool), 0.5).tolist() == [0.5, 0.5, 0.5]
    assert fuse(np.array([]), np.array([]), np.array([], bool), 0.5).tolist() == []
    # All dense scores equal: each vector counts as the best.
    assert fuse(np.array([1.0, 2.0]), np.array([0.3, 0.3]), np.ones(2, bool), 0.5) == pytest.approx([0.75, 1.0])


def test_the_order_follows_the_weighted_legs():
    lexical = np.array([10.0, 2.0])  # passage 0 wins on words
    dense = np.array([0.1, 0.9])  # passage 1 wins on meaning
    assert np.argmax(fuse(lexical, dense, np.ones(2, bool), 0.2)) == 0
    assert np.argmax(fuse(lexical, dense, np.ones(2, bool), 0.8)) == 1
