"""A damaged embedding cache is set aside and the passages embedded again (issue 23 item 5)."""

from __future__ import annotations

import json
import logging

import pytest

from index import add_to_index, build_index
from tests.hashencoder import HashEncoder


def _garbage(data: bytes) -> bytes:
    return b"garbage" * 1000


def _truncated(data: bytes) -> bytes:
    return data[: len(data) // 2]


def _scribbled(data: bytes) -> bytes:
    # Same size, same header: only reading the damaged pages finds it.
    return data[:4096] + b"\xa5" * (len(data) - 8192) + data[-4096:]


def _seeds(path, start: int, n: int):
    path.write_text("".join(json.dumps({"id": f"a{i}", "title": f"标题{i}", "body": f"第{i}条正文，说了很多事情。" * 40},
                                       ensure_ascii=False) + "\n" for i in range(start, start + n)), encoding="utf-8")
    return path


@pytest.mark.parametrize("damage", [_garbage, _truncated, _scribbled])
@pytest.mark.parametrize("operation", ["build --rebuild", "add"])
def test_a_damaged_cache_is_set_aside_with_a_warning_and_re_embedded(tmp_path, caplog, damage, operation):
    seeds = _seeds(tmp_path / "s.jsonl", 0, 200)
    index_dir = tmp_path / "idx"
    first = build_index([seeds], index_dir, HashEncoder(), progress=False)
    (cache,) = (index_dir / "embeddings").glob("*.sqlite")
    data = cache.read_bytes()
    assert len(data) > 3 * 4096
    cache.write_bytes(damage(data))
    with caplog.at_level(logging.WARNING, logger="index.store.versions"):
        if operation == "add":
            report = add_to_index([_seeds(tmp_path / "more.jsonl", 200, 5)], index_dir, HashEncoder(), progress=False)
            assert report.vectors == report.passages > first.passages
        else:
            report = build_index([seeds], index_dir, HashEncoder(), rebuild=True, progress=False)
            assert report.vectors == report.passages == first.passages
            assert report.embedded == first.embedded > 0  # the cache was gone: all embedded again, as at first
    warnings = [r.getMessage() for r in caplog.records if "set aside" in r.getMessage()]
    assert len(warnings) == 1 and "\n" not in warnings[0]
    aside = sorted(p.name for p in cache.parent.iterdir() if ".corrupt-" in p.name)
    assert aside and aside[0].startswith(cache.name + ".corrupt-") and aside[0] in warnings[0]
    # The new cache works: the next build reuses it (nothing embedded again).
    again = build_index([seeds], index_dir, HashEncoder(), rebuild=True, progress=False)
    assert again.embedded == 0
