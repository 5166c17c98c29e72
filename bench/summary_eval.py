"""Measure /summary message picks on mixed LCCC dialogues against first-N and random-N baselines.

There is no Chinese group-chat summary reference set, so each trial interleaves k real
dialogues from ../shared/data/lccc-toy (made-up senders, ids and times: the corpus has none)
and treats the k dialogues as the reference the picks should cover. Scores: character-level
ROUGE-1 and ROUGE-L F of the concatenated picks against the concatenated dialogues, and
dialogue coverage (share of the k dialogues with at least one pick).

Usage:
    python bench/summary_eval.py [--trials 300] [--picks 5] [--k 3 5] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import re
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.chatlog import ChatMessage  # noqa: E402
from bot.analysis.excerpts import featurize, pick_units, relevance  # noqa: E402
from bot.analysis.summarize import DUPLICATE_JACCARD, reply_threads, select_excerpts  # noqa: E402
from bot.analysis.summarize_text import content  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "lccc-toy" / "lccc-toy-dialogues.jsonl"
# Made-up display names; each dialogue gets two of them, so people overlap across threads.
NAMES = ["小王", "老李", "阿珍", "Kevin", "晓雨", "大刘", "陈老师", "Mia", "胖虎", "阿杰", "小鹿", "周周"]
_CHARS = re.compile(r"\w")

Picker = Callable[[list[ChatMessage], int, random.Random], list[ChatMessage]]



def select_messages(messages: Sequence[ChatMessage], n: int = 5, diversity: float = 0.5) -> list[ChatMessage]:
    """Pick up to `n` representative, mutually non-duplicate whole messages (MMR), in chat order.

    The message-level picker of /summary before issue 13, kept here as the benches' reference:
    relevance is cosine to the window's centroid, damped for very short messages; messages of one
    reply thread count as at least 0.5 alike; messages under 4 characters are picked only if needed.
    """
    min_chars, thread_similarity = 4, 0.5
    keep = [i for i, m in enumerate(messages) if m.text.strip() and not m.text.strip().startswith("/")]
    if n <= 0 or not keep:
        return []
    f = featurize([messages[i].text for i in keep])
    lengths = np.array([len(content(messages[i].text)) for i in keep], dtype=np.float64)
    rel = relevance(f.tfidf, "centroid") * np.minimum(1.0, np.sqrt(lengths / 20))
    if (lengths >= min_chars).sum() >= n:
        rel = np.where(lengths >= min_chars, rel, -1.0)  # short ones only when there is nothing else
    threads = reply_threads(messages)[keep]
    picked = pick_units(
        f, rel - rel.min() + 1e-9, np.ones(len(keep), dtype=np.int64), np.arange(len(keep)), n,
        diversity=diversity, max_per_message=1, threads=threads, thread_similarity=thread_similarity,
        duplicate_jaccard=DUPLICATE_JACCARD,
    )
    return [messages[keep[i]] for i in sorted(picked)]


def load_dialogues(path: Path, min_turns: int = 3, max_turns: int = 10) -> list[list[str]]:
    """Return the turn lists of dialogues with min_turns..max_turns turns."""
    out = []
    with path.open(encoding="utf-8") as f:
        for line in f:
            turns = [t for t in json.loads(line)["turns"] if t.strip()]
            if min_turns <= len(turns) <= max_turns:
                out.append(turns)
    return out


def mix(dialogues: Sequence[list[str]], rng: random.Random, reply_prob: float) -> tuple[list[ChatMessage], list[int]]:
    """Interleave dialogues uniformly at random (keeping each one's order); return messages and dialogue ids."""
    order = [d for d, turns in enumerate(dialogues) for _ in turns]
    rng.shuffle(order)
    speakers = [rng.sample(range(len(NAMES)), 2) for _ in dialogues]
    pos = [0] * len(dialogues)
    last_id: list[int | None] = [None] * len(dialogues)
    t = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    msgs, labels = [], []
    for mid, d in enumerate(order, start=1):
        who = speakers[d][pos[d] % 2]
        t += timedelta(seconds=rng.randint(5, 120))
        reply = last_id[d] if last_id[d] is not None and rng.random() < reply_prob else None
        msgs.append(ChatMessage(-1001, mid, 1000 + who, NAMES[who], t, dialogues[d][pos[d]], reply))
        labels.append(d)
        last_id[d] = mid
        pos[d] += 1
    return msgs, labels


def chars(text: str) -> str:
    """Return the word characters of text (ROUGE on characters, punctuation and spaces dropped)."""
    return "".join(_CHARS.findall(text)).lower()


def lcs_len(a: str, b: str) -> int:
    """Return the LCS length of two strings (bit-parallel, Hyyrö 2004)."""
    if len(a) > len(b):
        a, b = b, a
    if not a:
        return 0
    masks: dict[str, int] = {}
    for i, c in enumerate(a):
        masks[c] = masks.get(c, 0) | (1 << i)
    full = (1 << len(a)) - 1
    v = full
    for c in b:
        u = v & masks.get(c, 0)
        v = ((v + u) | (v - u)) & full
    return len(a) - bin(v).count("1")


def f1(overlap: int, cand: int, ref: int) -> float:
    if not overlap or not cand or not ref:
        return 0.0
    p, r = overlap / cand, overlap / ref
    return 2 * p * r / (p + r)


def rouge1(cand: str, ref: str) -> float:
    overlap = sum((Counter(cand) & Counter(ref)).values())
    return f1(overlap, len(cand), len(ref))


def rougel(cand: str, ref: str) -> float:
    return f1(lcs_len(cand, ref), len(cand), len(ref))


def pick_first(msgs: list[ChatMessage], n: int, rng: random.Random) -> list[ChatMessage]:
    return msgs[:n]


def pick_random(msgs: list[ChatMessage], n: int, rng: random.Random) -> list[ChatMessage]:
    return sorted(rng.sample(msgs, min(n, len(msgs))), key=lambda m: m.message_id)


def pick_longest(msgs: list[ChatMessage], n: int, rng: random.Random) -> list[ChatMessage]:
    return sorted(sorted(msgs, key=lambda m: -len(chars(m.text)))[:n], key=lambda m: m.message_id)


def pick_summarizer(msgs: list[ChatMessage], n: int, rng: random.Random) -> list[ChatMessage]:
    return select_messages(msgs, n)


def pick_excerpts(msgs: list[ChatMessage], n: int, rng: random.Random) -> list[ChatMessage]:
    """/summary's default picks (sentence units, 400-character budget); whole messages scored."""
    return [e.message for e in select_excerpts(msgs, 400, n)]


def run(dialogues: list[list[str]], k: int, n: int, trials: int, seed: int, reply_prob: float,
        methods: dict[str, Picker]) -> dict[str, dict[str, list[float]]]:
    """Score every method on the same `trials` mixed conversations of k dialogues."""
    rng = random.Random(seed * 1000 + k)
    scores: dict[str, dict[str, list[float]]] = {m: {"r1": [], "rl": [], "cov": [], "len": []} for m in methods}
    for _ in range(trials):
        chosen = rng.sample(dialogues, k)
        msgs, labels = mix(chosen, rng, reply_prob)
        label_of = {m.message_id: d for m, d in zip(msgs, labels)}
        first_seen = list(dict.fromkeys(labels))
        ref = chars("".join("".join(chosen[d]) for d in first_seen))
        for name, picker in methods.items():
            picks = picker(msgs, n, random.Random(rng.random()))
            cand = chars("".join(m.text for m in picks))
            s = scores[name]
            s["r1"].append(rouge1(cand, ref))
            s["rl"].append(rougel(cand, ref))
            s["cov"].append(len({label_of[m.message_id] for m in picks}) / k)
            s["len"].append(statistics.fmean(len(chars(m.text)) for m in picks))
    return scores


def ci(xs: list[float]) -> str:
    """Return 'mean ± 95% half-width'."""
    half = 1.96 * statistics.stdev(xs) / len(xs) ** 0.5 if len(xs) > 1 else 0.0
    return f"{statistics.fmean(xs):.3f} ± {half:.3f}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=300)
    ap.add_argument("--picks", type=int, default=5)
    ap.add_argument("--k", type=int, nargs="+", default=[3, 5])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--reply-prob", type=float, default=0.5,
                    help="chance a turn replies to the previous turn of its dialogue, for the 'with reply_to' row")
    args = ap.parse_args(argv)
    if not DATA.exists():
        print(f"missing {DATA}", file=sys.stderr)
        return 1
    logging.getLogger("jieba").setLevel(logging.WARNING)
    dialogues = load_dialogues(DATA)
    methods: dict[str, Picker] = {
        "summarizer (default: units, centroid × density, MMR 0.5, 400 chars)": pick_excerpts,
        "message-level MMR 0.5 (the summarizer before issue 13)": pick_summarizer,
        "first N": pick_first,
        "random N": pick_random,
        "longest N (length control)": pick_longest,
    }
    print(f"{len(dialogues)} LCCC dialogues of 3-10 turns; {args.trials} trials per k; N = {args.picks} picks; "
          f"seed {args.seed}\n")
    print("| k dialogues | method | ROUGE-1 F | ROUGE-L F | dialogue coverage | chars / pick |")
    print("|---|---|---|---|---|---|")
    started = time.perf_counter()
    for k in args.k:
        rows = run(dialogues, k, args.picks, args.trials, args.seed, 0.0, methods)
        with_replies = run(dialogues, k, args.picks, args.trials, args.seed, args.reply_prob,
                           {"summarizer (default), with reply_to": pick_excerpts,
                            "message-level MMR 0.5, with reply_to": pick_summarizer})
        for name, s in {**rows, **with_replies}.items():
            print(f"| {k} | {name} | {ci(s['r1'])} | {ci(s['rl'])} | {ci(s['cov'])} | {statistics.fmean(s['len']):.1f} |")
    print(f"\n({time.perf_counter() - started:.0f} s; ± is a 95% confidence half-width over trials; "
          f"'with reply_to' links {args.reply_prob:.0%} of turns to the previous turn of their dialogue, "
          f"every other row uses text only)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
