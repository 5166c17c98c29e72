"""Operations that write the index: build, add, remove, embed."""

from index.build.operations import BuildReport, build_index, embed_missing, index_is_stale  # noqa: F401
