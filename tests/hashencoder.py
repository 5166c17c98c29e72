"""A deterministic fake encoder for tests and benches that time storage, not meaning (no model, no download)."""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import numpy as np


class HashEncoder:
    """Deterministic fake encoder for tests and smoke runs: signed character-bigram hashing."""

    name = "hash-bigram-64"

    def __init__(self, dim: int = 64) -> None:
        self.dim = dim
        if dim != 64:
            self.name = f"hash-bigram-{dim}"

    def _encode(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), np.float32)
        for i, text in enumerate(texts):
            chars = "".join(text.lower().split())
            grams = [chars[j : j + 2] for j in range(len(chars) - 1)] or ([chars] if chars else [])
            for gram in grams:
                # crc32, not hash(): stable across processes (PYTHONHASHSEED).
                h = zlib.crc32(gram.encode("utf-8"))
                out[i, h % self.dim] += 1.0 if (h >> 31) & 1 else -1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        np.divide(out, norms, out=out, where=norms > 0)
        return out

    def encode_passages(
        self, texts: Sequence[str], batch_size: int = 16, show_progress: bool = False
    ) -> np.ndarray:
        """Embed documents (same as queries)."""
        return self._encode(texts)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Embed queries (same as documents)."""
        return self._encode(texts)
