"""Dates as evidence: is the answering passage among the 3 quoted, with and without date handling?

Usage:
    python bench/evalsets.py        # once: var/eval/questions/dates.jsonl and its corpora
    python bench/date_eval.py [--split odd]

The index holds the xwlb items of 2020-01 … 2020-03 and the dxy-news briefs (embedded, the
configured model). Question types (bench/evalsets.py makes them from sentences of these articles):

    relative   "今天/昨天/前天 …" about an article of that day, asked that day or just after
    pubdate    an absolute date that is the article's publication date, asked 1–30 days later
    eventdate  a date the sentence names that is NOT its publication date (the article reports
               it later), asked 1–30 days after publication
    nodate     the same kind of question without a date

"with" is the bot's path, `Retriever.search(q, k=9, now=…)`, first 3 hits; "without" asks the same
text with no reference time, so its date words are only words. `--split even|odd` keeps half the
questions (the date weights in config.toml were chosen on the even half; report the odd one).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from index import Retriever, build_index, load_config  # noqa: E402

TYPES = ("relative", "pubdate", "eventdate", "nodate")
SHOWN = 3


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--eval", default=str(ROOT / "var" / "eval"))
    ap.add_argument("--work", default=str(ROOT / "var" / "eval" / "work"))
    ap.add_argument("--split", choices=("all", "even", "odd"), default="all")
    ap.add_argument("--grid", action="store_true", help="try date weights (mention, published, after) on this split")
    args = ap.parse_args()
    from index.models.encoder import encoder_for

    cfg = load_config(ROOT / "config.toml")
    encoder = encoder_for(cfg.index)
    eval_dir, folder = Path(args.eval), Path(args.work) / "index" / "dates"
    if not (folder / "current").exists():
        from answerability import share_vectors  # bench/answerability.py: reuse the vectors computed there

        share_vectors(folder.parent, folder)
        t0 = time.perf_counter()
        build_index([eval_dir / "corpora" / "xwlb2020q1.jsonl", eval_dir / "corpora" / "dxy.jsonl"], folder, encoder,
                    cfg.index, progress=False)
        print(f"built the index in {time.perf_counter() - t0:.0f} s", flush=True)
    retriever = Retriever.load(folder, encoder, cfg.retrieval)
    questions = [json.loads(x) for x in (eval_dir / "questions" / "dates.jsonl").read_text(encoding="utf-8").splitlines()]
    if args.split != "all":
        questions = [q for i, q in enumerate(questions) if i % 2 == (0 if args.split == "even" else 1)]
    if args.grid:
        grid(retriever, questions)
        return
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for q in questions:
        now = datetime.fromisoformat(q["now"])
        gold = set(q["gold"])
        for name, result in (("with", retriever.search(q["question"], 9, now=now)),
                             ("without", retriever.search(q["question"], 9))):
            shown = {h.passage.article_id for h in result.hits[:SHOWN]}
            counts[q["type"]][f"{name} quoted"] += bool(shown & gold)
            counts[q["type"]][f"{name} not found"] += not result.found
        counts[q["type"]]["n"] += 1
    print(f"\n{len(questions)} questions ({args.split}); answering article among the {SHOWN} quoted / 'not found' replies")
    print("| question type | n | with date handling | without | not found, with | not found, without |")
    print("|---|---|---|---|---|---|")
    for t in TYPES:
        c = counts[t]
        if c["n"]:
            print(f"| {t} | {c['n']} | {c['with quoted'] / c['n']:.3f} | {c['without quoted'] / c['n']:.3f} | "
                  f"{c['with not found']} | {c['without not found']} |")
    retriever.close()


def grid(retriever: Retriever, questions: list[dict]) -> None:
    """Share of questions with the answer among the 3 quoted, per type, for each weighting of the date evidence."""
    from dataclasses import replace

    base = retriever.config
    dated = [q for q in questions if q["type"] in ("pubdate", "eventdate")]
    print("| mention | published | after | pubdate | eventdate | both |\n|---|---|---|---|---|---|")
    for mention, published, after in ((0, 0, 0), (0.05, 0.05, 0.02), (0.1, 0.1, 0.05), (0.2, 0.1, 0.05),
                                      (0.1, 0.2, 0.05), (0.2, 0.2, 0.1), (0.3, 0.3, 0.1), (0.1, 0.1, 0.0)):
        retriever.config = replace(base, date_mention_bonus=mention, date_published_bonus=published, date_after_bonus=after)
        got = defaultdict(list)
        for q in dated:
            hits = retriever.search(q["question"], 9, now=datetime.fromisoformat(q["now"])).hits[:SHOWN]
            got[q["type"]].append(bool({h.passage.article_id for h in hits} & set(q["gold"])))
        both = got["pubdate"] + got["eventdate"]
        print(f"| {mention} | {published} | {after} | {sum(got['pubdate']) / max(1, len(got['pubdate'])):.3f} | "
              f"{sum(got['eventdate']) / max(1, len(got['eventdate'])):.3f} | {sum(both) / max(1, len(both)):.3f} |", flush=True)
    retriever.config = base


if __name__ == "__main__":
    main()
