"""The Milvus backend (Milvus Lite) beside the local one: retrieval on CMRC dev, build and search timings.

    python bench/milvus_eval.py cmrc [--cache-from var/eval/work/index/cmrc]
    python bench/milvus_eval.py timing [--articles 6246]   (xwlb-2020: 40,219 passages)

`cmrc`: one index of the CMRC 2018 dev contexts (the real e5 encoder; vectors from an embedding
cache when given), searched by both backends: R@1/R@5 of the hybrid ranking (index.evaluate), and
whether `search` finds an answer ("not found" decisions) for every question, agreement between them.

`timing`: the first --articles articles of xwlb-2020, built locally then mirrored into Milvus Lite, and
questions timed on both. Vectors come from HashEncoder(384) (the e5 size; their quality does not
change the cost of storing or searching them), so embedding time is left out of both.

Needs `pip install '.[milvus]'`. Results go to stdout and var/eval/milvus_eval-<mode>.json.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
# One segment for a whole build (Milvus Lite flushes its memtable at 128 MB by default).
os.environ.setdefault("MILVUS_LITE_MEMTABLE_MEMORY_LIMIT_BYTES", str(2 << 30))

from index import Retriever, build_index, load_config  # noqa: E402
from index import store  # noqa: E402
from index.store import milvus
from bench.retrieval_eval import gold_ranks, load_squad, metrics, write_corpus  # noqa: E402

CMRC = Path("/work/shared/data/cmrc2018/cmrc2018_dev.json")
XWLB = ROOT.parent / "shared/data/xwlb/xwlb-2020.jsonl"


def both(index_dir: Path, encoder, cfg, uri: str):
    """The local and the Milvus retriever of one index, and the sync report."""
    mcfg = dataclasses.replace(cfg.index, backend="milvus", milvus_uri=uri, milvus_collection="eval")
    t = time.perf_counter()
    report = milvus.sync_index(index_dir, mcfg, rebuild=True, encoder=encoder)
    report["wall_seconds"] = round(time.perf_counter() - t, 2)
    local = Retriever.load(index_dir, encoder, cfg.retrieval)
    t = time.perf_counter()
    remote = Retriever.load(index_dir, encoder, cfg.retrieval, index_config=mcfg)
    report["load_seconds"] = round(time.perf_counter() - t, 2)
    return local, remote, report


def timed_searches(retriever: Retriever, questions: list[str]) -> tuple[list, dict]:
    out, ms = [], []
    retriever.search(questions[0])  # warm: first-use caches (BM25 weights, Milvus Lite's segment indexes)
    for q in questions:
        t = time.perf_counter()
        out.append(retriever.search(q))
        ms.append((time.perf_counter() - t) * 1000)
    ms = np.array(ms)
    return out, {"p50_ms": round(float(np.percentile(ms, 50)), 1), "p95_ms": round(float(np.percentile(ms, 95)), 1)}


def cmd_cmrc(args) -> dict:
    from index.models.encoder import encoder_for

    cfg = load_config(ROOT / "config.toml")
    encoder = encoder_for(cfg.index)
    work = Path(args.work)
    shutil.rmtree(work, ignore_errors=True)
    articles, questions = load_squad(Path(args.squad))
    if args.limit:
        questions = questions[: args.limit]
    corpus = write_corpus(articles, work / "corpus")
    if args.cache_from:
        src = Path(args.cache_from) / "embeddings" / f"{store.model_slug(encoder.name)}.sqlite"
        if src.is_file():
            (work / "index" / "embeddings").mkdir(parents=True)
            shutil.copyfile(src, work / "index" / "embeddings" / src.name)
    t = time.perf_counter()
    report = build_index([corpus], work / "index", encoder, cfg.index, progress=False)
    build_s = time.perf_counter() - t
    local, remote, sync = both(work / "index", encoder, cfg, str(work / "milvus.db"))
    w = cfg.retrieval.dense_weight
    legs = {"hybrid": (True, w), "lexical": (True, 0.0), "dense": (False, 1.0)}
    table = {}
    for name, r in (("local", local), ("milvus", remote)):
        ranks = gold_ranks(r, questions, legs, progress=False)
        table |= {f"{name} {leg}": metrics(ranks[leg]) for leg in legs}
    texts = [q.text for q in questions]
    res_l, lat_l = timed_searches(local, texts)
    res_m, lat_m = timed_searches(remote, texts)
    found_l = np.array([r.found for r in res_l])
    found_m = np.array([r.found for r in res_m])
    top_same = np.mean([(a.hits[0].passage.id if a.hits else None) == (b.hits[0].passage.id if b.hits else None)
                        for a, b in zip(res_l, res_m)])
    return {
        "contexts": len(articles), "questions": len(questions), "passages": report.passages,
        "vectors": report.vectors, "dense_weight": w, "table": table,
        "found": {"local": float(found_l.mean()), "milvus": float(found_m.mean())},
        "found_agreement": float(np.mean(found_l == found_m)),
        "same_first_hit": float(top_same),
        "search_latency": {"local": lat_l, "milvus": lat_m},
        "local_build_seconds": round(build_s, 1), "milvus_sync": sync,
    }


def cmd_timing(args) -> dict:
    from tests.hashencoder import HashEncoder

    cfg = load_config(ROOT / "config.toml")
    encoder = HashEncoder(384)
    cfg = dataclasses.replace(cfg, index=dataclasses.replace(cfg.index, model=encoder.name))
    work = Path(args.work)
    shutil.rmtree(work, ignore_errors=True)
    (work / "corpus").mkdir(parents=True)
    # Whole articles until about --passages passages (~7 per xwlb article).
    corpus = work / "corpus" / "xwlb-2020.jsonl"
    with open(args.corpus, encoding="utf-8") as f, open(corpus, "w", encoding="utf-8") as out:
        for i, line in enumerate(f):
            if i >= args.articles:
                break
            out.write(line)
    t = time.perf_counter()
    report = build_index([corpus], work / "index", encoder, cfg.index, progress=False)
    build_s = time.perf_counter() - t
    local, remote, sync = both(work / "index", encoder, cfg, str(work / "milvus.db"))
    qs = [json.loads(line)["question"] for line in open(ROOT / "var/eval/questions/xwlb.jsonl", encoding="utf-8")]
    qs = qs[: args.questions]
    _, lat_l = timed_searches(local, qs)
    _, lat_m = timed_searches(remote, qs)
    size = sum(p.stat().st_size for p in (work / "milvus.db").rglob("*") if p.is_file())
    vsize = sum(p.stat().st_size for p in store.current_version(work / "index").rglob("*") if p.is_file())
    return {"articles": args.articles, "passages": report.passages, "questions": len(qs),
            "local_build_seconds_incl_hash_embedding": round(build_s, 1), "milvus_sync": sync,
            "search_latency": {"local": lat_l, "milvus": lat_m},
            "disk_bytes": {"local_version": vsize, "milvus_lite": size}}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="mode", required=True)
    c = sub.add_parser("cmrc")
    c.add_argument("--squad", default=str(CMRC))
    c.add_argument("--cache-from", default=str(ROOT / "var/eval/work/index/cmrc"))
    c.add_argument("--work", default="/tmp/newsbot-milvus-eval/cmrc")
    c.add_argument("--limit", type=int, default=0)
    t = sub.add_parser("timing")
    t.add_argument("--corpus", default=str(XWLB))
    t.add_argument("--articles", type=int, default=6246)
    t.add_argument("--questions", type=int, default=300)
    t.add_argument("--work", default="/tmp/newsbot-milvus-eval/timing")
    args = p.parse_args()
    result = cmd_cmrc(args) if args.mode == "cmrc" else cmd_timing(args)
    text = json.dumps(result, ensure_ascii=False, indent=2)
    print(text)
    out = ROOT / "var" / "eval" / f"milvus_eval-{args.mode}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
