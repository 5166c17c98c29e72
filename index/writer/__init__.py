"""Operations that write the index, one job each: build, add, remove, embed."""

from index.writer.operations import (  # noqa: F401
    Added,
    add_articles,
    add_to_index,
    build_index,
    embed_missing,
    index_is_stale,
    remove_from_index,
    write_new_articles,
)
from index.writer.report import BuildReport  # noqa: F401
