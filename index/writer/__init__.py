"""Operations that write the index, one job each: build, add (files or articles), remove, embed."""

from index.writer.articles import Added, add_articles, write_new_articles  # noqa: F401
from index.writer.operations import (  # noqa: F401
    add_to_index,
    build_index,
    embed_missing,
    index_is_stale,
    remove_from_index,
)
from index.writer.report import BuildReport  # noqa: F401
