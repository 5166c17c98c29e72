"""An altered manifest (valid JSON, wrong shape) is a clear CorruptIndexError, never a traceback (issue 23 item 8)."""

from __future__ import annotations

import json

import pytest

from index import CorruptIndexError, Retriever, build_index, index_is_stale, store

ALTERED = {
    "files is a list": lambda m: m | {"files": []},
    "an entry without size": lambda m: m | {"files": {k: {"sha256": v["sha256"]} for k, v in m["files"].items()}},
    "counts is a string": lambda m: m | {"counts": "x"},
    "the whole manifest is a list": lambda m: [],
    "a count is a string": lambda m: m | {"counts": m["counts"] | {"passages": "44"}},
}


@pytest.fixture
def built(tmp_path):
    seeds = tmp_path / "seeds.jsonl"
    seeds.write_text("".join(json.dumps({"id": f"a{i}", "title": f"标题{i}", "body": f"第{i}条正文。"},
                                        ensure_ascii=False) + "\n" for i in range(3)), encoding="utf-8")
    build_index([seeds], tmp_path / "idx", embed=False, progress=False)
    return seeds, tmp_path / "idx"


def _alter(index_dir, change) -> None:
    path = store.current_version(index_dir) / store.MANIFEST
    manifest = json.loads(path.read_text(encoding="utf-8"))
    path.unlink()  # a version's files may be hard links: replace, don't write through
    path.write_text(json.dumps(change(manifest)), encoding="utf-8")


@pytest.mark.parametrize("name", list(ALTERED))
def test_an_altered_manifest_is_a_clear_error_and_the_next_build_replaces_it(built, name, tmp_path, capsys):
    from index.__main__ import main

    seeds, index_dir = built
    _alter(index_dir, ALTERED[name])
    with pytest.raises(CorruptIndexError, match=r"manifest\.json .*rebuild with `python -m index build"):
        Retriever.load(index_dir)
    config = tmp_path / "config.toml"
    config.write_text(f'[index]\ndir = "{index_dir}"\nseeds = ["{seeds}"]\nembed_on_build = false\n', encoding="utf-8")
    assert main(["--config", str(config), "stats"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "manifest.json" in err and len(err.splitlines()) == 1
    # The bot's start sees a damaged index as stale and builds a new version over it.
    assert index_is_stale([seeds], index_dir)
    build_index([seeds], index_dir, embed=False, progress=False)
    assert Retriever.load(index_dir).stats()["articles"] == 3
