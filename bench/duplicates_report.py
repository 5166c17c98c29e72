"""How many dxy-news briefs are near-duplicates of another, and a sample showing they are the same story.

Usage:
    python bench/duplicates_report.py [--threshold 0.6] [--window-hours 48] [--sample 8]

Runs index.store.duplicates over ../shared/data/dxy-news/dxy-news.jsonl (3,378 briefs): MinHash LSH over
character 3-gram shingles, pairs checked by exact Jaccard, within a time window, with equal
title numbers. Prints the clusters' sizes, a random sample of merged clusters (titles, sources,
times and the opening of each body), and the pairs the number rule kept apart (daily bulletins).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from index.store import duplicates  # noqa: E402

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "dxy-news" / "dxy-news.jsonl"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threshold", type=float, default=duplicates.THRESHOLD)
    parser.add_argument("--window-hours", type=float, default=duplicates.WINDOW_HOURS)
    parser.add_argument("--sample", type=int, default=8)
    args = parser.parse_args()
    if not DATA.is_file():
        print(f"{DATA} is absent (../shared not checked out)", file=sys.stderr)
        return 1
    rows = [json.loads(line) for line in DATA.open(encoding="utf-8")]
    docs = [duplicates.Doc(r["id"], r["title"], r["title"] + "\n" + r["body"], r["published_at"], r.get("source"))
            for r in rows]
    by_id = {d.id: d for d in docs}
    t = time.perf_counter()
    clusters = duplicates.cluster(docs, args.threshold, args.window_hours)
    seconds = time.perf_counter() - t
    merged = sum(len(c) - 1 for c in clusters)
    print(f"{len(docs)} briefs; {len(clusters)} clusters of near-duplicates hold {sum(map(len, clusters))} briefs; "
          f"{merged} briefs merged into another ({merged / len(docs):.1%}); {len(docs) - merged} items shown "
          f"({seconds:.1f} s; Jaccard ≥ {args.threshold}, within {args.window_hours:g} h, same numbers)")
    print("cluster sizes:", dict(sorted(Counter(map(len, clusters)).items())))
    multi_source = [c for c in clusters if len({by_id[a].source for a in c}) > 1]
    print(f"clusters with more than one source: {len(multi_source)}")

    rng = random.Random(7)
    print(f"\n--- {args.sample} random merged clusters ---")
    for c in rng.sample(clusters, min(args.sample, len(clusters))):
        print()
        for n, aid in enumerate(c):
            d = by_id[aid]
            body = d.text.split("\n", 1)[1][:70].replace("\n", " ")
            print(f"  {'*' if n == 0 else '+'} {d.published_at[:16]}  {d.source or '?'}  {d.title}\n      {body}")

    # What the number rule kept apart: similar texts, different title numbers (usually daily bulletins).
    without_rule = {(docs[i].id, docs[j].id)
                    for i, j, _ in duplicates.find_pairs(docs, args.threshold, args.window_hours, rules=False)}
    with_rule = {(docs[i].id, docs[j].id) for i, j, _ in duplicates.find_pairs(docs, args.threshold, args.window_hours)}
    apart = sorted(without_rule - with_rule)
    print(f"\n--- the number and title rules kept {len(apart)} similar pairs apart; a sample ---")
    for a, b in rng.sample(apart, min(4, len(apart))):
        for aid in (a, b):
            d = by_id[aid]
            print(f"  {d.published_at[:16]}  {d.source or '?'}  {d.title}")
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
