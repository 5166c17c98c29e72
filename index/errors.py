"""The index library's exceptions: one base, a few named cases."""

from __future__ import annotations


class NewsIndexError(Exception):
    """Base class for errors this library reports to its user."""


class IndexNotBuiltError(NewsIndexError):
    """No index exists at the given folder."""


class ModelMismatchError(NewsIndexError):
    """The index was written by another embedding model or dimension."""


class CorruptIndexError(NewsIndexError):
    """An index file is missing, truncated or does not match the manifest."""


class SeedFormatError(NewsIndexError):
    """A seed file or line cannot be read."""


class FeedError(NewsIndexError):
    """A feed or page could not be fetched or parsed."""
