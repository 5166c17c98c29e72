"""One source of truth for settings: the code's defaults are config.toml's values, the fitted model one file."""

from __future__ import annotations

import dataclasses
import json
import tomllib
from pathlib import Path

from index.config import ANSWER_MODEL_FILE, IndexConfig, RetrievalConfig, load_config

ROOT = Path(__file__).resolve().parents[1]


def test_every_setting_config_toml_gives_is_the_code_default():
    raw = tomllib.loads((ROOT / "config.toml").read_text(encoding="utf-8"))
    loaded = load_config(ROOT / "config.toml")
    for table, cls, got in (("index", IndexConfig, loaded.index), ("retrieval", RetrievalConfig, loaded.retrieval)):
        default = cls()
        for key in raw[table]:
            want = getattr(default, key)
            if key == "dir":
                want = ROOT / want
            elif key == "seeds":
                want = [ROOT / p for p in want]
            assert getattr(got, key) == want, (table, key)


def test_the_answer_model_default_is_the_fitted_file_with_its_provenance():
    fitted = json.loads(ANSWER_MODEL_FILE.read_text(encoding="utf-8"))
    assert fitted["provenance"]["fitted_by"].startswith("python bench/")
    model = RetrievalConfig().answer_model()
    assert (dict(model.weights), model.bias, model.answer_at, model.hedge_at) == (
        fitted["weights"], fitted["bias"], fitted["answer_at"], fitted["hedge_at"])
    # config.toml may still override a value, and only that one.
    custom = dataclasses.replace(RetrievalConfig(), answer_at=0.9).answer_model()
    assert custom.answer_at == 0.9 and custom.weights == model.weights
