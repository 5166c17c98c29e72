"""Passages through ONNX fp32 (index.models.onnx_encoders.OnnxPassageEncoder): order, faithfulness to torch, the switch."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from index.models import onnx_encoders
from index.config import IndexConfig, load_config
from index.models.encoder import EncoderError, encoder_for, load_encoder

PASSAGES = [
    "国务院总理李强主持召开国务院常务会议，研究部署进一步做好稳就业工作。",
    "央视网消息（新闻联播）：2020年新年戏曲晚会在国家大剧院举行。党和国家领导人习近平、李克强、栗战书、汪洋、"
    "王沪宁、赵乐际、韩正、王岐山等，同首都近千名群众欢聚一堂，一起观看演出，迎接新年的到来。",
    "習近平在北京人民大會堂會見了來訪的法國總統。",
    "疫情",
    "新冠肺炎疫情发生后，全国各地医疗队驰援湖北武汉。",
    "中国人民银行决定下调金融机构存款准备金率0.5个百分点，释放长期资金约8000亿元。" * 8,  # past 256 tokens
    "The People's Bank of China cut the reserve requirement ratio by 0.5 percentage points.",
    "  前后都有空格  ",
]


def test_length_sorted_batches_cover_every_index_once():
    lengths = [5, 1, 9, 9, 3, 7, 2, 8, 6, 4, 9]
    batches = onnx_encoders.length_sorted_batches(lengths, 4)
    flat = np.concatenate(batches)
    assert sorted(flat.tolist()) == list(range(len(lengths)))
    assert [len(b) for b in batches] == [4, 4, 3]
    widths = [[lengths[i] for i in b] for b in batches]
    assert all(max(w) - min(w) <= 3 for w in widths)  # neighbours in length share a batch
    assert onnx_encoders.length_sorted_batches([], 16) == []


@pytest.fixture(scope="module")
def onnx_encoder(default_encoder):
    """The configured encoder with passages through ONNX (export made once per machine, in the model folder)."""
    if getattr(default_encoder, "passage_backend", None) != "onnx":
        pytest.skip("config.toml does not embed passages through ONNX")
    enc = default_encoder.onnx_passage_encoder()
    assert enc is not None, "the ONNX passage export could not be made"
    return default_encoder


@pytest.fixture(scope="module")
def torch_encoder(default_encoder, e5_encoder):
    """conftest's: the same model and max_seq_length with passages on torch (loaded once per session)."""
    assert (e5_encoder.name, e5_encoder.max_seq_length) == (default_encoder.name, default_encoder.max_seq_length)
    return e5_encoder


def test_onnx_passage_vectors_match_torch(onnx_encoder, torch_encoder):
    fast = onnx_encoder.encode_passages(PASSAGES)
    slow = torch_encoder.encode_passages(PASSAGES)
    assert fast.shape == slow.shape == (len(PASSAGES), onnx_encoder.dim) and fast.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(fast, axis=1), 1.0, atol=1e-4)
    cos = (fast * slow).sum(axis=1)
    assert cos.min() >= 0.99, cos
    assert cos.min() >= 0.9999, cos  # fp32 both ways: an index built under torch stays valid


def test_length_sorted_encoding_returns_the_input_order(onnx_encoder):
    """Batches are formed by token length, yet row i is always the vector of text i."""
    one_by_one = np.stack([onnx_encoder.encode_passages([t])[0] for t in PASSAGES])
    for batch_size in (1, 3, 16):
        together = onnx_encoder.encode_passages(PASSAGES, batch_size=batch_size)
        np.testing.assert_allclose(together, one_by_one, atol=2e-5)
    shuffled = [PASSAGES[i] for i in (5, 0, 7, 3, 1, 6, 2, 4)]
    np.testing.assert_allclose(onnx_encoder.encode_passages(shuffled, batch_size=3),
                               one_by_one[[5, 0, 7, 3, 1, 6, 2, 4]], atol=2e-5)
    assert onnx_encoder.encode_passages([]).shape == (0, onnx_encoder.dim)


def test_the_config_switch_selects_the_passage_backend(project_config, default_encoder, torch_encoder):
    assert project_config.index.passage_backend == "onnx" and IndexConfig().passage_backend == "onnx"
    assert default_encoder.passage_backend == "onnx"
    assert torch_encoder.passage_backend == "torch"
    torch_encoder.encode_passages(PASSAGES[:1])
    assert torch_encoder.passage_sessions == ()  # torch never made an ONNX session
    torch_config = dataclasses.replace(project_config.index, passage_backend="torch")
    assert encoder_for(torch_config).passage_backend == "torch"
    with pytest.raises(EncoderError, match="passage_backend"):
        encoder_for(dataclasses.replace(project_config.index, passage_backend="gpu"))


def test_config_file_key_is_read(tmp_path):
    (tmp_path / "config.toml").write_text('[index]\npassage_backend = "torch"\n', encoding="utf-8")
    assert load_config(tmp_path / "config.toml").index.passage_backend == "torch"


def test_passage_nice_is_read_from_the_config(tmp_path, project_config, default_encoder):
    (tmp_path / "config.toml").write_text("[index]\npassage_nice = 0\n", encoding="utf-8")
    assert load_config(tmp_path / "config.toml").index.passage_nice == 0 and IndexConfig().passage_nice == 10
    assert default_encoder.passage_nice == 1  # conftest's default_encoder embeds at nice 1
    assert encoder_for(dataclasses.replace(project_config.index, passage_nice=3)).passage_nice == 3


def test_int8_passage_vectors_are_close_to_torch_but_their_own_kind(onnx_encoder, torch_encoder):
    int8 = onnx_encoder.encode_passages(PASSAGES, vectors="int8")
    fp32 = torch_encoder.encode_passages(PASSAGES)
    assert int8.shape == fp32.shape and int8.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(int8, axis=1), 1.0, atol=1e-4)
    cos = (int8 * fp32).sum(axis=1)
    assert cos.min() >= 0.98, cos  # per-channel int8: ~0.997 on news paragraphs
    assert cos.max() < 0.99999  # another kind of vector: an index must not mix it with fp32 ones
    assert onnx_encoder.onnx_passage_encoder("int8").path.name == onnx_encoders.PASSAGE_INT8_FILE
    # The kind, not the backend, decides: a torch-configured encoder makes int8 vectors through ONNX too.
    # (Dynamic quantization scales activations per batch, so a text's int8 vector also depends a little
    # on the texts batched with it: close, not equal.)
    again = torch_encoder.encode_passages(PASSAGES[:3], vectors="int8")
    assert (again * int8[:3]).sum(axis=1).min() >= 0.995
    assert "fp32" not in torch_encoder.passage_sessions
    with pytest.raises(EncoderError, match="kind of passage vector"):
        onnx_encoder.encode_passages(PASSAGES[:1], vectors="int4")
