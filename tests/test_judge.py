"""The judge (index.search.judge): only the features the model weighs, the same verdicts as every feature gives."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from index import RetrievalConfig, Retriever, build_index
from tests.hashencoder import HashEncoder
from index.search.judge import Judge
from index.search.query import prepare
from index.store import stored as stored_module
from tests.helpers import hash_retrieval, seed_folder

QUESTIONS = ["社区防控要突出什么", "第3号新闻讲了什么", "第二段讲了别的事", "巴西足球比赛的比分是多少"]


@pytest.fixture
def retriever(tmp_path):
    build_index([seed_folder(tmp_path)], tmp_path / "idx", HashEncoder(), progress=False)
    r = Retriever.load(tmp_path / "idx", HashEncoder(), hash_retrieval(RetrievalConfig()))
    yield r
    r.close()


class CountingBackground:
    """The background sample, counting the questions multiplied with it."""

    def __init__(self, vectors: np.ndarray):
        self.vectors, self.products = vectors, 0

    def __matmul__(self, qvec):
        self.products += 1
        return self.vectors @ qvec


def judge_with(r: Retriever, config: RetrievalConfig) -> tuple[Judge, CountingBackground]:
    background = CountingBackground(r._legs.background(1024))
    return Judge(config, r.stored.lexical, r.stored.tokens_of, background), background


@pytest.mark.parametrize("weights", [None, {"cos_z": 0.5, "coverage": 3.0, "lex_rank": -0.4, "numbers": 1.0}])
def test_assess_gives_what_the_model_gives_on_all_features(retriever, weights):
    config = retriever.config if weights is None else dataclasses.replace(retriever.config, answer_weights=weights)
    judge, _ = judge_with(retriever, config)
    for q in QUESTIONS:
        pq = prepare(q)
        qvec = retriever.query_vector(pq)
        ranked = retriever.rank(pq, qvec=qvec)[:12]
        assessed = judge.assess(pq, ranked, qvec)
        explained = judge.explain(pq, ranked, qvec)
        assert [a.candidate for a in assessed] == ranked
        for a, (c, evidence) in zip(assessed, explained):
            assert evidence is not None  # every seed passage has a vector
            assert a.probability == judge.model.probability(evidence)
            assert a.verdict == judge.model.verdict(a.probability)


def test_the_background_product_runs_only_when_a_weight_uses_cos_z(retriever):
    pq = prepare("社区防控要突出什么")
    qvec = retriever.query_vector(pq)
    ranked = retriever.rank(pq, qvec=qvec)[:10]
    judge, background = judge_with(retriever, retriever.config)  # coverage and bm25_ratio only
    judge.assess(pq, ranked, qvec)
    assert background.products == 0
    judge.explain(pq, ranked, qvec)  # calibration wants every feature
    assert background.products == 1
    judge, background = judge_with(retriever, dataclasses.replace(retriever.config, answer_weights={"cos_z": 1.0}))
    judge.assess(pq, ranked, qvec)
    assert background.products == 1  # once per question, not per candidate


def test_a_title_is_cut_once_for_all_its_passages(retriever, monkeypatch):
    cuts = []
    real = stored_module.tokenize
    monkeypatch.setattr(stored_module, "tokenize", lambda text: cuts.append(text) or real(text))
    stored_module._title_tokens.cache_clear()
    rows = range(len(retriever.passages))
    first = [retriever.stored.tokens_of(r) for r in rows]
    assert [retriever.stored.tokens_of(r) for r in rows] == first
    assert sorted(cuts) == sorted({retriever.passages[r].title for r in rows})


def test_a_passage_without_a_vector_is_judged_by_coverage(retriever):
    pq = prepare("社区防控要突出什么")
    ranked = retriever.rank(pq, dense=False)[:5]
    assessed = retriever.judge.assess(pq, ranked, None)
    line = retriever.config.min_score_lexical
    assert assessed and all(a.verdict == ("answer" if a.probability >= line else "none") for a in assessed)
    assert assessed[0].verdict == "answer"
