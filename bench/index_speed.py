"""Indexing speed and query latency on a real news corpus (default: xwlb-2020, 6,246 articles).

Prints: passages/s to a searchable (lexical) index, passages/s of the dense leg, p50/p95/p99 search
latency over 1,000 questions (lexical and hybrid), peak RSS.

Usage:
    python bench/index_speed.py [--corpus ../shared/data/xwlb/xwlb-2020.jsonl] [--dense-sample 512] [--embed-all]

Without --embed-all only a sample is embedded (the whole corpus takes ~30 min on 2 cores); hybrid
latency is then measured against an index whose other passages get the sample's vectors recycled
(so FAISS searches a full-size matrix), which times the same work as a fully embedded index.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def percentiles(ms: list[float]) -> str:
    a = np.array(ms)
    return f"{np.percentile(a, 50):.1f} / {np.percentile(a, 95):.1f} / {np.percentile(a, 99):.1f}"


def questions_from(corpus: Path, n: int, seed: int = 0) -> list[str]:
    """Questions made of real sentences: article titles and sentences from bodies, shuffled."""
    from index.ingest.split import split_sentences

    rng = random.Random(seed)
    pool = []
    with open(corpus, encoding="utf-8") as f:
        for line in f:
            a = json.loads(line)
            pool.append(a["title"])
            sentences = [s for s in split_sentences(a["body"]) if 8 <= len(s) <= 60]
            if sentences:
                pool.append(rng.choice(sentences))
    rng.shuffle(pool)
    return pool[:n]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--corpus", default=str(ROOT.parent / "shared/data/xwlb/xwlb-2020.jsonl"))
    parser.add_argument("--dense-sample", type=int, default=512)
    parser.add_argument("--embed-all", action="store_true")
    parser.add_argument("--questions", type=int, default=1000)
    parser.add_argument("--work-dir")
    args = parser.parse_args()

    import logging

    logging.basicConfig(level=logging.WARNING)
    from index import Retriever, build_index, load_config
    from index import store
    from index.models.encoder import encoder_for

    cfg = load_config(ROOT / "config.toml")
    corpus = Path(args.corpus)
    if not corpus.is_file():
        sys.exit(f"corpus {corpus} not found (it lives in ../shared)")
    work = Path(args.work_dir or tempfile.mkdtemp(prefix="newsbot-bench-"))
    rows = []

    # 1. Lexical leg: corpus -> searchable index.
    t = time.perf_counter()
    report = build_index([corpus], work / "idx", None, cfg.index, embed=False, rebuild=True, progress=False)
    lexical_s = time.perf_counter() - t
    rows.append(("articles / passages", f"{report.articles} / {report.passages}"))
    rows.append(("searchable (lexical) index", f"{lexical_s:.1f} s, {report.passages / lexical_s:.0f} passages/s"))
    rss_lexical = peak_rss_mib()

    # 2. Dense leg.
    encoder = encoder_for(cfg.index)
    version = store.current_version(work / "idx")
    db = store.open_db(version / store.DB)
    texts = [r[0] for r in db.execute("SELECT index_text FROM passages ORDER BY row")]
    db.close()
    rng = random.Random(1)
    sample = texts if args.embed_all else rng.sample(texts, min(args.dense_sample, len(texts)))
    encoder.encode_passages(sample[:16], batch_size=cfg.index.batch_size)  # warm-up
    t = time.perf_counter()
    if args.embed_all:
        from index import embed_missing

        embed_missing(work / "idx", encoder, cfg.index, progress=True)
        vecs = None
    else:
        vecs = encoder.encode_passages(sample, batch_size=cfg.index.batch_size)
    dense_s = time.perf_counter() - t
    rows.append(("dense leg", f"{len(sample) / dense_s:.1f} passages/s ({len(sample)} passages, "
                 f"max_seq_length {cfg.index.max_seq_length}, batch {cfg.index.batch_size}); "
                 f"whole corpus ≈ {len(texts) / (len(sample) / dense_s) / 60:.0f} min"))

    if vecs is not None:
        # Recycle the sample's vectors over every row so FAISS searches a corpus-sized matrix.
        full = vecs[np.arange(len(texts)) % len(vecs)]
        store.write_vectors(version / store.VECTORS, np.arange(len(texts)), full)
        manifest = store.read_manifest(version)
        manifest["counts"]["vectors"] = len(texts)
        manifest["model"], manifest["dim"] = encoder.name, encoder.dim
        (version / store.MANIFEST).write_text(json.dumps(manifest))

    # 3. Latency.
    questions = questions_from(corpus, args.questions)
    lexical = Retriever.load(work / "idx", None, cfg.retrieval, verify=False)
    hybrid = Retriever.load(work / "idx", encoder, cfg.retrieval, verify=False)
    for name, r in (("lexical", lexical), ("hybrid", hybrid)):
        r.search(questions[0])
        ms = []
        for q in questions:
            t = time.perf_counter()
            r.search(q)
            ms.append((time.perf_counter() - t) * 1000)
        rows.append((f"search p50 / p95 / p99, {name}", f"{percentiles(ms)} ms over {len(questions)} questions"))
    rows.append(("peak RSS", f"{rss_lexical:.0f} MiB after the lexical build; {peak_rss_mib():.0f} MiB at the end"))

    print(f"\ncorpus: {corpus.name}, {os.cpu_count()} cores\n")
    print("| measure | value |\n|---|---|")
    for k, v in rows:
        print(f"| {k} | {v} |")


if __name__ == "__main__":
    main()
