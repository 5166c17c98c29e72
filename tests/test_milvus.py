"""The Milvus backend on Milvus Lite: build, add, remove, embed and search give what the local backend gives.

Skipped unless the optional packages are installed (`pip install '.[milvus]'`); CI installs `.[dev]` only.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pymilvus", exc_type=ImportError)
pytest.importorskip("milvus_lite", exc_type=ImportError)
pytest.importorskip("jieba")

from index import IndexConfig, ModelMismatchError, RetrievalConfig, Retriever, add_to_index, build_index, embed_missing, remove_from_index  # noqa: E402
from index import store  # noqa: E402
from index.store import milvus
from tests.hashencoder import HashEncoder
from tests.helpers import hash_retrieval, jsonl, numbered_article, seed_folder  # noqa: E402
from index.chinatime import CHINA_TZ  # noqa: E402

QUESTIONS = ["社区防控要突出什么", "第3号新闻讲了什么", "第二段讲了别的事", "新冠肺炎疫情防控", "天气怎么样"]


@pytest.fixture
def seeds(tmp_path):
    return seed_folder(tmp_path)


def configs(tmp_path, enc):
    local = IndexConfig(model=enc.name, passage_vectors="fp32")  # the hash encoder makes no int8 vectors
    return local, dataclasses.replace(local, backend="milvus", milvus_uri=str(tmp_path / "milvus.db"),
                                      milvus_collection="t")


def _scoring(legs):
    rows, lex, cos, has = legs
    keep = (lex > 0) | (cos > 1e-6)
    return rows[keep], lex[keep], cos[keep], has[keep]


def same_answers(idx: Path, enc, cfg: IndexConfig, now: datetime | None = None) -> tuple[Retriever, Retriever]:
    """Both backends on one version: the same legs (within float error) and the same answers."""
    config = hash_retrieval(RetrievalConfig())  # the fake encoder's line (the calibrated rule reads e5 cosines)
    local, remote = Retriever.load(idx, enc, config), Retriever.load(idx, enc, config, index_config=cfg)
    assert remote.vector_index == "milvus" and remote.vectors == local.vectors
    for q in QUESTIONS:
        # Candidates that score on some leg (the hash encoder ties many passages at cosine 0).
        a, b = (_scoring(legs) for legs in (local.legs(q, 20), remote.legs(q, 20)))
        order_a, order_b = np.argsort(a[0]), np.argsort(b[0])
        assert a[0][order_a].tolist() == b[0][order_b].tolist(), q
        # BM25: the same formula and cut; the average length differs by a few tokens in 10^3 (rtol 5e-3).
        np.testing.assert_allclose(a[1][order_a], b[1][order_b], rtol=5e-3, atol=1e-5)
        np.testing.assert_allclose(a[2][order_a], b[2][order_b], rtol=1e-4, atol=1e-5)
        assert a[3][order_a].tolist() == b[3][order_b].tolist()
        ra, rb = local.search(q, now=now), remote.search(q, now=now)
        # The same passages quoted; two within BM25's float error of each other may swap places.
        assert sorted(h.passage.id for h in ra.hits) == sorted(h.passage.id for h in rb.hits), q
        assert (ra.found, ra.confident) == (rb.found, rb.confident)
    return local, remote


def test_build_add_remove_search(seeds, tmp_path):
    enc = HashEncoder()
    _, cfg = configs(tmp_path, enc)
    idx = tmp_path / "idx"
    report = build_index([seeds], idx, enc, cfg, progress=False)
    synced = milvus.read_sync(idx)
    assert synced["inserted"] == report.passages and synced["version"] == store.current_version(idx).name
    same_answers(idx, enc, cfg)

    # Milvus Lite keeps BM25 statistics per segment: a changed collection is rewritten (index.store.milvus).
    extra = jsonl(tmp_path / "extra.jsonl", [numbered_article(9, "全新的一段报道：社区防控要突出重点。")])
    add_to_index([extra], idx, enc, cfg, progress=False)
    synced = milvus.read_sync(idx)
    assert synced["inserted"] == 2 and synced["deleted"] == 0 and synced["rewritten"]
    local, remote = same_answers(idx, enc, cfg)
    n9 = {i for i in range(len(remote.passages)) if remote.passages[i].article_id == "n9"}
    assert remote.rank("全新的一段报道")[0].row in n9

    remove_from_index(["n9"], idx, cfg)
    assert milvus.read_sync(idx)["deleted"] == 2 and milvus.read_sync(idx)["inserted"] == 0
    _, remote = same_answers(idx, enc, cfg)
    assert all(remote.passages[c.row].article_id != "n9" for c in remote.rank("全新的一段报道"))
    assert milvus.MilvusIndex.open(cfg.milvus_uri, "t").client.get_collection_stats("t")["row_count"] \
        == len(remote.passages)


def test_unchanged_rebuild_touches_nothing_and_a_date_window_filters(seeds, tmp_path):
    enc = HashEncoder()
    _, cfg = configs(tmp_path, enc)
    idx = tmp_path / "idx"
    build_index([seeds], idx, enc, cfg, progress=False)
    build_index([seeds], idx, enc, cfg, progress=False)
    assert milvus.read_sync(idx)["inserted"] == milvus.read_sync(idx)["upserted"] == 0
    # "3月3日发布" style windows become a `day` range filter in Milvus.
    now = datetime(2020, 3, 4, 12, tzinfo=CHINA_TZ)
    local, remote = same_answers(idx, enc, cfg, now=now)
    r = remote.search("昨天的新闻讲了什么", now=now)
    assert r.date_range == ("2020-03-03", "2020-03-03")
    assert all(h.passage.published_at.startswith("2020-03-03") for h in r.hits)


def test_lexical_first_then_embed_upserts_vectors(seeds, tmp_path):
    enc = HashEncoder()
    _, cfg = configs(tmp_path, enc)
    idx = tmp_path / "idx"
    report = build_index([seeds], idx, None, cfg, embed=False, progress=False)
    assert report.vectors == 0
    # No vectors yet: the collection does not know the model's dimension, so nothing is mirrored.
    assert milvus.read_sync(idx) == {}
    embed_missing(idx, enc, cfg, progress=False)
    assert milvus.read_sync(idx)["inserted"] == report.passages
    same_answers(idx, enc, cfg)


def test_model_mismatch_is_refused(seeds, tmp_path):
    enc = HashEncoder()
    _, cfg = configs(tmp_path, enc)
    build_index([seeds], tmp_path / "idx", enc, cfg, progress=False)
    other = HashEncoder(32)
    with pytest.raises(ModelMismatchError):
        Retriever.load(tmp_path / "idx", other, index_config=dataclasses.replace(cfg))
    cfg2 = dataclasses.replace(cfg, model=other.name)
    with pytest.raises(ModelMismatchError):
        build_index([seeds], tmp_path / "idx2", other, cfg2, progress=False)  # same collection, other model
    build_index([seeds], tmp_path / "idx2", other, cfg2, rebuild=True, progress=False)  # --rebuild drops it
    assert Retriever.load(tmp_path / "idx2", other, index_config=cfg2).rank("社区防控要突出什么")


def test_milvus_sees_normalized_text(tmp_path):
    """Traditional script and pinyin annotations are folded before Milvus analyzes a passage."""
    assert milvus.search_text("社區(qū)發(fā)生") == "社区发生"


def _cli(config: Path, *args: str) -> str:
    """`python -m index --config CONFIG ARGS…` with the hash fake as its encoder (tests/with_fake_encoder.py), in
    a fresh process (Milvus Lite starts with nothing loaded)."""
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    proc = subprocess.run([sys.executable, "-m", "tests.with_fake_encoder", "index", "--config", str(config), *args],
                          capture_output=True, text=True, cwd=root, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def test_every_operation_syncs_from_a_fresh_process(seeds, tmp_path):
    """add, remove, a second build and milvus-sync each in a new process: the collection is released there."""
    config = tmp_path / "config.toml"
    config.write_text(f'[index]\nseeds = ["{seeds}"]\ndir = "idx"\nmodel = "{HashEncoder.name}"\n'
                      f'backend = "milvus"\nmilvus_uri = "milvus.db"\nmilvus_collection = "t"\n', encoding="utf-8")
    idx = tmp_path / "idx"

    def mirrored() -> dict:
        synced = milvus.read_sync(idx)
        assert synced["version"] == store.current_version(idx).name  # Milvus follows the published version
        return synced

    _cli(config, "build")
    first = mirrored()
    extra = jsonl(tmp_path / "extra.jsonl", [numbered_article(9, "全新的一段报道：社区防控要突出重点。")])
    _cli(config, "add", str(extra))
    assert mirrored()["inserted"] == 2 and mirrored()["version"] != first["version"]  # n9: title, paragraph
    _cli(config, "remove", "n9")
    assert mirrored()["deleted"] == 2
    (seeds / "more.jsonl").write_text(json.dumps(numbered_article(7), ensure_ascii=False) + "\n", encoding="utf-8")
    _cli(config, "build")
    assert mirrored()["inserted"] == 3  # n7: its title and two paragraphs
    assert json.loads(_cli(config, "milvus-sync"))["kept"] == mirrored()["kept"] > 0
    cfg = IndexConfig(model=HashEncoder.name, backend="milvus", milvus_uri=str(tmp_path / "milvus.db"),
                      milvus_collection="t")
    same_answers(idx, HashEncoder(), cfg)
