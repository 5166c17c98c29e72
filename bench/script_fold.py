"""Which OpenCC folding serves a Taiwan-script source best: t2s (characters) or tw2sp (plus Taiwan phrases)?

Usage:
    python bench/evalsets.py          # once
    python bench/script_fold.py

Folds both sides (passages at index time, questions at search time) with each configuration and
reports the hybrid ranking's R@1 / R@5 (the gold context among the first distinct articles) on CMRC
dev and on CMRC converted with s2twp. The indexes go to var/eval/work/index/fold-*.
"""

from __future__ import annotations

import argparse
import json
import sys
from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import index.ingest.clean  # noqa: E402
from index import Retriever, build_index, load_config  # noqa: E402


def use_fold(config: str) -> None:
    """Make every later normalisation use this OpenCC configuration."""
    import opencc

    converter = opencc.OpenCC(config)
    index.ingest.clean._t2s = lru_cache(maxsize=1)(lambda: converter)


def recall(retriever: Retriever, questions: list[dict]) -> tuple[float, float]:
    """R@1 and R@5 over distinct articles of the fused ranking."""
    at1 = at5 = 0
    for q in questions:
        articles: list[str] = []
        for c in retriever.rank(q["question"]):
            aid = retriever.passages[c.row].article_id
            if aid not in articles:
                articles.append(aid)
            if len(articles) == 5:
                break
        at1 += articles[:1] == q["gold"][:1]
        at5 += q["gold"][0] in articles
    return at1 / len(questions), at5 / len(questions)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fold", choices=("t2s", "tw2sp"), help="one configuration only (each needs its own process)")
    ap.add_argument("--eval", default=str(ROOT / "var" / "eval"))
    args = ap.parse_args()
    if args.fold is None:
        import subprocess

        for fold in ("t2s", "tw2sp"):
            subprocess.run([sys.executable, __file__, "--fold", fold, "--eval", args.eval], check=True)
        return
    from index.models.encoder import encoder_for

    use_fold(args.fold)
    cfg = load_config(ROOT / "config.toml")
    encoder = encoder_for(cfg.index)
    eval_dir = Path(args.eval)
    for source in ("cmrc", "cmrc-tw"):
        folder = eval_dir / "work" / "index" / f"fold-{args.fold}-{source}"
        if not (folder / "current").exists():
            from answerability import share_vectors  # bench/answerability.py: reuse the vectors computed there

            share_vectors(folder.parent, folder)
            build_index([eval_dir / "corpora" / f"{source}.jsonl"], folder, encoder, cfg.index, progress=False)
        retriever = Retriever.load(folder, encoder, cfg.retrieval)
        questions = [json.loads(x) for x in (eval_dir / "questions" / f"{source}.jsonl").read_text(encoding="utf-8").splitlines()]
        r1, r5 = recall(retriever, questions)
        print(f"| {args.fold} | {source} | {len(questions)} | {r1:.3f} | {r5:.3f} |", flush=True)
        retriever.close()


if __name__ == "__main__":
    main()
