"""Per-index calibration: what a question unrelated to the index scores on it, measured when a version is opened.

A raw cosine means different things on different indexes: e5's level moves with passage length,
domain and corpus size, so a fixed line on it refuses answers on one corpus and quotes chatter on
another. Here every passage gets a baseline, the mean and spread of its cosine to a fixed set of
questions no news index answers (chatter, cooking, coding… shipped in data/), and a candidate
counts by how far its cosine stands above its own passage's baseline. How far the best passage
of an index stands out by chance grows with its size, so the same unrelated questions asked of the
whole index (each half against a baseline made from the other half) give its chance level; a
candidate's ``standing`` is its distance above that level, in units of its spread. The same
number means the same on the 44-passage seed and on 144k passages.

Measured at open, not at build: it is always that of the version at hand (adds included), costs
one matrix product of the unrelated questions with every stored vector (~1 s at 144k passages on
2 cores) and the questions' encoding once per process.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np

logger = logging.getLogger(__name__)

MIN_SD = 1e-3  # a passage every unrelated question scores alike still divides by something
BLOCK = 8192  # passages scored per block: bounded memory on any index size


@dataclass(frozen=True)
class Baseline:
    """Each row's unrelated cosines (mean, spread) and the index's chance level; rows without a vector are NaN."""

    mean: np.ndarray
    sd: np.ndarray
    chance_mean: float
    chance_sd: float
    questions: int

    def standing(self, row: int, cosine: float) -> float:
        """How far a candidate's cosine stands above what an unrelated question reaches on this index."""
        z = (cosine - float(self.mean[row])) / float(self.sd[row])
        return (z - self.chance_mean) / self.chance_sd

    def summary(self) -> dict:
        """The figures `index stats` shows."""
        return {"questions": self.questions, "chance_mean": round(self.chance_mean, 3),
                "chance_sd": round(self.chance_sd, 3)}


def unrelated_questions() -> list[str]:
    """The shipped questions no news index answers (one per line)."""
    text = resources.files("index.search").joinpath("data/unrelated_questions.txt").read_text(encoding="utf-8")
    return [line.strip() for line in text.splitlines() if line.strip()]


@lru_cache(maxsize=4)
def question_vectors(encoder) -> np.ndarray:
    """The unrelated questions' embeddings, once per encoder in a process."""
    from index.search.query import prepare

    texts = [prepare(q).text for q in unrelated_questions()]
    return np.ascontiguousarray(encoder.encode_queries(texts), dtype=np.float32)


def baseline_of(questions: np.ndarray, passages: np.ndarray) -> tuple[np.ndarray, np.ndarray, float, float]:
    """Each passage's mean and spread of cosines to the questions, and the chance level's mean and spread.

    The chance level is measured out of sample: each half of the questions is scored against a
    baseline made from the other half, so it is what a new unrelated question reaches.
    """
    n = len(passages)
    mean, sd = np.empty(n, dtype=np.float32), np.empty(n, dtype=np.float32)
    half = np.arange(len(questions)) % 2 == 0
    best = np.full(len(questions), -np.inf)
    for start in range(0, n, BLOCK):
        cos = questions @ np.asarray(passages[start:start + BLOCK], dtype=np.float32).T
        mean[start:start + BLOCK] = cos.mean(0)
        sd[start:start + BLOCK] = np.maximum(cos.std(0), MIN_SD)
        for fit, score in ((half, ~half), (~half, half)):
            mu, spread = cos[fit].mean(0), np.maximum(cos[fit].std(0), MIN_SD)
            best[score] = np.maximum(best[score], ((cos[score] - mu) / spread).max(1))
    return mean, sd, float(best.mean()), float(max(best.std(), MIN_SD))


def calibrate(encoder, vectors, n_rows: int) -> Baseline | None:
    """The Baseline of a version's stored vectors (index.store.stored.VersionVectors); None without any."""
    if encoder is None or vectors is None or not vectors.count:
        return None
    rows = np.flatnonzero(vectors.position_of_row >= 0)
    questions = question_vectors(encoder)
    if questions.shape[1] != vectors.at(rows[:1]).shape[1]:
        logger.warning("the encoder's dimension differs from the index's vectors: no calibration")
        return None
    row_mean, row_sd = np.full(n_rows, np.nan, dtype=np.float32), np.full(n_rows, np.nan, dtype=np.float32)
    mean, sd, chance_mean, chance_sd = baseline_of(questions, _Rows(vectors, rows))
    row_mean[rows], row_sd[rows] = mean, sd
    return Baseline(row_mean, row_sd, chance_mean, chance_sd, len(questions))


class _Rows:
    """The stored vectors of these rows, read a block at a time (a slice reads only that block)."""

    def __init__(self, vectors, rows: np.ndarray):
        self._vectors, self._rows = vectors, rows

    def __len__(self) -> int:
        return len(self._rows)

    def __getitem__(self, block: slice) -> np.ndarray:
        return self._vectors.at(self._vectors.position_of_row[self._rows[block]])
