"""Build the issue-20 evaluation sets into var/eval/ (same layout as bench/evalsets.py), seeded and reproducible.

Usage:
    python bench/evalsets_news.py [--shared ../shared] [--out var/eval] [--seed 13] [--only seed,crud,...]

Sets (corpus var/eval/corpora/<source>.jsonl, questions var/eval/questions/<set>.jsonl):
    seed          the seed article cleaned by the project's own reader (one article, the id the index gives it)
                  and the hand-written questions of tests/data/seed_questions.jsonl (30 answerable with the
                  answering paragraph(s), 20 off-topic, 5 stopword-only)
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.evalsets import number_ids, question, read_jsonl, write_jsonl  # noqa: E402

SEED_FILE = ROOT / "seeds" / "000_eb63601c10643f4d.txt"
SEED_QUESTIONS = ROOT / "tests" / "data" / "seed_questions.jsonl"


# ---------------------------------------------------------------- seed

def seed_set(seed_file: Path = SEED_FILE, questions_file: Path = SEED_QUESTIONS) -> tuple[list[dict], list[dict]]:
    """The seed article (as the project's reader cleans it, with the id the index gives it) and its questions.

    The corpus is the article alone, in ingest format (7 passages: the title and 6 paragraphs). The
    product's 44-passage seed index also holds the page's 38 listed headlines (37 once the one equal to
    the title is dropped), which JSONL cannot express; build from the seed file itself to get those.
    """
    from index.ingest.seeds import read_seed_file

    batch = read_seed_file(seed_file)
    art = batch.articles[0]
    corpus = [{"id": art.id, "title": art.title, "published_at": art.published_at, "source": art.source or "seed",
               "url": art.url or "", "body": "\n".join(art.paragraphs)}]
    out = []
    for row in read_jsonl(questions_file):
        for p, needle in zip(row["paragraphs"], row["contains"]):
            if needle not in art.paragraphs[p]:
                raise ValueError(f"{row['question']}: {needle!r} not in paragraph {p}")
        kind = row["style"].split("-")[0]
        q = question("", row["question"], "seed", [art.id] if row["answerable"] else [], None, kind)
        q.update(paragraphs=row["paragraphs"], contains=row["contains"], style=row["style"])
        out.append(q)
    return corpus, number_ids(out, "seed")


# ---------------------------------------------------------------- main

def passages_estimate(articles: list[dict], max_chars: int = 300) -> int:
    """Passages the index would make: a title passage per article and ceil(len/300) per paragraph."""
    return sum(1 + sum(-(-len(p) // max_chars) for p in a["body"].split("\n") if p.strip()) for a in articles)


BUILDERS = ("seed",)


def main() -> None:
    """Build the chosen sets and print their sizes."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    ap.add_argument("--out", type=Path, default=ROOT / "var" / "eval")
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--only", default=",".join(BUILDERS), help=f"comma-separated, of {', '.join(BUILDERS)}")
    args = ap.parse_args()
    import jieba

    jieba.setLogLevel(60)
    only = [s.strip() for s in args.only.split(",") if s.strip()]
    corpora: dict[str, list[dict]] = {}
    sets: dict[str, list[dict]] = {}
    if "seed" in only:
        corpora["seed"], sets["seed"] = seed_set()
    for name, arts in corpora.items():
        write_jsonl(args.out / "corpora" / f"{name}.jsonl", arts)
    for name, qs in sets.items():
        write_jsonl(args.out / "questions" / f"{name}.jsonl", qs)
    print("corpora (articles, passages estimate: 1 title + ceil(len/300) per paragraph):")
    for name, arts in corpora.items():
        est = passages_estimate(arts)
        print(f"  {name:14s} {len(arts):6d}  ~{est} passages")
    print("questions:")
    for name, qs in sets.items():
        types = Counter(q["type"] for q in qs)
        ans = sum(q["answerable"] for q in qs)
        print(f"  {name:14s} {len(qs):6d} ({ans} answerable)  " + ", ".join(f"{t} {c}" for t, c in sorted(types.items())))
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
