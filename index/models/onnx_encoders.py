"""Questions encoded by an int8 ONNX copy of the model: ~5 ms instead of ~18 ms under torch on 2 cores.

The int8 query vectors stay close to the fp32 ones (cosine ≈ 0.99), and retrieval quality is measured
with `python bench/retrieval_eval.py`.

Passages go through an fp32 ONNX export of the same model (`PASSAGE_FILE`, `OnnxPassageEncoder`): the
same vectors as torch fp32 (cosine ≥ 0.9999), so indexes built under torch stay valid; as fast as torch
on a quiet 2-core machine and ~2x when other work shares the cores (`python bench/passage_speed.py`),
in batches of similar token length, at a lower priority so questions go first while a feed batch is
embedded.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from index.models.once import make_once

logger = logging.getLogger(__name__)

QUERY_FILE = "query-int8.onnx"
# A question is encoded from its first MAX_QUERY_TOKENS tokens (prompt included): attention costs
# grow with the square of the length, and a pasted 500-character "question" took 160–270 ms at the
# model's 256 tokens on 2 busy cores. Every CMRC 2018 dev question has at most 49 tokens.
MAX_QUERY_TOKENS = 64


def _exportable(module_names: list[str], pooling: dict) -> bool:
    """The plain Transformer + mean Pooling (+ Normalize) layout this export reproduces.

    `pooling` holds the Pooling module's settings (attributes of a loaded one, or its config.json).
    """
    if module_names[:2] != ["Transformer", "Pooling"] or set(module_names[2:]) - {"Normalize"}:
        return False
    mode = pooling.get("pooling_mode")
    if mode is None:  # sentence-transformers <= 5: one flag per mode
        mode = "mean" if pooling.get("pooling_mode_mean_tokens") else "other"
    # Mean over every token, prompt included, is what the exported graph computes.
    return mode == "mean" and pooling.get("include_prompt", True) is not False


def supports(st_model) -> bool:
    """True for the plain Transformer + mean Pooling (+ Normalize) models this export reproduces."""
    # Class names, not isinstance: sentence-transformers 5 and 6 keep these classes in different modules.
    names = [type(m).__name__ for m in st_model]
    return len(names) >= 2 and _exportable(names, vars(st_model[1]))


def export_query_model(st_model, out: Path) -> Path:
    """Export the transformer with mean pooling and L2 norm to ONNX, quantize it to int8, write `out` atomically."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    transformer = st_model[0]
    hf = getattr(transformer, "auto_model", None) or transformer.model
    out.parent.mkdir(parents=True, exist_ok=True)
    sample = transformer.tokenizer(["query: 示例"], return_tensors="pt")
    with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
        fp32 = Path(tmp) / "query-fp32.onnx"
        _trace(hf, sample, fp32)
        int8 = Path(tmp) / QUERY_FILE
        quantize_dynamic(str(fp32), str(int8), weight_type=QuantType.QInt8)
        os.replace(int8, out)
    return out


PASSAGE_FILE = "passage-fp32.onnx"


def export_passage_model(st_model, out: Path, optimize: bool = True) -> Path:
    """Export the transformer with mean pooling and L2 norm to fp32 ONNX at `out` (atomically).

    The graph is traced with eager attention (the pattern ONNX Runtime's transformer optimizer fuses)
    and, with `optimize`, fused offline (Attention, SkipLayerNormalization, BiasGelu) so that a session
    starts without redoing it. fp32 keeps the vectors those of torch; int8 would change them.
    """
    transformer = st_model[0]
    hf = getattr(transformer, "auto_model", None) or transformer.model
    config = hf.config
    before = getattr(config, "_attn_implementation", None)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    sample = transformer.tokenizer(["passage: 示例", "passage: 长一些的示例文本"], return_tensors="pt", padding=True)
    with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
        raw = Path(tmp) / "raw.onnx"
        try:
            if before is not None and hasattr(hf, "set_attn_implementation"):
                hf.set_attn_implementation("eager")
            _trace(hf, sample, raw)
        finally:
            if before is not None and hasattr(hf, "set_attn_implementation"):
                hf.set_attn_implementation(before)
        final = raw
        if optimize:
            try:
                from onnxruntime.transformers.optimizer import optimize_model

                fused = optimize_model(str(raw), model_type="bert", num_heads=int(config.num_attention_heads),
                                       hidden_size=int(config.hidden_size), opt_level=1)
                final = Path(tmp) / "fused.onnx"
                fused.save_model_to_file(str(final))
            except Exception as e:  # the optimizer is best effort: the raw graph gives the same vectors
                logger.warning("ONNX transformer optimizer failed (%s); keeping the unfused graph", e)
                final = raw
        os.replace(final, out)
    return out


PASSAGE_INT8_FILE = "passage-int8.onnx"


def quantize_passage_model(fp32: Path, out: Path, per_channel: bool = True) -> Path:
    """Dynamic int8 quantization of the fused fp32 passage graph (MatMul and Attention weights) at `out`.

    Per-channel weight scales keep the vectors closer to fp32 than one scale per tensor (cosine to torch
    on 400 xwlb passages: mean 0.997, min 0.995, instead of 0.988 / 0.979; bench/passage_speed.py).
    """
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
        int8 = Path(tmp) / out.name
        quantize_dynamic(str(fp32), str(int8), weight_type=QuantType.QInt8, per_channel=per_channel,
                         extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
        os.replace(int8, out)
    return out


def ensure_passage_int8(fp32: Path, out: Path) -> Path:
    """The int8 passage model at `out`, quantized once (under a file lock) from the fp32 export if missing."""
    return make_once(out, out.is_file, lambda: quantize_passage_model(fp32, out), "ONNX int8 passage encoder (~10 s)",
                     ".onnx-export.lock")


def _trace(hf, sample, path: Path) -> None:
    """Trace the pooled encoder on a tokenized sample into an ONNX file with dynamic batch and length."""
    import torch

    with torch.no_grad():
        torch.onnx.export(
            _pooled(hf).eval(), (sample["input_ids"], sample["attention_mask"]), str(path),
            input_names=["input_ids", "attention_mask"], output_names=["embedding"],
            dynamic_axes={"input_ids": {0: "batch", 1: "tokens"}, "attention_mask": {0: "batch", 1: "tokens"},
                          "embedding": {0: "batch"}},
            opset_version=17, dynamo=False,
        )


def _pooled(hf):
    """The Hugging Face encoder followed by mean pooling over the mask and L2 normalisation."""
    import torch

    class Pooled(torch.nn.Module):
        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask):
            hidden = self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, dim=-1)

    return Pooled(hf)


def ensure_passage_model(st_model, out: Path) -> Path:
    """The fp32 passage model at `out`, exported once (under a file lock) if missing."""
    return make_once(out, out.is_file, lambda: export_passage_model(st_model, out), "ONNX fp32 passage encoder (~30-60 s)",
                     ".onnx-export.lock")


def length_sorted_batches(lengths: Sequence[int], batch_size: int, max_tokens: int | None = None) -> list[np.ndarray]:
    """Indices of the texts in batches of similar length (longest first), every index exactly once.

    With `max_tokens`, a batch also stops before its padded size (texts × longest) would pass it
    (a text longer than that alone is a batch of one)."""
    lengths = np.asarray(lengths, dtype=np.int64)
    order = np.argsort(-lengths, kind="stable")
    size = max(1, batch_size)
    if not max_tokens:
        return [order[i : i + size] for i in range(0, len(order), size)]
    batches, start = [], 0
    while start < len(order):
        width = max(1, int(lengths[order[start]]))  # the longest of the batch: sorted longest first
        n = max(1, min(size, max_tokens // width))
        batches.append(order[start : start + n])
        start += n
    return batches


class OnnxPassageEncoder:
    """Encode passages with the fp32 ONNX model: tokenized once, run in batches of similar token length.

    `threads` is the session's intra-op thread budget (1 leaves the other core of a 2-core machine to
    the questions the bot answers meanwhile, but halves the speed on a quiet machine). The session is made, and each `encode` runs, in a thread
    of its own at `nice` (Linux: a per-thread priority, inherited by the session's pool threads): when
    other work shares the cores, questions get the CPU first. Vectors come back in the input order.
    `max_batch_tokens` also bounds a batch by its padded size.
    """

    def __init__(self, path: Path, tokenizer_json: Path, prompt: str | None, max_seq_length: int,
                 threads: int = 1, nice: int = 10, max_batch_tokens: int | None = None):
        import onnxruntime as ort
        from tokenizers import Tokenizer

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # Idle pool threads sleep instead of spinning: a spinning one would take the core a question needs.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.path, self.threads, self.nice = Path(path), threads, nice
        self.max_batch_tokens = max_batch_tokens
        # The session's pool threads inherit the nice value of the thread that creates them.
        self._session = self._niced(lambda: ort.InferenceSession(str(path), options,
                                                                 providers=["CPUExecutionProvider"]))
        self._tok = Tokenizer.from_file(str(tokenizer_json))
        self._tok.enable_truncation(max_length=max_seq_length)
        self._tok.no_padding()
        pad = self._tok.token_to_id("<pad>")
        self._pad = pad if pad is not None else 0
        self._prompt = prompt or ""
        self.dim = int(self._session.get_outputs()[0].shape[-1] or 0) or None
        self._lock = threading.Lock()  # one batch job at a time; the Rust tokenizer is not shareable

    def encode(self, texts: Sequence[str], batch_size: int = 16, progress=None) -> np.ndarray:
        """L2-normalised float32 vectors in the order of `texts`. `progress(n)` is called per batch."""
        if not texts:
            return np.zeros((0, self.dim or 0), np.float32)
        return self._niced(lambda: self._encode(texts, batch_size, progress))

    def _niced(self, fn):
        """fn() in a thread of its own at `self.nice` (Linux: per thread), or here when nice is 0."""
        if not self.nice or not hasattr(os, "setpriority"):
            return fn()
        result: dict = {}

        def work():
            try:
                os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), self.nice)  # this thread only
            except OSError:
                pass
            try:
                result["value"] = fn()
            except BaseException as e:  # re-raised in the caller
                result["error"] = e

        worker = threading.Thread(target=work, name="embed-passages", daemon=True)
        worker.start()
        worker.join()
        if "error" in result:
            raise result["error"]
        return result["value"]

    def _encode(self, texts: Sequence[str], batch_size: int, progress) -> np.ndarray:
        with self._lock:
            encodings = self._tok.encode_batch([self._prompt + t for t in texts])
            ids = [e.ids for e in encodings]
            out: np.ndarray | None = None
            for batch in length_sorted_batches([len(i) for i in ids], batch_size, self.max_batch_tokens):
                width = max(len(ids[j]) for j in batch)
                input_ids = np.full((len(batch), width), self._pad, dtype=np.int64)
                mask = np.zeros((len(batch), width), dtype=np.int64)
                for row, j in enumerate(batch):
                    input_ids[row, : len(ids[j])] = ids[j]
                    mask[row, : len(ids[j])] = 1
                feeds = {"input_ids": input_ids, "attention_mask": mask}
                vecs = self._session.run(None, feeds)[0]
                if out is None:
                    out = np.zeros((len(texts), vecs.shape[1]), np.float32)
                out[batch] = vecs
                if progress is not None:
                    progress(len(batch))
        return out


def ensure_query_model(st_model, out: Path) -> Path:
    """The int8 query model at `out`, exported once (under a file lock) if missing."""
    return make_once(out, out.is_file, lambda: export_query_model(st_model, out), "ONNX int8 question encoder (~15 s)",
                     ".onnx-export.lock")


@dataclass
class QuerySetup:
    """What answering questions needs of a sentence-transformers folder, read without loading torch."""

    onnx_path: Path
    tokenizer: "FastTokenizer"
    dim: int
    max_seq_length: int
    prompts: dict[str, str]


def load_without_torch(folder: Path, max_seq_length: int) -> QuerySetup | None:
    """The question encoder of a local model folder that already has its int8 export, from the folder's
    own files (tokenizer.json, modules.json, pooling and prompt configs); None when anything is not the
    plain Transformer + mean Pooling (+ Normalize) layout, so the caller loads the model the usual way.

    Start-up then costs the ONNX session and the tokenizer (well under a second) instead of importing
    torch and loading the fp32 weights (several seconds, ~1 GiB), which only embedding passages needs.
    """
    folder = Path(folder)
    onnx, tok = folder / QUERY_FILE, folder / "tokenizer.json"
    if not (folder.is_dir() and onnx.is_file() and tok.is_file()):
        return None
    try:
        modules = json.loads((folder / "modules.json").read_text(encoding="utf-8"))
        kinds = [m["type"].rsplit(".", 1)[-1] for m in modules]
        if len(kinds) < 2 or modules[0]["path"]:
            return None
        pooling = json.loads((folder / modules[1]["path"] / "config.json").read_text(encoding="utf-8"))
        if not _exportable(kinds, pooling):
            return None
        st_config = json.loads((folder / "sentence_bert_config.json").read_text(encoding="utf-8"))
        if st_config.get("do_lower_case"):
            return None  # the tokenizer file alone would not lower-case
        prompts_file = folder / "config_sentence_transformers.json"
        prompts = {}
        if prompts_file.is_file():
            prompts = json.loads(prompts_file.read_text(encoding="utf-8")).get("prompts") or {}
        limit = min(max_seq_length, int(st_config.get("max_seq_length") or max_seq_length))
        dim = int(pooling["word_embedding_dimension"])
    except (OSError, ValueError, KeyError, TypeError, IndexError) as e:
        logger.info("%s: not read without torch (%s); loading the model", folder, e)
        return None
    return QuerySetup(onnx, FastTokenizer(tok, min(limit, MAX_QUERY_TOKENS)), dim, limit, prompts)


class FastTokenizer:
    """The model's tokenizer.json through the `tokenizers` library, called like a transformers tokenizer."""

    def __init__(self, path: Path, max_length: int):
        from tokenizers import Tokenizer

        self._tok = Tokenizer.from_file(str(path))
        self._tok.enable_truncation(max_length=max_length)
        pad = self._tok.token_to_id("<pad>")
        self._tok.enable_padding(pad_id=pad if pad is not None else 0, pad_token="<pad>")

    def __call__(self, texts: list[str], **_ignored) -> dict[str, np.ndarray]:
        encodings = self._tok.encode_batch(texts)
        return {"input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
                "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64)}


class OnnxQueryEncoder:
    """Encode questions with the int8 ONNX model and the model's own tokenizer and prompt."""

    def __init__(self, path: Path, tokenizer, prompt: str | None, max_seq_length: int, threads: int = 2):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        self.path = Path(path)
        self._session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self._tokenizer = tokenizer
        self._prompt = prompt or ""
        self._max = max_seq_length
        self._lock = threading.Lock()  # the Rust tokenizer is not safe for concurrent use

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """L2-normalised float32 vectors, one row per text."""
        with self._lock:
            batch = self._tokenizer([self._prompt + t for t in texts], return_tensors="np", padding=True,
                                    truncation=True, max_length=min(self._max, MAX_QUERY_TOKENS))
        feeds = {"input_ids": batch["input_ids"].astype(np.int64),
                 "attention_mask": batch["attention_mask"].astype(np.int64)}
        return np.ascontiguousarray(self._session.run(None, feeds)[0], dtype=np.float32)
