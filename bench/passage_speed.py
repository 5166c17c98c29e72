"""Passage embedding: torch fp32 (today) against ONNX Runtime variants, in one interleaved run.

    python bench/passage_speed.py [--n 2000] [--seed 0] [--questions 0] [--embed-load 1000]
                                  [--quality-only | --latency-only]

Prints, for a seeded sample of xwlb-2020 paragraph passages (as the index splits them):
  1. passages/s per variant, timed round-robin over the same chunks (the machine's speed drifts
     ±30 % between runs and other jobs share its 2 cores, so only ratios within one run compare),
     and each variant's cosine to the torch fp32 vectors;
  2. CMRC 2018 dev hybrid R@1/R@5 with each distinct kind of passage vector (questions through the
     configured int8 ONNX question encoder for every row; `--questions N` evaluates the first N);
  3. question latency (encode_queries and Retriever.search) idle and while 1,000 passages are being
     embedded in the same process by each backend.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from index.models import onnx_encoders  # noqa: E402
from index.config import load_config  # noqa: E402
from index.models.encoder import load_encoder  # noqa: E402
from index.schema import PARAGRAPH  # noqa: E402
from index.ingest.seeds import read_seed_file  # noqa: E402
from index.ingest.split import split_article  # noqa: E402

XWLB = ROOT.parent / "shared" / "data" / "xwlb" / "xwlb-2020.jsonl"
CMRC = ROOT.parent / "shared" / "data" / "cmrc2018" / "cmrc2018_dev.json"


DEFAULT = "ONNX fp32, fused offline, 2 threads, length-sorted"  # the default's vectors (at normal priority)


def sample_passages(n: int, seed: int, max_chars: int) -> list[str]:
    """A seeded random sample of xwlb-2020 paragraph passages, as the index embeds them (index_text)."""
    batch = read_seed_file(XWLB)
    texts = [d.index_text for a in batch.articles for d in split_article(a, max_chars) if d.kind == PARAGRAPH]
    return random.Random(seed).sample(texts, min(n, len(texts)))


def load_avg() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def make_variants(enc, work: Path, batch: int) -> dict:
    """name -> (encode function, vector kind). Builds the ONNX files it needs into `work`."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    import onnx

    model, prompt = enc.model, enc.prompts[1]
    folder = Path(enc._path)
    fused = folder / onnx_encoders.PASSAGE_FILE
    if not fused.is_file():
        onnx_encoders.ensure_passage_model(model, fused)
    raw = work / "passage-fp32-unfused.onnx"
    if not raw.is_file():
        onnx_encoders.export_passage_model(model, raw, optimize=False)
    int8_pc = onnx_encoders.ensure_passage_int8(fused, folder / onnx_encoders.PASSAGE_INT8_FILE)  # per-channel
    int8 = work / "passage-int8.onnx"  # one scale per tensor (the first int8 tried)
    if not int8.is_file():
        quantize_dynamic(str(fused), str(int8), weight_type=QuantType.QInt8,
                         extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
    tok = folder / "tokenizer.json"
    L = enc.max_seq_length

    def torch_today(texts):
        return enc._encode(texts, prompt, batch, False)

    def torch_unsorted(texts):
        # One encode call per batch of 16 in the input order: what padding costs without sorting.
        return np.concatenate([enc._encode(texts[i:i + batch], prompt, batch, False)
                               for i in range(0, len(texts), batch)])

    sessions: dict = {}  # one session per (file, threads): each fp32 one holds ~0.5-1 GiB

    def onnx(path, threads, nice=0, tokens=None):  # speed rows at normal priority: the nice only matters under contention
        key = (path, threads, nice, tokens)
        if key not in sessions:
            sessions[key] = onnx_encoders.OnnxPassageEncoder(path, tok, prompt, L, threads=threads, nice=nice,
                                                         max_batch_tokens=tokens)
        e = sessions[key]
        return lambda texts: e.encode(texts, batch)

    torch.set_num_threads(2)
    return {
        "torch fp32, batch 16 (today; sentence-transformers sorts each call by characters)": (torch_today, "fp32"),
        "torch fp32, batches in input order (unsorted)": (torch_unsorted, "fp32"),
        "ONNX fp32, ORT graph opt. only, 2 threads, length-sorted": (onnx(raw, 2), "fp32"),
        "ONNX fp32, fused offline, 2 threads, length-sorted": (onnx(fused, 2), "fp32"),
        "ONNX fp32, fused offline, 1 thread, length-sorted": (onnx(fused, 1), "fp32"),
        "ONNX fp32, 2 threads, nice 10 (default)": (onnx(fused, 2, nice=10), "fp32"),
        "ONNX fp32, 1 thread, nice 10": (onnx(fused, 1, nice=10), "fp32"),
        "ONNX int8, fused offline, 1 thread, length-sorted": (onnx(int8, 1), "int8"),
        "ONNX int8, fused offline, 2 threads, length-sorted": (onnx(int8, 2), "int8"),
        "ONNX int8 per-channel, fused offline, 2 threads, length-sorted": (onnx(int8_pc, 2), "int8pc"),
        "ONNX fp32, fused offline, 2 threads, batches <= 256 tokens": (onnx(fused, 2, tokens=256), "fp32"),
        "ONNX fp32, fused offline, 2 threads, batches <= 512 tokens": (onnx(fused, 2, tokens=512), "fp32"),
        "ONNX fp32, fused offline, 2 threads, batches <= 1024 tokens": (onnx(fused, 2, tokens=1024), "fp32"),
        "ONNX int8 per-channel, fused offline, 2 threads, batches <= 512 tokens": (onnx(int8_pc, 2, tokens=512), "int8pc"),
    }


def speed(variants: dict, texts: list[str], rounds: int) -> dict:
    """Round-robin over chunks: each round every variant embeds the same chunk, in a rotated order."""
    names = list(variants)
    for name in names:  # warm-up (first-run allocations, lazy model loads)
        variants[name][0](texts[:8])
    chunks = np.array_split(np.arange(len(texts)), rounds)
    spent = {n: 0.0 for n in names}
    vectors = {n: np.zeros((len(texts), 384), np.float32) for n in names}
    for r, idx in enumerate(chunks):
        chunk = [texts[i] for i in idx]
        order = names[r % len(names):] + names[: r % len(names)]
        for name in order:
            started = time.perf_counter()
            v = variants[name][0](chunk)
            spent[name] += time.perf_counter() - started
            vectors[name][idx] = v
        print(f"  round {r + 1}/{rounds} done (load {load_avg()})", file=sys.stderr, flush=True)
    base = names[0]
    out = {}
    for name in names:
        cos = (vectors[name] * vectors[base]).sum(1)
        out[name] = {"per_s": len(texts) / spent[name], "cos_min": float(cos.min()), "cos_mean": float(cos.mean())}
    return out, vectors


class VariantEncoder:
    """The configured encoder with its passages embedded by one variant (questions unchanged)."""

    def __init__(self, base, fn):
        self.name, self.dim, self._base, self._fn = base.name, base.dim, base, fn

    def encode_passages(self, texts, batch_size=16, show_progress=False):
        return self._fn(list(texts))

    def encode_queries(self, texts):
        return self._base.encode_queries(texts)


def quality(enc, fn, config, limit: int | None, work: Path) -> dict:
    from bench.retrieval_eval import evaluate

    result = evaluate(CMRC, VariantEncoder(enc, fn), config.index, config.retrieval, work_dir=work,
                      limit=limit, tune=False, progress=False)
    hybrid = next(v for k, v in result["table"].items() if k.startswith("hybrid"))
    return {"R@1": hybrid["R@1"], "R@5": hybrid["R@5"], "questions": result["questions"]}


def pct(xs, q):
    return float(np.percentile(xs, q)) if xs else float("nan")


def question_latency(enc, retriever, questions: list[str], load_fn=None, load_texts=None) -> dict:
    """encode_queries and Retriever.search latency (ms) idle, or while `load_fn` embeds `load_texts`."""
    enc_ms, search_ms = [], []
    done = threading.Event()
    embed = {}

    def background():
        started = time.perf_counter()
        load_fn(load_texts)
        embed["per_s"] = len(load_texts) / (time.perf_counter() - started)
        done.set()

    if load_fn is not None:
        worker = threading.Thread(target=background, daemon=True)
        worker.start()
        time.sleep(0.5)
    i = 0
    while True:
        q = questions[i % len(questions)]
        t = time.perf_counter()
        enc.encode_queries([q])
        enc_ms.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        retriever.search(q)
        search_ms.append((time.perf_counter() - t) * 1000)
        i += 1
        time.sleep(0.02)  # questions arrive one at a time, not back to back
        if load_fn is None and i >= len(questions):
            break
        if load_fn is not None and done.is_set():
            break
    return {"n": i, "enc_p50": pct(enc_ms, 50), "enc_p95": pct(enc_ms, 95), "search_p50": pct(search_ms, 50),
            "search_p95": pct(search_ms, 95), "embed_per_s": embed.get("per_s")}


def print_table(table: dict, rows: dict, base: float) -> None:
    print("\n| passage encoder | passages/s | × today | cosine to torch fp32 (min / mean) | CMRC hybrid R@1 | R@5 |")
    print("|---|---|---|---|---|---|")
    for name, m in table.items():
        q = rows.get(name, {})
        r1 = f"{q['R@1']:.3f}" if q else "–"
        r5 = f"{q['R@5']:.3f}" if q else "–"
        print(f"| {name} | {m['per_s']:.1f} | {m['per_s'] / base:.2f} | {m['cos_min']:.4f} / {m['cos_mean']:.4f} "
              f"| {r1} | {r5} |", flush=True)
    print(f"(load {load_avg()})", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2000, help="passages in the speed sample")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--rounds", type=int, default=8)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--questions", type=int, default=0, help="CMRC questions for R@1 (0: all 3,219; -1: skip)")
    ap.add_argument("--embed-load", type=int, default=1000, help="passages embedded while questions are timed")
    ap.add_argument("--quality-only", action="store_true",
                    help="only the CMRC evaluation (ONNX kinds first, torch last), e.g. beside a timing run")
    ap.add_argument("--latency-only", action="store_true", help="only the question latency while embedding")
    ap.add_argument("--latency-rows", help="';'-separated substrings: only the latency rows whose name has one")
    ap.add_argument("--latency-repeat", type=int, default=1, help="run the latency rows this many times, interleaved")
    ap.add_argument("--work", type=Path, default=ROOT / "var" / "bench" / "passage_speed")
    args = ap.parse_args()

    config = load_config(ROOT / "config.toml")
    enc = load_encoder(config.index.model, max_seq_length=config.index.max_seq_length,
                       query_backend=config.index.query_backend, passage_backend="torch")
    args.work.mkdir(parents=True, exist_ok=True)
    texts = sample_passages(args.n, args.seed, config.index.max_passage_chars)
    lengths = [len(t) for t in texts]
    print(f"xwlb-2020: {len(texts)} paragraph passages (seed {args.seed}), chars p50 {statistics.median(lengths):.0f}, "
          f"max {max(lengths)}; max_seq_length {enc.max_seq_length}, batch {args.batch}; load {load_avg()}")
    variants = make_variants(enc, args.work, args.batch)

    latency_variants = dict(variants)
    # The niced path is only for the latency table: its speed depends on what else runs.
    niced = variants.pop("ONNX fp32, 2 threads, nice 10 (default)")
    niced1 = variants.pop("ONNX fp32, 1 thread, nice 10")
    if args.latency_only:
        table, base, args.questions = {}, float("nan"), -1
    elif args.quality_only:
        nan = {"per_s": float("nan"), "cos_min": float("nan"), "cos_mean": float("nan")}
        table, base = {name: dict(nan) for name in variants}, float("nan")
        # The ONNX default and int8 first, torch (the slowest to embed the CMRC contexts) last.
        key = lambda kv: (0 if kv[0] == DEFAULT else 1 if kv[1][1].startswith("int8") else
                          2 if kv[0].startswith("torch fp32, batch 16") else 3)
        variants = dict(sorted(variants.items(), key=key))
        args.embed_load = 0
    else:
        table, _ = speed(variants, texts, args.rounds)
        base = next(iter(table.values()))["per_s"]
        print_table(table, {}, base)

    rows = {}
    if args.questions >= 0:
        limit = args.questions or None
        done_kinds: dict[str, dict] = {}
        for name, (fn, kind) in variants.items():
            # Variants that differ only in batching or threads compute the same vectors (cosine ≥ 0.9999
            # above): evaluate the first of each kind plus the ONNX default, reuse for the rest.
            if kind in done_kinds and name != DEFAULT and not name.startswith("torch fp32, batch 16"):
                rows[name] = dict(done_kinds[kind], note="same vectors as above")
                continue
            with tempfile.TemporaryDirectory(dir=args.work) as tmp:
                rows[name] = quality(enc, fn, config, limit, Path(tmp))
            done_kinds.setdefault(kind, rows[name])
            print(f"  R@1 {rows[name]['R@1']:.4f} for {name} (load {load_avg()})", file=sys.stderr, flush=True)

    if rows:
        print_table(table, rows, base)
        print(f"(R@1 over {next(iter(rows.values()))['questions']} CMRC dev questions; load {load_avg()})")

    if args.embed_load > 0:
        from index import build_index, Retriever
        from bench.retrieval_eval import load_squad, write_corpus

        articles, qs = load_squad(CMRC)
        questions = [q.text for q in qs[:200]]
        index_dir = args.work / "cmrc-index"
        if not (index_dir / "current").exists():
            corpus = write_corpus(articles, args.work / "cmrc-corpus")
            onnx_enc = VariantEncoder(enc, variants["ONNX fp32, fused offline, 2 threads, length-sorted"][0])
            build_index([corpus], index_dir, onnx_enc, config.index, progress=False)
        retriever = Retriever.load(index_dir, enc, config.retrieval)
        load_texts = sample_passages(args.embed_load, args.seed + 1, config.index.max_passage_chars)
        cases = {"idle": None,
                 "torch fp32 (today), 2 threads": next(fn for n, (fn, _) in variants.items() if n.startswith("torch fp32, batch 16")),
                 "ONNX fp32, 2 threads": variants["ONNX fp32, fused offline, 2 threads, length-sorted"][0],
                 "ONNX fp32, 2 threads, nice 10 (the default)": niced[0],
                 "ONNX fp32, 1 thread, nice 10": niced1[0],
                 "ONNX fp32, 1 thread, normal priority": latency_variants["ONNX fp32, fused offline, 1 thread, length-sorted"][0]}
        if args.latency_rows:
            cases = {k: v for k, v in cases.items() if k == "idle" or any(r in k for r in args.latency_rows.split(";"))}
        print(f"\n| while embedding {args.embed_load} passages in-process | questions timed | encode_queries p50 / p95 ms "
              "| Retriever.search p50 / p95 ms | passages/s meanwhile |")
        print("|---|---|---|---|---|")
        # --latency-repeat N: the rows N times over, interleaved (load drifts between rows as much as they differ).
        order = [name for _ in range(args.latency_repeat) for name in cases]
        for name in order:
            fn = cases[name]
            m = question_latency(enc, retriever, questions, fn, load_texts if fn else None)
            per_s = f"{m['embed_per_s']:.1f}" if m["embed_per_s"] else "–"
            print(f"| {name} | {m['n']} | {m['enc_p50']:.1f} / {m['enc_p95']:.1f} | {m['search_p50']:.1f} / "
                  f"{m['search_p95']:.1f} | {per_s} |", flush=True)
        print(f"(questions one at a time, 20 ms apart, from CMRC dev; index of its {retriever.vectors} passages; "
              f"load {load_avg()})")
        retriever.close()


if __name__ == "__main__":
    main()
