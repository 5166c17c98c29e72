"""Building, updating and loading the index: incremental work, atomic versions, refusals."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from index import (
    CorruptIndexError, IndexConfig, IndexNotBuiltError, ModelMismatchError, Retriever, build_index, embed_missing,
    add_to_index, index_is_stale, remove_from_index,
)
from tests.hashencoder import HashEncoder
from tests.helpers import jsonl, numbered_article, seed_folder
from index import store

ROOT = Path(__file__).resolve().parents[1]


class CountingEncoder(HashEncoder):
    """The hash encoder, counting what it was asked to embed."""

    def __init__(self, dim: int = 64):
        super().__init__(dim)
        self.embedded: list[str] = []

    def encode_passages(self, texts, batch_size=16, show_progress=False):
        self.embedded += list(texts)
        return super().encode_passages(texts, batch_size=batch_size, show_progress=show_progress)


@pytest.fixture
def seeds(tmp_path):
    return seed_folder(tmp_path)


def test_build_then_rebuild_embeds_nothing(seeds, tmp_path):
    enc = CountingEncoder()
    first = build_index([seeds], tmp_path / "idx", enc, progress=False)
    assert first.articles == 6 and first.vectors == first.passages > 40
    assert len(enc.embedded) == first.passages
    enc.embedded.clear()
    second = build_index([seeds], tmp_path / "idx", enc, progress=False)
    assert enc.embedded == []
    assert second.unchanged and second.passages == first.passages
    assert not index_is_stale([seeds], tmp_path / "idx", IndexConfig(model=enc.name))


def test_changed_file_embeds_only_new_passages(seeds, tmp_path):
    enc = CountingEncoder()
    build_index([seeds], tmp_path / "idx", enc, progress=False)
    enc.embedded.clear()
    jsonl(seeds / "news.jsonl", [numbered_article(i) for i in range(1, 6)] + [numbered_article(6, "全新的一段报道。")])
    assert index_is_stale([seeds], tmp_path / "idx", IndexConfig(model=enc.name))
    report = build_index([seeds], tmp_path / "idx", enc, progress=False)
    assert sorted(enc.embedded) == sorted(["第6号新闻标题", "全新的一段报道。"])
    assert report.articles == 7 and report.vectors == report.passages


def test_removed_article_leaves_the_index(seeds, tmp_path):
    enc = HashEncoder()
    build_index([seeds], tmp_path / "idx", enc, progress=False)
    jsonl(seeds / "news.jsonl", [numbered_article(i) for i in range(1, 5)])  # n5 dropped from the seeds
    build_index([seeds], tmp_path / "idx", enc, progress=False)
    r = Retriever.load(tmp_path / "idx", enc)
    assert r.article("n5") is None and r.article("n4") is not None
    assert "第5号新闻标题" not in {h.title for h in r.latest(100)}


def test_duplicates_stored_once_and_add_remove(seeds, tmp_path):
    enc = HashEncoder()
    build_index([seeds], tmp_path / "idx", enc, progress=False)
    extra = jsonl(tmp_path / "extra.jsonl", [numbered_article(3, id="copy-of-n3"), numbered_article(9)])
    report = add_to_index([extra], tmp_path / "idx", enc, progress=False)
    assert report.duplicates == 1 and report.articles == 7
    r = Retriever.load(tmp_path / "idx", enc)
    assert r.article("n9") is not None and r.article("copy-of-n3") is None
    assert r.article("000_eb63601c10643f4d-3037094dec84") is not None  # add keeps what was there
    report = remove_from_index(["n9"], tmp_path / "idx")
    assert report.removed == 1
    assert Retriever.load(tmp_path / "idx", enc).article("n9") is None


def test_bad_input_is_reported_and_the_rest_goes_on(seeds, tmp_path):
    (seeds / "broken.jsonl").write_text('{"id": "b1", "title": "好", "body": "正文。"}\n{oops\n', encoding="utf-8")
    (seeds / "gbk.txt").write_bytes("标题\n正文".encode("gbk"))
    (seeds / "empty.txt").write_text("", encoding="utf-8")
    report = build_index([seeds], tmp_path / "idx", None, embed=False, progress=False)
    skipped = [str(s) for s in report.skipped]
    assert any("broken.jsonl:2" in s and "malformed JSON" in s for s in skipped)
    assert any("gbk.txt" in s and "not UTF-8" in s for s in skipped)
    assert any("empty.txt" in s and "empty file" in s for s in skipped)
    assert report.articles == 7  # seed page + 5 + b1
    assert "broken.jsonl:2" in report.summary()


def test_lexical_first_then_embed(seeds, tmp_path):
    enc = CountingEncoder()
    report = build_index([seeds], tmp_path / "idx", None, IndexConfig(model=enc.name, passage_vectors="fp32"),
                         embed=False, progress=False)
    assert report.vectors == 0
    r = Retriever.load(tmp_path / "idx", enc)
    hits = r.search("社区防控要突出什么").hits
    assert hits and all(h.dense_score is None for h in hits)  # searchable with the lexical leg only
    assert embed_missing(tmp_path / "idx", enc, progress=False) == report.passages
    assert Retriever.load(tmp_path / "idx", enc).vectors == report.passages
    assert embed_missing(tmp_path / "idx", enc, progress=False) == 0


def test_model_mismatch_is_refused(seeds, tmp_path):
    build_index([seeds], tmp_path / "idx", HashEncoder(64), progress=False)
    with pytest.raises(ModelMismatchError, match="python -m index build --rebuild"):
        Retriever.load(tmp_path / "idx", HashEncoder(32))
    with pytest.raises(ModelMismatchError):
        embed_missing(tmp_path / "idx", HashEncoder(32), progress=False)
    # A rebuild for the new model works and is then accepted.
    build_index([seeds], tmp_path / "idx", HashEncoder(32), rebuild=True, progress=False)
    assert Retriever.load(tmp_path / "idx", HashEncoder(32)).vectors > 0


def test_missing_and_corrupt_index(seeds, tmp_path):
    with pytest.raises(IndexNotBuiltError, match="python -m index build"):
        Retriever.load(tmp_path / "nothing")
    build_index([seeds], tmp_path / "idx", HashEncoder(), progress=False)
    version = store.current_version(tmp_path / "idx")
    vectors = version / store.VECTORS
    data = vectors.read_bytes()
    os.unlink(vectors)  # versions share files by hard link: replace, don't write through
    vectors.write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptIndexError, match="truncated"):
        Retriever.load(tmp_path / "idx", HashEncoder())
    os.unlink(vectors)
    vectors.write_bytes(data[:-8] + b"\0" * 8)
    with pytest.raises(CorruptIndexError, match="checksum"):
        Retriever.load(tmp_path / "idx", HashEncoder(), verify=True)
    # Even unverified, FAISS's own failure becomes a clear error.
    os.unlink(vectors)
    vectors.write_bytes(b"garbage" * 10)
    with pytest.raises(CorruptIndexError):
        Retriever.load(tmp_path / "idx", HashEncoder(), verify=False)


KILLER = textwrap.dedent("""
    import os, sys
    from pathlib import Path
    from index import build_index, store
    from index.store.lexical import LexicalIndex
    from tests.hashencoder import HashEncoder
    point = sys.argv[3]
    def die(*a, **k):
        os.kill(os.getpid(), 9)
    if point == "lexical":
        LexicalIndex.save = die
    elif point == "publish":
        real = os.replace
        def replace(src, dst):
            if str(dst).endswith("current"):
                die()
            return real(src, dst)
        os.replace = replace
    elif point == "embedding":
        enc_cls = HashEncoder
        calls = []
        real_encode = enc_cls.encode_passages
        def encode(self, texts, **kw):
            calls.append(1)
            if len(calls) == 2:
                die()
            return real_encode(self, texts, **kw)
        enc_cls.encode_passages = encode
    elif point == "manifest":
        store.write_manifest = die
    build_index([Path(sys.argv[1])], Path(sys.argv[2]), HashEncoder(), progress=False)
""")


@pytest.mark.parametrize("point", ["lexical", "manifest", "publish", "embedding"])
def test_killed_build_leaves_previous_index_loadable(seeds, tmp_path, point):
    idx = tmp_path / "idx"
    build_index([seeds], idx, HashEncoder(), progress=False)
    before = Retriever.load(idx, HashEncoder()).stats()
    # Many new passages, so that embedding takes more than one batch.
    jsonl(seeds / "more.jsonl", [numbered_article(i, f"第{i}条补充报道的内容。") for i in range(10, 400)])
    proc = subprocess.run([sys.executable, "-c", KILLER, str(seeds), str(idx), point], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    r = Retriever.load(idx, HashEncoder(), verify=True)  # verifies every file against the manifest
    after = r.stats()
    if point == "embedding":
        # The lexical version was published before embedding started: new articles, some vectors.
        assert after["articles"] == before["articles"] + 390 and after["vectors"] < after["passages"]
    else:
        assert after == before
    assert r.rank("社区防控要突出什么")[0].lexical > 0  # every leg answers from one consistent version
    # The next build finishes the job, reusing what the killed one embedded.
    report = build_index([seeds], idx, HashEncoder(), progress=False)
    assert report.vectors == report.passages == Retriever.load(idx, HashEncoder()).stats()["passages"]


@pytest.mark.parametrize("name", [store.DB, "lexical/segments.json", "lexical/*/terms.json", "lexical/*/rows.npy",
                                  "lexical/*/lengths.npy", store.VECTORS])
def test_a_damaged_file_of_the_right_size_is_a_clear_error(seeds, tmp_path, name):
    build_index([seeds], tmp_path / "idx", HashEncoder(), progress=False)
    [path] = store.current_version(tmp_path / "idx").glob(name)
    size = path.stat().st_size
    path.unlink()  # versions share files by hard link: replace, don't write through
    path.write_bytes(b"\0" * size)
    with pytest.raises(CorruptIndexError, match="rebuild"):
        Retriever.load(tmp_path / "idx", HashEncoder())  # sizes match: only reading can tell


class TwoKindEncoder(HashEncoder):
    """The hash encoder with a second kind of passage vector ("int8": the fp32 vector with its sign flipped,
    so each stored vector shows which kind made it), counting what each kind embedded."""

    passage_vectors = ("fp32", "int8")

    def __init__(self):
        super().__init__()
        self.embedded: dict[str, list[str]] = {"fp32": [], "int8": []}

    def encode_passages(self, texts, batch_size=16, show_progress=False, vectors="fp32"):
        self.embedded[vectors] += list(texts)
        v = super().encode_passages(texts)
        return -v if vectors == "int8" else v


def _stored_kinds(index_dir, enc) -> set[str]:
    """Which kind made each stored vector of the current version (by comparing with both encodings)."""
    import numpy as np

    version = store.require_version(index_dir)
    db = store.open_db(version / store.DB)
    texts = [t for (t,) in db.execute("SELECT index_text FROM passages ORDER BY row")]
    db.close()
    import faiss

    stored = np.zeros((len(texts), enc.dim), np.float32)
    seen = np.zeros(len(texts), bool)
    for name in (store.VECTORS, store.VECTORS_DELTA):
        if (version / name).is_file():
            index = store.read_vectors(version / name)
            rows = faiss.vector_to_array(index.id_map)
            stored[rows], seen[rows] = store.stored_vectors(index), True
    assert seen.all()
    fp32 = HashEncoder().encode_passages(texts)
    kinds = set()
    for s, f in zip(stored, fp32):
        kinds.add("fp32" if np.allclose(s, f) else "int8" if np.allclose(s, -f) else "other")
    return kinds


def test_a_new_index_gets_the_configured_passage_vectors_and_keeps_them(seeds, tmp_path):
    enc = TwoKindEncoder()
    int8 = IndexConfig(model=enc.name, passage_vectors="int8")
    build_index([seeds], tmp_path / "idx", enc, int8, progress=False)
    manifest = store.read_manifest(store.require_version(tmp_path / "idx"))
    assert manifest["passage_vectors"] == "int8" and enc.embedded["fp32"] == []
    assert (tmp_path / "idx" / "embeddings" / "hash-bigram-64.int8.sqlite").is_file()
    assert not (tmp_path / "idx" / "embeddings" / "hash-bigram-64.sqlite").exists()
    assert _stored_kinds(tmp_path / "idx", enc) == {"int8"}
    # The config now says fp32: an add (and a changed file) extends the index with int8 vectors all the same.
    fp32 = IndexConfig(model=enc.name, passage_vectors="fp32")
    extra = jsonl(tmp_path / "extra.jsonl", [numbered_article(9, "第九篇的新正文。")])
    add_to_index([extra], tmp_path / "idx", enc, fp32, progress=False)
    jsonl(seeds / "news.jsonl", [numbered_article(i) for i in range(1, 6)] + [numbered_article(6, "全新的一段报道。")])
    build_index([seeds], tmp_path / "idx", enc, fp32, progress=False)
    assert enc.embedded["fp32"] == [] and "全新的一段报道。" in enc.embedded["int8"]
    assert store.read_manifest(store.require_version(tmp_path / "idx"))["passage_vectors"] == "int8"
    assert _stored_kinds(tmp_path / "idx", enc) == {"int8"}
    # Only a rebuild changes the kind, to the configured one.
    build_index([seeds], tmp_path / "idx", enc, fp32, rebuild=True, progress=False)
    assert store.read_manifest(store.require_version(tmp_path / "idx"))["passage_vectors"] == "fp32"
    assert _stored_kinds(tmp_path / "idx", enc) == {"fp32"}


def test_an_index_from_before_the_kind_was_recorded_stays_fp32(seeds, tmp_path):
    import json

    enc = TwoKindEncoder()
    build_index([seeds], tmp_path / "idx", enc, IndexConfig(model=enc.name, passage_vectors="fp32"), embed=False,
                progress=False)
    version = store.require_version(tmp_path / "idx")
    manifest = store.read_manifest(version)
    del manifest["passage_vectors"]  # as written before this key existed
    (version / store.MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
    int8 = IndexConfig(model=enc.name, passage_vectors="int8")
    assert embed_missing(tmp_path / "idx", enc, int8, progress=False) > 0
    extra = jsonl(tmp_path / "extra.jsonl", [numbered_article(9, "第九篇的新正文。")])
    add_to_index([extra], tmp_path / "idx", enc, int8, progress=False)
    assert enc.embedded["int8"] == [] and "第九篇的新正文。" in enc.embedded["fp32"]
    assert _stored_kinds(tmp_path / "idx", enc) == {"fp32"}


def test_an_encoder_without_the_index_kind_is_refused(seeds, tmp_path):
    from index.models.encoder import EncoderError

    build_index([seeds], tmp_path / "idx", None, IndexConfig(model=HashEncoder.name, passage_vectors="int8"),
                embed=False, progress=False)
    with pytest.raises(EncoderError, match="int8 passage vectors"):
        embed_missing(tmp_path / "idx", HashEncoder(), progress=False)  # it would mix in fp32 vectors
    assert Retriever.load(tmp_path / "idx", HashEncoder()).vectors == 0


def test_passage_vectors_config_is_checked(tmp_path):
    from index.config import load_config

    (tmp_path / "config.toml").write_text('[index]\npassage_vectors = "int8"\n', encoding="utf-8")
    assert load_config(tmp_path / "config.toml").index.passage_vectors == "int8"
    (tmp_path / "config.toml").write_text('[index]\npassage_vectors = "int4"\n', encoding="utf-8")
    with pytest.raises(ValueError, match="passage_vectors"):
        load_config(tmp_path / "config.toml")


def test_a_new_index_falls_back_to_fp32_when_the_encoder_cannot_make_the_configured_kind(seeds, tmp_path):
    enc = CountingEncoder()  # the hash fake: fp32 only
    report = build_index([seeds], tmp_path / "idx", enc, IndexConfig(model=enc.name, passage_vectors="int8"),
                         progress=False)
    assert report.vectors == report.passages > 0
    assert store.read_manifest(store.require_version(tmp_path / "idx"))["passage_vectors"] == "fp32"
