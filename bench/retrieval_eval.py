"""Retrieval evaluation on a SQuAD-style file: Recall@k and MRR per leg, fusion tuning.

    python bench/retrieval_eval.py ../shared/data/cmrc2018/cmrc2018_dev.json [--limit N] [--work-dir DIR]

The "not found" decision is calibrated across sources by bench/answerability.py. Other benches
import this module (`from bench.retrieval_eval import load_squad`) for the SQuAD reader and metrics.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from index import build_index  # noqa: E402
from index.config import IndexConfig, RetrievalConfig, load_config  # noqa: E402
from index.models.encoder import encoder_for  # noqa: E402
from index.schema import PARAGRAPH  # noqa: E402
from index.search import rank  # noqa: E402
from index.search.retriever import Retriever  # noqa: E402

logger = logging.getLogger(__name__)


@dataclass
class Question:
    """A question and the id of the context (article) that answers it."""

    text: str
    gold: str


def load_squad(path: Path, prefix: str = "ctx", source: str | None = None) -> tuple[list[dict], list[Question]]:
    """Contexts as JSONL-ready articles (identical contexts merged, ids `<prefix>-N`), and questions with their gold id."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    articles, questions, seen = [], [], {}
    for doc in data["data"]:
        for para in doc["paragraphs"]:
            ctx = para["context"].strip()
            if ctx not in seen:
                seen[ctx] = f"{prefix}-{len(seen)}"
                articles.append({"id": seen[ctx], "title": doc.get("title") or seen[ctx], "published_at": None,
                                 "source": source or Path(path).name, "url": None, "body": ctx})
            questions += [Question(qa["question"].strip(), seen[ctx]) for qa in para["qas"]]
    return articles, questions


def write_corpus(articles: list[dict], folder: Path) -> Path:
    """Write contexts as a JSONL seed file, so evaluation goes through the real ingest."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "corpus.jsonl"
    with open(path, "w", encoding="utf-8") as f:
        for a in articles:
            f.write(json.dumps(a, ensure_ascii=False) + "\n")
    return path


def gold_ranks(retriever: Retriever, questions: list[Question], legs: dict, n: int = 100,
               progress: bool = True) -> dict[str, np.ndarray]:
    """For each named leg setting, the 1-based rank of each question's gold context (0 = not found)."""
    out = {name: np.zeros(len(questions), dtype=np.int32) for name in legs}
    for qi, q in enumerate(tqdm(questions, desc="questions", disable=not progress)):
        rows, lex, cos, has = retriever.legs(q.text, n)
        for name, (use_lex, weight) in legs.items():
            fused = rank.fuse(lex if use_lex else np.zeros_like(lex), cos, has, weight)
            out[name][qi] = _gold_rank(retriever, rows, fused, q.gold)
    return out


def _gold_rank(retriever: Retriever, rows: np.ndarray, fused: np.ndarray, gold: str) -> int:
    order = np.argsort(-fused, kind="stable")
    seen: list[str] = []
    for i in order:
        if fused[i] <= 0:
            break
        p = retriever.passages[int(rows[i])]
        if p.kind != PARAGRAPH or p.article_id in seen:
            continue
        seen.append(p.article_id)
        if p.article_id == gold:
            return len(seen)
        if len(seen) >= 10:
            break
    return 0


def metrics(ranks: np.ndarray) -> dict[str, float]:
    """Recall@1/5/10 and MRR@10 from gold ranks."""
    found = ranks > 0
    return {
        "R@1": float(np.mean(found & (ranks <= 1))),
        "R@5": float(np.mean(found & (ranks <= 5))),
        "R@10": float(np.mean(found & (ranks <= 10))),
        "MRR@10": float(np.mean(np.where(found & (ranks <= 10), 1.0 / np.maximum(ranks, 1), 0.0))),
    }


def markdown_table(rows: dict[str, dict[str, float]]) -> str:
    """A Markdown table of metric rows."""
    cols = list(next(iter(rows.values())).keys())
    lines = ["| retriever | " + " | ".join(cols) + " |", "|---|" + "---|" * len(cols)]
    for name, m in rows.items():
        lines.append(f"| {name} | " + " | ".join(f"{m[c]:.3f}" for c in cols) + " |")
    return "\n".join(lines)


def evaluate(squad: Path, encoder, index_config: IndexConfig, retrieval: RetrievalConfig,
             work_dir: Path | None = None, limit: int | None = None, tune: bool = True,
             progress: bool = True) -> dict:
    """Index the file's contexts, ask every question, report each leg; optionally tune and calibrate."""
    articles, questions = load_squad(squad)
    if limit:
        questions = questions[:limit]
    work_dir = Path(work_dir or tempfile.mkdtemp(prefix="newsbot-eval-"))
    corpus = write_corpus(articles, work_dir / "corpus")
    build_index([corpus], work_dir / "index", encoder, index_config, progress=progress)
    retriever = Retriever.load(work_dir / "index", encoder, retrieval)
    result: dict = {"contexts": len(articles), "questions": len(questions), "vectors": retriever.vectors}
    weights = [round(w, 2) for w in np.arange(0.0, 1.0001, 0.05)] if tune else [retrieval.dense_weight]
    legs = {"lexical": (True, 0.0), "dense": (False, 1.0)}
    legs |= {f"hybrid w={w}": (True, w) for w in weights}
    ranks = gold_ranks(retriever, questions, legs, progress=progress)
    table = {"lexical (BM25)": metrics(ranks["lexical"]), "dense": metrics(ranks["dense"])}
    if tune:
        # Tune the weight on even-numbered questions, report it on all of them (and on the odd half).
        even = np.arange(len(questions)) % 2 == 0
        def score(name: str, mask: np.ndarray) -> tuple[float, float]:
            m = metrics(ranks[name][mask])
            return (m["MRR@10"], m["R@1"])
        best = max(weights, key=lambda w: score(f"hybrid w={w}", even))
        result["tuned_dense_weight"] = best
        result["held_out_half"] = metrics(ranks[f"hybrid w={best}"][~even])
        result["weights"] = {w: metrics(ranks[f"hybrid w={w}"]) for w in weights}
    else:
        best = retrieval.dense_weight
    table[f"hybrid (w={best})"] = metrics(ranks[f"hybrid w={best}"])
    result["table"] = table
    retriever.close()
    return result




def main(argv: list[str] | None = None) -> int:
    """Index the file's contexts, ask its questions, print the table."""
    ap = argparse.ArgumentParser(description="Recall@k and MRR on a SQuAD-style file")
    ap.add_argument("file")
    ap.add_argument("--config", default=str(ROOT / "config.toml"))
    ap.add_argument("--limit", type=int, help="ask only the first N questions")
    ap.add_argument("--work-dir", help="keep the evaluation index here (reruns reuse its vectors)")
    ap.add_argument("--lexical", action="store_true", help="no dense leg")
    ap.add_argument("--no-tune", action="store_true")
    ap.add_argument("--json-out")
    args = ap.parse_args(argv)
    cfg = load_config(Path(args.config))
    encoder = None if args.lexical else encoder_for(cfg.index)
    result = evaluate(Path(args.file), encoder, cfg.index, cfg.retrieval,
                      work_dir=Path(args.work_dir) if args.work_dir else None, limit=args.limit,
                      tune=not args.no_tune)
    print(f"{result['contexts']} contexts, {result['questions']} questions, {result['vectors']} vectors")
    print(markdown_table(result["table"]))
    if "tuned_dense_weight" in result:
        print(f"\nfusion weight tuned on even-numbered questions: dense_weight = {result['tuned_dense_weight']}")
        print("on the odd-numbered (held-out) half: "
              + ", ".join(f"{k} {v:.3f}" for k, v in result["held_out_half"].items()))
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(result, ensure_ascii=False, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
