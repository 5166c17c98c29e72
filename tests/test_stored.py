"""The stored version (index.store.stored): open() reads back what a build writes, and refuses parts that disagree."""

from __future__ import annotations

import json

import pytest

from index import CorruptIndexError, build_index, store
from index.chinatime import NO_DAY, china_day
from tests.hashencoder import HashEncoder
from index.store.stored import StoredVersion
from tests.helpers import seed_folder


@pytest.fixture
def index_dir(tmp_path):
    build_index([seed_folder(tmp_path)], tmp_path / "idx", HashEncoder(), progress=False)
    return tmp_path / "idx"


def test_open_reads_back_what_the_build_wrote(index_dir):
    stored = StoredVersion.open(index_dir, HashEncoder.name, 64)
    try:
        counts = stored.manifest["counts"]
        assert len(stored.passages) == stored.lexical.n_docs == counts["passages"] == stored.vectors.count
        assert stored._row_days is None  # read on first use, then kept
        days = stored.row_days()
        assert stored.row_days() is days
        for row in range(len(stored.passages)):
            published = stored.passages[row].published_at
            assert days[row] == (china_day(published) if published else NO_DAY)
        dated = [h.published_at for h in stored.headlines if h.published_at]
        assert dated == sorted(dated, reverse=True)  # newest first (all in one zone here)
    finally:
        stored.close()
    lexical_only = StoredVersion.open(index_dir, vectors=False)  # the Milvus backend holds the vectors
    assert lexical_only.vectors is None
    lexical_only.close()


@pytest.mark.parametrize("count", ["passages", "vectors"])
def test_a_manifest_that_counts_otherwise_is_refused(index_dir, count):
    version = store.require_version(index_dir)
    manifest = store.read_manifest(version)
    manifest["counts"][count] += 1
    (version / store.MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(CorruptIndexError, match="the manifest counts"):
        StoredVersion.open(index_dir)
