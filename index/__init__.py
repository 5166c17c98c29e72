"""News index library: seeds in, hybrid (BM25 + dense) search out. Never imports the bot."""

from __future__ import annotations

from .build import BuildReport, build_index, embed_missing, index_is_stale
from .config import Config, IndexConfig, RetrievalConfig, load_config
from .errors import CorruptIndexError, IndexNotBuiltError, ModelMismatchError, NewsIndexError, SeedFormatError
from .models import Article, Headline, Hit, Passage, SearchResult
from .retriever import Retriever

__all__ = [
    "Article", "BuildReport", "Config", "CorruptIndexError", "Headline", "Hit", "IndexConfig",
    "IndexNotBuiltError", "ModelMismatchError", "NewsIndexError", "Passage", "RetrievalConfig", "Retriever",
    "SearchResult", "SeedFormatError", "build_index", "embed_missing", "index_is_stale", "load_config",
]
