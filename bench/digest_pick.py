"""Would /summary's density factor help /digest's sentence picker? Scored against news headlines.

For 600 random items (4+ sentences) of xwlb-2020 and of dxy-news, each picker chooses one sentence
of the body without seeing the title, and the sentence is scored against the human headline
(character ROUGE-1 F). Pickers: the lead (first real sentence), centrality (the digest's rule,
mean cosine to the other sentences) and centrality × density (/summary's filler damping).
Even / odd items are reported apart. The headline is a proxy for "what the article is about".

Usage:
    python bench/digest_pick.py
"""

from __future__ import annotations

import json
import logging
import random
import statistics
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.summary_eval import chars, rouge1  # noqa: E402
from bot.analysis.excerpts import featurize  # noqa: E402
from bot.analysis.sentence_picker import article_sentences, strip_dateline  # noqa: E402
from bot.analysis.summarize_text import content as _content  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
SETS = {"xwlb-2020": DATA / "xwlb" / "xwlb-2020.jsonl", "dxy-news": DATA / "dxy-news" / "dxy-news.jsonl"}


def pool(paragraphs: list[str], min_chars: int = 10) -> list[str]:
    """The sentences the digest scores: real ones (10+ characters) when there are any."""
    sentences = article_sentences(paragraphs)
    return [s for s in sentences if len(_content(s)) >= min_chars] or sentences


def central(paragraphs: list[str], density: float) -> str:
    """The digest's centrality rule (no title), times density**density."""
    sentences = pool(paragraphs)
    f = featurize(sentences)
    m = f.tfidf
    score = np.asarray(m @ np.asarray(m.sum(axis=0)).ravel()) - np.asarray(m.multiply(m).sum(axis=1)).ravel()
    return strip_dateline(sentences[int(np.argmax(score * f.density**density))])


def main() -> int:
    logging.getLogger("jieba").setLevel(logging.WARNING)
    pickers = {
        "lead sentence": lambda p: strip_dateline(pool(p)[0]),
        "centrality (the digest's rule)": lambda p: central(p, 0.0),
        "centrality × density": lambda p: central(p, 1.0),
    }
    print("| data | picker | even R-1 | odd R-1 |")
    print("|---|---|---|---|")
    for name, path in SETS.items():
        if not path.exists():
            print(f"missing {path}", file=sys.stderr)
            return 1
        with path.open(encoding="utf-8") as f:
            rows = [json.loads(line) for line in f]
        rows = [r for r in rows if len(article_sentences(r["body"].split("\n"))) >= 4]
        rows = random.Random(0).sample(rows, min(600, len(rows)))
        for label, pick in pickers.items():
            halves: dict[int, list[float]] = {0: [], 1: []}
            for k, r in enumerate(rows):
                halves[k % 2].append(rouge1(chars(pick(r["body"].split("\n"))), chars(r["title"])))
            cells = [
                f"{statistics.fmean(h):.3f} ± {1.96 * statistics.stdev(h) / len(h) ** 0.5:.3f}" for h in halves.values()
            ]
            print(f"| {name} | {label} | {cells[0]} | {cells[1]} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
