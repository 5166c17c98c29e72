"""BM25 in segments: the same scores as bm25s over the whole corpus, however the rows were added."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from index import Retriever, add_to_index, build_index, store
from index.store import lexical as lexical_mod
from index.errors import CorruptIndexError
from index.store.lexical import LexicalIndex, tokenize


def reference_scores(docs: list[list[str]], query: list[str]) -> np.ndarray:
    """bm25s (default "lucene" variant) over all docs at once: what the segments must reproduce."""
    import bm25s

    ref = bm25s.BM25()
    ref.index([d or [""] for d in docs], show_progress=False)  # bm25s needs a token in every doc
    known = [t for t in query if t in ref.vocab_dict]
    return np.asarray(ref.get_scores(known), dtype=np.float32) if known else np.zeros(len(docs), np.float32)


def random_corpus(seed: int, n: int) -> list[list[str]]:
    rng = random.Random(seed)
    words = [f"w{i}" for i in range(200)]
    # Zipf-like: low word ids are common, as in text; some docs are empty.
    return [[words[min(int(rng.paretovariate(1.2)) - 1, 199)] for _ in range(rng.choice([0, 1, 3, 8, 20, 40]))]
            for _ in range(n)]


def in_pieces(docs, cuts) -> LexicalIndex:
    bounds = [0, *sorted(set(cuts)), len(docs)]
    index = LexicalIndex.build(docs[bounds[0] : bounds[1]])
    for a, b in zip(bounds[1:], bounds[2:]):
        index = index.append(docs[a:b])
    return index


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(1, 120), cuts=st.lists(st.integers(0, 120), max_size=12),
       query=st.lists(st.sampled_from(["w0", "w1", "w2", "w5", "w30", "w199", "unseen"]), min_size=1, max_size=4))
def test_segments_score_like_one_bm25s_index(seed, n, cuts, query):
    docs = random_corpus(seed, n)
    index = in_pieces(docs, [c for c in cuts if c <= n])
    assert index.n_docs == n and len(index.segments) <= lexical_mod.MAX_SEGMENTS
    # bm25s indexes an empty doc as one "" token (which changes its length); compare only where they agree.
    if any(not d for d in docs):
        docs = [d or ["padding"] for d in docs]
        index = in_pieces(docs, [c for c in cuts if c <= n])
    np.testing.assert_allclose(index.scores(query), reference_scores(docs, query), rtol=1e-5, atol=1e-6)


def test_many_appends_merge_into_one_segment_with_the_same_scores(tmp_path):
    docs = [d or ["x"] for d in random_corpus(7, 300)]
    index = LexicalIndex.build(docs[:100])
    counts = []
    for i in range(100, 300, 20):
        index = index.append(docs[i : i + 20])
        counts.append(len(index.segments))
    assert max(counts) == lexical_mod.MAX_SEGMENTS and 1 in counts[1:]  # grew, then merged
    index.save(tmp_path / "lex")
    loaded = LexicalIndex.load(tmp_path / "lex", mmap=True)
    for q in (["w0"], ["w3", "w4"], ["w1", "w1", "w50"]):
        np.testing.assert_allclose(loaded.scores(q), reference_scores(docs, q), rtol=1e-5, atol=1e-6)
    assert loaded.doc_freq("w0") == sum("w0" in d for d in docs) and loaded.doc_freq("nope") == 0


def test_an_empty_corpus_and_empty_passages_are_valid():
    empty = LexicalIndex.build([])
    assert empty.n_docs == 0 and len(empty.scores(["a"])) == 0 and empty.top(["a"], 5)[0].size == 0
    index = LexicalIndex.build([[], ["a", "b"], []])
    assert index.n_docs == 3 and index.top(["a"], 5)[0].tolist() == [1]


def test_a_segment_that_does_not_continue_the_rows_is_refused(tmp_path):
    LexicalIndex.build([["a"], ["b"]]).append([["c"]]).save(tmp_path / "lex")
    spec = json.loads((tmp_path / "lex" / lexical_mod.SEGMENTS).read_text())
    spec["segments"][1]["start"] = 5
    (tmp_path / "lex" / lexical_mod.SEGMENTS).write_text(json.dumps(spec))
    with pytest.raises(CorruptIndexError, match="rows"):
        LexicalIndex.load(tmp_path / "lex")


def _articles(prefix: str, n: int) -> list[dict]:
    return [{"id": f"{prefix}{i}", "title": f"{prefix}第{i}号标题", "published_at": f"2020-03-{i % 28 + 1:02d}T10:00:00+08:00",
             "source": "测试社", "body": f"{prefix}新闻第{i}条讲防控。\n第二段说到口罩和复工{i}。"} for i in range(n)]


def _jsonl(path, articles):
    path.write_text("".join(json.dumps(a, ensure_ascii=False) + "\n" for a in articles), encoding="utf-8")
    return path


def test_add_writes_one_segment_links_the_rest_and_scores_like_a_rebuild(tmp_path):
    idx, full = tmp_path / "idx", tmp_path / "full"
    a = _jsonl(tmp_path / "a.jsonl", _articles("a", 30))
    b = _jsonl(tmp_path / "b.jsonl", _articles("b", 4))
    build_index([a], idx, progress=False, embed=False)
    before = store.current_version(idx)
    [old_segment] = [p for p in (before / store.LEXICAL).iterdir() if p.is_dir()]
    add_to_index([b], idx, progress=False, embed=False)
    after = store.current_version(idx)
    segments = sorted(p for p in (after / store.LEXICAL).iterdir() if p.is_dir())
    assert len(segments) == 2
    # The old segment's files are the previous version's (same inode), not rewritten.
    assert (after / store.LEXICAL / old_segment.name / "rows.npy").stat().st_ino == (old_segment / "rows.npy").stat().st_ino
    store.verify_files(after, store.read_manifest(after))  # linked files keep valid checksums
    build_index([a, b], full, progress=False, embed=False)
    added, rebuilt = Retriever.load(idx), Retriever.load(full)
    for q in ("口罩 复工", "b新闻第3条", "防控"):
        tokens = tokenize(q)
        np.testing.assert_allclose(added.lexical.scores(tokens), rebuilt.lexical.scores(tokens), rtol=1e-5, atol=1e-6)
    assert added.search("b第3号标题").hits[0].passage.article_id == "b3"


def test_building_in_chunks_gives_the_same_segment():
    docs = random_corpus(3, 500)
    whole, chunked = lexical_mod.Segment.from_tokens(docs, 10), lexical_mod.Segment.from_tokens(docs, 10, chunk_rows=37)
    assert whole.terms == chunked.terms
    for name in ("indptr", "rows", "tf", "lengths"):
        np.testing.assert_array_equal(getattr(whole, name), getattr(chunked, name))
    assert whole.rows.min() >= 10 and whole.rows.max() == 509 - min(i for i, d in enumerate(reversed(docs)) if d)
