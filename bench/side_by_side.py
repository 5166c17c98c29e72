"""Side by side on CMRC 2018 dev, one run, same passages, questions and embedding model.

Rows:
  - floor: the model's query encoding as configured (`[index] query_backend`: the int8 ONNX session or
    SentenceTransformer.encode_query under torch; every pipeline uses the same one) + a raw FAISS search
    (IndexFlatIP, top 100) + a raw bm25s scoring of jieba tokens (top 100); no project code, no fusion;
  - ours: Retriever.rank (both legs, fusion) and Retriever.search (plus threshold and best sentence);
  - LangChain: FAISS vector store + BM25Retriever (rank_bm25, jieba.lcut_for_search) in an
    EnsembleRetriever with weights 0.5 / 0.5, as Langchain-Chatchat builds it.

The pipelines take turns question by question (each question asks all of them, starting with a
different one each time), so a change in the machine's load during the run hits them alike.

The passages and their vectors are those of the CMRC evaluation index, which bench/retrieval_eval.py
builds under var/eval/cmrc (first step below; nothing is re-embedded here). Recall@5 counts the gold
context among the first 5 distinct articles of paragraph hits (as bench/retrieval_eval.py does).

Usage, from a fresh clone:
    pip install -e '.[bench]'
    python bench/retrieval_eval.py ../shared/data/cmrc2018/cmrc2018_dev.json --work-dir var/eval/cmrc --no-tune
    python bench/side_by_side.py [--limit 3219]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
warnings.filterwarnings("ignore", category=DeprecationWarning)

CMRC = ROOT.parent / "shared" / "data" / "cmrc2018" / "cmrc2018_dev.json"
INDEX = ROOT / "var" / "eval" / "cmrc" / "index"


def pct(ms) -> tuple[float, float, float]:
    a = np.asarray(ms)
    return float(np.percentile(a, 50)), float(np.percentile(a, 95)), float(np.percentile(a, 99))


def gold_rank(article_ids, kinds, gold: str, limit: int = 10) -> int:
    """1-based rank of the gold article among the distinct articles of paragraph hits (0: not in the first `limit`)."""
    seen: list[str] = []
    for aid, kind in zip(article_ids, kinds):
        if kind != "paragraph" or aid in seen:
            continue
        seen.append(aid)
        if aid == gold:
            return len(seen)
        if len(seen) >= limit:
            break
    return 0


def interleaved(pipelines: dict, questions: list) -> dict[str, dict]:
    """Ask every question of every pipeline, the pipelines taking turns; per pipeline its latencies and Recall@5."""
    names = list(pipelines)
    for fn in pipelines.values():
        fn(questions[0].text)  # warm-up
    ms: dict[str, list[float]] = {name: [] for name in names}
    ranks: dict[str, list[int]] = {name: [] for name in names}
    for i, q in enumerate(questions):
        # A different pipeline goes first each time: none is always the one after another's cache misses.
        for name in names[i % len(names):] + names[: i % len(names)]:
            t = time.perf_counter()
            art, kinds = pipelines[name](q.text)
            ms[name].append((time.perf_counter() - t) * 1000)
            ranks[name].append(gold_rank(art, kinds, q.gold) if art is not None else -1)
    results = {}
    for name in names:
        r = np.array(ranks[name])
        results[name] = {"ms": pct(ms[name]), "mean": float(np.mean(ms[name])),
                         "r5": float(np.mean((r > 0) & (r <= 5))) if (r >= 0).all() else None,
                         "hit5": (r > 0) & (r <= 5)}
        print(name, {k: v for k, v in results[name].items() if k != "hit5"}, file=sys.stderr, flush=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--limit", type=int, help="ask only the first N questions")
    parser.add_argument("-k", type=int, default=10, help="passages LangChain's retrievers each return")
    args = parser.parse_args()
    if not CMRC.is_file() or not (INDEX / "current").exists():
        sys.exit(f"needs {CMRC} and the CMRC eval index at {INDEX}: python bench/retrieval_eval.py {CMRC} "
                 "--work-dir var/eval/cmrc --no-tune")

    import logging

    logging.basicConfig(level=logging.WARNING)
    import bm25s
    import faiss
    import jieba

    from index import Retriever, load_config
    from index.models.encoder import encoder_for
    from bench.retrieval_eval import load_squad

    jieba.setLogLevel(logging.WARNING)
    cfg = load_config(ROOT / "config.toml")
    _, questions = load_squad(CMRC)
    questions = questions[: args.limit] if args.limit else questions
    encoder = encoder_for(cfg.index)
    model = encoder.model

    # The same passages and vectors for everyone: the eval index's rows.
    ours = Retriever.load(INDEX, encoder, cfg.retrieval)
    version = ours.version
    db = ours.stored.db
    passages = [tuple(r) for r in db.execute("SELECT row, article_id, kind, text, index_text FROM passages ORDER BY row")]
    article_of = [p[1] for p in passages]
    kind_of = [p[2] for p in passages]
    raw = faiss.read_index(str(version / "vectors.faiss"))
    ids = faiss.vector_to_array(raw.id_map)
    xb = np.zeros((len(passages), raw.d), dtype=np.float32)
    xb[ids] = np.vstack([raw.reconstruct(int(i)) for i in ids])
    n = len(questions)

    pipelines: dict = {}  # name -> fn(question text) -> (article ids, kinds) or (None, None)
    # 1. Floor: raw model + raw FAISS + raw bm25s.
    flat = faiss.IndexFlatIP(raw.d)
    flat.add(xb)
    bm25 = bm25s.BM25()  # raw bm25s over the same stored passage tokens (its build is not timed)
    bm25.index([(t.split(" ") if t else [""]) for (t,) in db.execute("SELECT tokens FROM passages ORDER BY row")],
               show_progress=False)
    vocab = bm25.vocab_dict

    def floor(text: str):
        qv = encoder.encode_queries([text])
        flat.search(qv, 100)
        toks = [t for t in jieba.lcut(text) if t in vocab]
        if toks:
            s = bm25.get_scores(toks)
            np.argpartition(-s, min(99, len(s) - 1))[:100]
        return None, None

    pipelines["floor: encode_query + FAISS flat + bm25s"] = floor

    # 2. Ours.
    def our_rank(text: str):
        cands = ours.rank(text)
        return [article_of[c.row] for c in cands], [kind_of[c.row] for c in cands]

    def our_search(text: str):
        ours.search(text)
        return None, None

    pipelines["ours: Retriever.rank (both legs, fused)"] = our_rank
    pipelines["ours: Retriever.search (+ threshold, best sentence)"] = our_search

    # 3. LangChain, Langchain-Chatchat style.
    from langchain_classic.retrievers import EnsembleRetriever
    from langchain_community.retrievers import BM25Retriever
    from langchain_community.vectorstores import FAISS
    from langchain_core.documents import Document
    from langchain_core.embeddings import Embeddings

    class STEmbeddings(Embeddings):
        """The same sentence-transformers model, with its own query/passage prompts."""

        def embed_documents(self, texts):
            return model.encode_document(texts, normalize_embeddings=True).tolist()

        def embed_query(self, text):
            return encoder.encode_queries([text])[0].tolist()

    docs = [Document(page_content=p[4], metadata={"row": p[0], "article_id": p[1], "kind": p[2]}) for p in passages]
    t = time.perf_counter()
    store = FAISS.from_embeddings([(p[4], xb[p[0]].tolist()) for p in passages], STEmbeddings(),
                                  metadatas=[d.metadata for d in docs])  # the cached vectors, not re-embedded
    bm25_lc = BM25Retriever.from_documents(docs, preprocess_func=jieba.lcut_for_search)
    bm25_lc.k = args.k
    ensemble = EnsembleRetriever(retrievers=[bm25_lc, store.as_retriever(search_kwargs={"k": args.k})],
                                 weights=[0.5, 0.5])
    lc_build = time.perf_counter() - t

    def langchain(text: str):
        got = ensemble.invoke(text)
        return [d.metadata["article_id"] for d in got], [d.metadata["kind"] for d in got]

    pipelines["LangChain: FAISS + BM25Retriever (jieba) in EnsembleRetriever"] = langchain
    results = interleaved(pipelines, questions)

    floor_p50 = results["floor: encode_query + FAISS flat + bm25s"]["ms"][0]
    floor_mean = results["floor: encode_query + FAISS flat + bm25s"]["mean"]
    print(f"\n(c) side by side on CMRC 2018 dev: {len(passages):,} passages ({len(set(article_of))} contexts), "
          f"{n:,} questions, model {cfg.index.model} (max_seq_length {cfg.index.max_seq_length}); "
          f"{os.cpu_count()} cores, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}; "
          f"LangChain index built in {lc_build:.1f} s from the cached vectors\n")
    print("| pipeline | p50 / p95 / p99 ms | mean ms | × floor (p50) | × floor (mean) | Recall@5 |")
    print("|---|---|---|---|---|---|")
    for name, r in results.items():
        r5 = f"{r['r5']:.3f}" if r["r5"] is not None else "–"
        p = " / ".join(f"{x:.1f}" for x in r["ms"])
        print(f"| {name} | {p} | {r['mean']:.1f} | {r['ms'][0] / floor_p50:.2f} | {r['mean'] / floor_mean:.2f} | {r5} |")
    ours_hit = results["ours: Retriever.rank (both legs, fused)"]["hit5"]
    lc_hit = results["LangChain: FAISS + BM25Retriever (jieba) in EnsembleRetriever"]["hit5"]
    only_ours, only_lc = int((ours_hit & ~lc_hit).sum()), int((lc_hit & ~ours_hit).sum())
    print(f"\nRecall@5, paired over the same questions: gold in the top 5 of ours only {only_ours}, of LangChain only "
          f"{only_lc}, of both {int((ours_hit & lc_hit).sum())}, of neither {int((~ours_hit & ~lc_hit).sum())}; "
          f"exact McNemar two-sided p = {mcnemar_p(only_ours, only_lc):.2f}")


def mcnemar_p(b: int, c: int) -> float:
    """Exact two-sided McNemar test: how likely a split at least this uneven of b + c discordant pairs is by chance."""
    from math import comb

    n = b + c
    if n == 0:
        return 1.0
    return min(1.0, 2 * sum(comb(n, i) for i in range(min(b, c) + 1)) / 2**n)


if __name__ == "__main__":
    main()
