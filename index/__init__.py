"""News index library: seeds in, hybrid (BM25 + dense) search out. Never imports the bot."""

from __future__ import annotations

from index.writer import Added, BuildReport, add_articles, add_to_index, build_index, embed_missing, index_is_stale, remove_from_index
from index.config import Config, IndexConfig, RetrievalConfig, load_config
from index.errors import CorruptIndexError, IndexNotBuiltError, ModelMismatchError, NewsIndexError, SeedFormatError
from index.schema import Article, Headline, Hit, Passage, SearchResult
from index.search.retriever import Retriever

__all__ = [
    "Added", "Article", "BuildReport", "Config", "CorruptIndexError", "Headline", "Hit", "IndexConfig",
    "IndexNotBuiltError", "ModelMismatchError", "NewsIndexError", "Passage", "RetrievalConfig", "Retriever",
    "SearchResult", "SeedFormatError", "add_articles", "add_to_index", "build_index", "embed_missing", "index_is_stale",
    "load_config", "remove_from_index",
]
