"""Scale behaviour of the index: index type by size, memory-mapped loading, `add` proportional to what is added."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from index import IndexConfig, Retriever, add_to_index, build_index, embed_missing
from index import store
from tests.hashencoder import HashEncoder


def jsonl(path: Path, articles: list[dict]) -> Path:
    path.write_text("".join(json.dumps(a, ensure_ascii=False) + "\n" for a in articles), encoding="utf-8")
    return path


def article(i: int, prefix: str = "n") -> dict:
    return {"id": f"{prefix}{i}", "title": f"第{i}号{prefix}新闻标题", "published_at": f"2020-03-{i % 28 + 1:02d}T10:00:00+08:00",
            "source": "测试社", "url": None, "body": f"这是第{i}条{prefix}新闻的第一段。\n第{i}条{prefix}新闻的第二段讲了别的事。"}


def test_index_type_follows_the_threshold(tmp_path):
    seeds = jsonl(tmp_path / "a.jsonl", [article(i) for i in range(40)])
    enc = HashEncoder()
    small = build_index([seeds], tmp_path / "small", enc, IndexConfig(model=enc.name, ann_threshold=10_000), progress=False)
    big = build_index([seeds], tmp_path / "big", enc, IndexConfig(model=enc.name, ann_threshold=50), progress=False)
    assert small.passages == big.passages > 50
    exact = Retriever.load(tmp_path / "small", enc)
    approx = Retriever.load(tmp_path / "big", enc, verify=True)  # new files are in the manifest
    assert exact.vector_index == "flat" and approx.vector_index == "hnsw"
    assert approx.vectors == big.passages
    question = "第7条n新闻的第二段"
    assert [c.row for c in approx.rank(question)[:3]] == [c.row for c in exact.rank(question)[:3]]
    # Candidates are scored against the stored vectors either way: the same cosines.
    a = {c.row: c.cosine for c in approx.rank(question)}
    e = {c.row: c.cosine for c in exact.rank(question)}
    assert all(abs(a[r] - e[r]) < 1e-5 for r in set(a) & set(e))


def test_flat_index_becomes_hnsw_when_an_add_crosses_the_threshold(tmp_path):
    enc = HashEncoder()
    cfg = IndexConfig(model=enc.name, ann_threshold=100)
    build_index([jsonl(tmp_path / "a.jsonl", [article(i) for i in range(20)])], tmp_path / "idx", enc, cfg, progress=False)
    assert Retriever.load(tmp_path / "idx", enc).vector_index == "flat"
    report = add_to_index([jsonl(tmp_path / "b.jsonl", [article(i, "m") for i in range(30)])], tmp_path / "idx", enc, cfg,
                          progress=False)
    r = Retriever.load(tmp_path / "idx", enc, verify=True)
    assert r.vector_index == "hnsw" and r.vectors == report.passages >= 100


def mapped(path: Path) -> bool:
    """Whether this process has the file memory-mapped (/proc/self/maps lists it)."""
    maps = Path("/proc/self/maps")
    if not maps.exists():
        pytest.skip("no /proc/self/maps on this system")
    return str(path.resolve()) in maps.read_text()


def test_load_maps_the_files_instead_of_reading_them(tmp_path):
    seeds = jsonl(tmp_path / "a.jsonl", [article(i) for i in range(10)])
    enc = HashEncoder()
    build_index([seeds], tmp_path / "idx", enc, progress=False)
    r = Retriever.load(tmp_path / "idx", enc)
    # BM25 postings are mapped; FAISS's vectors are a view of the mapped file, flat or HNSW alike.
    assert all(isinstance(s.rows, np.memmap) and isinstance(s.tf, np.memmap) for s in r.lexical.segments)
    assert mapped(store.current_version(tmp_path / "idx") / store.VECTORS)
    hnsw = build_index([seeds], tmp_path / "hnsw", enc, IndexConfig(model=enc.name, ann_threshold=1), progress=False)
    r2 = Retriever.load(tmp_path / "hnsw", enc)
    assert r2.vector_index == "hnsw" and r2.vectors == hnsw.passages
    assert mapped(store.current_version(tmp_path / "hnsw") / store.VECTORS)
    # A build reads the previous index into memory to extend it (a mapped one cannot grow).
    assert not store.is_mapped(store.read_vectors(store.current_version(tmp_path / "idx") / store.VECTORS))
    assert r.search("第3条n新闻的第一段").hits[0].passage.article_id == "n3"
    assert len(r.passages) == r.stats()["passages"] and r.passages[0].kind == "headline"


def test_add_writes_only_the_new_rows_and_vectors(tmp_path):
    enc = HashEncoder()
    idx = tmp_path / "idx"
    first = build_index([jsonl(tmp_path / "a.jsonl", [article(i) for i in range(60)])], idx, enc, progress=False)
    assert first.rows_written == first.passages and first.vectors_added == first.passages
    db = store.open_db(store.current_version(idx) / store.DB)
    before = [tuple(x) for x in db.execute("SELECT row, hash FROM passages ORDER BY row")]
    db.close()  # (the version itself may be pruned by the builds below)
    added = add_to_index([jsonl(tmp_path / "b.jsonl", [article(i, "m") for i in range(3)])], idx, enc,
                        progress=False)
    new = added.passages - first.passages
    assert new == 9  # 3 articles: a headline and two paragraphs each
    assert added.rows_written == new and added.vectors_added == new and added.embedded == new
    r = Retriever.load(idx, enc, verify=True)
    assert r.vectors == added.passages
    assert r.search("第2条m新闻的第二段").hits[0].passage.article_id == "m2"
    assert r.article("n5") is not None  # what was there stays
    # Old rows keep their numbers: the new version is the old one with rows appended.
    db = store.open_db(store.current_version(idx) / store.DB)  # the version r loaded
    assert before == [tuple(x) for x in db.execute(f"SELECT row, hash FROM passages WHERE row < {first.passages} ORDER BY row")]
    db.close()


def test_add_that_replaces_an_article_falls_back_to_a_whole_version(tmp_path):
    enc = HashEncoder()
    idx = tmp_path / "idx"
    first = build_index([jsonl(tmp_path / "a.jsonl", [article(i) for i in range(10)])], idx, enc, progress=False)
    changed = dict(article(3), body="完全改写过的第三条新闻。")
    report = add_to_index([jsonl(tmp_path / "b.jsonl", [changed])], idx, enc, progress=False)
    assert report.duplicates == 1 and report.articles == first.articles
    assert report.rows_written == report.passages  # the whole version was written
    r = Retriever.load(idx, enc)
    assert r.article("n3").paragraphs == ["完全改写过的第三条新闻。"]
    assert embed_missing(idx, enc, progress=False) == 0


def test_add_to_an_hnsw_index_links_it_and_puts_new_vectors_in_a_flat_delta(tmp_path):
    enc = HashEncoder()
    cfg = IndexConfig(model=enc.name, ann_threshold=50, vectors_delta_max=20)
    idx = tmp_path / "idx"
    first = build_index([jsonl(tmp_path / "a.jsonl", [article(i) for i in range(30)])], idx, enc, cfg, progress=False)
    v1 = store.current_version(idx)
    assert not (v1 / store.VECTORS_DELTA).exists()
    hnsw_inode = (v1 / store.VECTORS).stat().st_ino
    add_to_index([jsonl(tmp_path / "b.jsonl", [article(i, "m") for i in range(2)])], idx, enc, cfg, progress=False)
    v2 = store.current_version(idx)
    # The HNSW file is the previous version's (same inode); the 6 new vectors are in the delta.
    assert (v2 / store.VECTORS).stat().st_ino == hnsw_inode
    assert store.read_vectors(v2 / store.VECTORS_DELTA).ntotal == 6
    r = Retriever.load(idx, enc, verify=True)
    assert r.vector_index == "hnsw" and r.vectors == first.passages + 6
    # The dense leg finds a new passage through the delta, with the cosine a whole rebuild gives it.
    whole = build_index([tmp_path / "a.jsonl", tmp_path / "b.jsonl"], tmp_path / "whole", enc, cfg, progress=False)
    w = Retriever.load(tmp_path / "whole", enc)
    assert not (store.current_version(tmp_path / "whole") / store.VECTORS_DELTA).exists()
    q = "第1条m新闻的第二段讲了别的事"
    got, want = r.rank(q, lexical=False)[:3], w.rank(q, lexical=False)[:3]
    assert r.passages[got[0].row].article_id == w.passages[want[0].row].article_id == "m1"
    assert [round(c.cosine, 5) for c in got] == [round(c.cosine, 5) for c in want]
    assert whole.passages == r.stats()["passages"]
    # Past vectors_delta_max the delta is merged into a new HNSW file.
    add_to_index([jsonl(tmp_path / "c.jsonl", [article(i, "k") for i in range(6)])], idx, enc, cfg, progress=False)
    v3 = store.current_version(idx)
    assert not (v3 / store.VECTORS_DELTA).exists()  # 6 + 18 > 20
    assert (v3 / store.VECTORS).stat().st_ino != hnsw_inode
    r3 = Retriever.load(idx, enc, verify=True)
    assert r3.vectors == r3.stats()["passages"] and r3.vector_index == "hnsw"
    assert r3.rank("第4条k新闻的第一段", lexical=False)[0].row == r3.rank("第4条k新闻的第一段")[0].row
