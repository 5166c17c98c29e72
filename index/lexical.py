"""The lexical leg: jieba tokens of the Simplified, width-folded text, scored with BM25 (bm25s)."""

from __future__ import annotations

import logging
import math
import re
from functools import lru_cache
from pathlib import Path

import numpy as np

from .clean import normalize_for_search

logger = logging.getLogger(__name__)

# Punctuation, symbols and spaces are not words.
_NOT_A_WORD = re.compile(r"^[\W_]+$")

# Words a question is made of that say nothing about its topic. They still take part in BM25
# ranking (IDF makes them cheap); they are left out when judging how much of a question a passage covers.
QUESTION_WORDS = frozenset(
    "什么 怎么 怎样 如何 为什么 为何 哪 哪些 哪里 哪个 哪儿 谁 几 多少 多久 吗 呢 吧 啊 呀 么 的 了 是 在 有 "
    "和 与 及 或 要 会 能 可以 应该 请问 请 问 一下 告诉 我 我们 你 你们 他 她 它 他们 这 那 这个 那个 这些 "
    "那些 之 其 被 把 对 于 也 都 就 还 又 而 并 但 从 向 到 给 让 用 以 为 由 所 着 过 得 地 个 些 啥 咋 "
    "呢 嘛 哦 么样 如何 何 时候 时 上 中 下".split()
)


@lru_cache(maxsize=1)
def _jieba():
    import jieba

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    return jieba


def tokenize(text: str) -> list[str]:
    """Tokenize for BM25: fold script and width, cut with jieba, drop punctuation and spaces."""
    words = _jieba().lcut(normalize_for_search(text))
    return [w for w in (w.strip() for w in words) if w and not _NOT_A_WORD.match(w)]


class LexicalIndex:
    """A BM25 index over pre-tokenized passages, addressed by row (row i = i-th passage given)."""

    def __init__(self, bm25, doc_freq: np.ndarray | None = None):
        self.bm25 = bm25
        self.vocab: dict[str, int] = bm25.vocab_dict
        self.n_docs: int = int(bm25.scores["num_docs"])
        self._doc_freq = doc_freq

    @classmethod
    def build(cls, token_lists: list[list[str]]) -> "LexicalIndex":
        """Index token lists (one per passage)."""
        import bm25s

        logging.getLogger("bm25s").setLevel(logging.WARNING)  # bm25s sets its own logger to DEBUG
        bm25 = bm25s.BM25()
        # An empty corpus or an empty passage still needs a valid index.
        bm25.index([t or [""] for t in token_lists] or [[""]], show_progress=False)
        return cls(bm25)

    def save(self, folder: Path) -> None:
        """Write the index files into folder (bm25s layout)."""
        self.bm25.save(str(folder), show_progress=False)

    @classmethod
    def load(cls, folder: Path, mmap: bool = False) -> "LexicalIndex":
        """Read an index written by save()."""
        import bm25s

        return cls(bm25s.BM25.load(str(folder), mmap=mmap, show_progress=False))

    def scores(self, tokens: list[str]) -> np.ndarray:
        """BM25 score of every passage for the query tokens."""
        known = [t for t in tokens if t in self.vocab]
        if not known:
            return np.zeros(self.n_docs, dtype=np.float32)
        return np.asarray(self.bm25.get_scores(known), dtype=np.float32)

    def top(self, tokens: list[str], n: int, scores: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The n best rows with a positive score, best first, and their scores (from `scores` if given)."""
        scores = self.scores(tokens) if scores is None else scores
        n = min(n, len(scores))
        if n <= 0:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
        rows = np.argpartition(-scores, n - 1)[:n]
        rows = rows[np.argsort(-scores[rows], kind="stable")]
        rows = rows[scores[rows] > 0]
        return rows.astype(np.int64), scores[rows]

    def doc_freq(self, token: str) -> int:
        """How many passages contain the token."""
        if self._doc_freq is None:
            # Column counts of the term-document matrix: nonzeros per token id.
            indptr = np.asarray(self.bm25.scores["indptr"])
            self._doc_freq = np.diff(indptr)
        tid = self.vocab.get(token)
        return 0 if tid is None else int(self._doc_freq[tid])

    def idf(self, token: str) -> float:
        """Smoothed inverse document frequency; a word no passage has gets the highest weight."""
        df = self.doc_freq(token)
        return math.log(1 + (self.n_docs - df + 0.5) / (df + 0.5))
