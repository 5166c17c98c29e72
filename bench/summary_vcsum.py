"""Score /summary's selection on VCSum dev meeting segments against their human summaries.

Each segment's turns are posted as messages of one group (speaker -> sender); a method returns
what the summary would quote, in chat order; the quoted text is cut at the reference's length
and scored with character ROUGE-1 / ROUGE-L F (whitespace and punctuation ignored), as
../shared/data/vcsum-dev/README.md prescribes.

Choices were made on the even-numbered segments (0, 2, 4, ...): figures there are training
figures. The odd-numbered segments are the held-out check: their figures were printed alongside
during the search but never used to choose.

Usage:
    python bench/summary_vcsum.py [--embeddings]    # --embeddings also tries the bot's e5 encoder
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.summary_eval import chars, rouge1, rougel, select_messages  # noqa: E402
from bot.analysis.summarize_text import content  # noqa: E402
from bot.analysis import excerpts as ex  # noqa: E402
from bot.analysis import summarize as sm  # noqa: E402
from bot.chatlog import ChatMessage  # noqa: E402
from bot.config import SummaryConfig  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "vcsum-dev" / "vcsum-short-dev.jsonl"
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
OLD_FLOOR = 10  # the message-count floor before issue 13
BEST_EVEN = "units: centroid × density + MMR 0.2 (best on the even half)"

Method = Callable[[list[ChatMessage], random.Random], list[str]]


def load(path: Path = DATA) -> list[dict]:
    """Return the dev segments in file order."""
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def as_messages(segment: dict) -> list[ChatMessage]:
    """Post a segment's turns into one made-up group, a minute apart, one sender per speaker."""
    return [
        ChatMessage(-1001, i + 1, 100 + t["speaker"], f"发言人{t['speaker']}", T0 + timedelta(minutes=i), t["text"])
        for i, t in enumerate(segment["turns"])
    ]


def score(quoted: list[str], reference: str) -> tuple[float, float]:
    """ROUGE-1 and ROUGE-L F of the quoted text, in chat order, cut at the reference's length."""
    ref = chars(reference)
    cand = chars("".join(quoted))[: len(ref)]
    return rouge1(cand, ref), rougel(cand, ref)


# -- baselines ---------------------------------------------------------------------------------


def first_turns(msgs: list[ChatMessage], rng: random.Random) -> list[str]:
    return [m.text for m in msgs]


def random_turns(msgs: list[ChatMessage], rng: random.Random) -> list[str]:
    picked = sorted(rng.sample(range(len(msgs)), min(5, len(msgs))))
    return [msgs[i].text for i in picked]


def old_summarizer(n: int) -> Method:
    """Whole messages by centroid + MMR over jieba TF-IDF (diversity 0.5): /summary before issue 13."""
    return lambda msgs, rng: [m.text for m in select_messages(msgs, n, diversity=0.5)]


def oracle_turn(reference: str) -> Method:
    """The single turn scoring best against the reference: it looks at the answer, a ceiling."""
    return lambda msgs, rng: [max((m.text for m in msgs), key=lambda t: score([t], reference)[0])]


# -- sentence-unit variants ----------------------------------------------------------------------


def units_method(
    relevance: str = "centroid",
    *,
    diversity: float = 0.5,
    budget: int = 400,
    max_messages: int = 5,
    max_per_message: int = 1,
    density: float = 1.0,
    lexrank_mix: float = 0.0,
    position: float = 0.0,
    speaker: float = 0.0,
    use_words: bool = True,
    embed: Callable[[list[str]], np.ndarray] | None = None,
) -> Method:
    """Sentence units of messages, scored by a relevance rule, picked by MMR under a budget."""

    def run(msgs: list[ChatMessage], rng: random.Random) -> list[str]:
        us = ex.units([m.text for m in msgs])
        f = ex.featurize([u.text for u in us], word_weight=1.0 if use_words else 0.0)
        lengths = np.array([len(content(u.text)) for u in us], dtype=np.float64)
        message_of = np.array([u.message for u in us])
        if embed is not None:
            vectors = embed([u.text for u in us])
            centroid = vectors.sum(axis=0)
            rel = vectors @ (centroid / (np.linalg.norm(centroid) or 1.0))
        else:
            rel = ex.relevance(f.tfidf, relevance)
        if lexrank_mix:
            lex = ex.relevance(f.tfidf, "lexrank")
            rel = rel / (rel.max() or 1) + lexrank_mix * lex / (lex.max() or 1)
        rel = rel * np.minimum(1.0, np.sqrt(lengths / 20)) * f.density**density
        if position:
            rel = rel * (1 + position * (1 - message_of / max(1, len(msgs) - 1)))
        if speaker:
            share = Counter()
            for m in msgs:
                share[m.user_id] += len(m.text)
            total = sum(share.values())
            rel = rel * (1 + speaker * np.array([share[msgs[u.message].user_id] / total for u in us]))
        picked = ex.pick_units(
            f, rel, np.array([len(u.text) for u in us]), message_of, budget,
            diversity=diversity, max_messages=max_messages, max_per_message=max_per_message,
        )
        return [e.text for e in ex.excerpts(msgs, [us[i] for i in sorted(picked)])]

    return run


def keyword_coverage(budget: int = 400, k: int = 20) -> Method:
    """Greedy weighted coverage of the window's top-k keywords, per character quoted."""

    def run(msgs: list[ChatMessage], rng: random.Random) -> list[str]:
        us = ex.units([m.text for m in msgs])
        kws = [w.lower() for w in sm.keywords([m.text for m in msgs], k)]
        weights = np.array([sm._idf(w) for w in kws])
        hits = np.array([[w in u.text.lower() for w in kws] for u in us], dtype=np.float64).reshape(len(us), len(kws))
        lengths = np.array([len(u.text) for u in us])
        alive, left, picked = lengths <= budget, budget, []
        while alive.any():
            gain = np.where(alive, hits @ weights / np.sqrt(lengths), -np.inf)
            best = int(np.argmax(gain))
            picked.append(best)
            left -= lengths[best]
            weights = weights * (1 - hits[best])  # a covered keyword counts once
            alive &= lengths <= left
            alive[best] = False
        return [e.text for e in ex.excerpts(msgs, [us[i] for i in sorted(picked)])]

    return run


def default_summary(config: SummaryConfig) -> Method:
    """The bot's summarize() with the [summary] settings of config.toml."""

    def run(msgs: list[ChatMessage], rng: random.Random) -> list[str]:
        s = sm.summarize(
            msgs, config.picks, min_messages=config.min_messages, min_chars=config.min_chars,
            quote_chars=config.quote_chars, diversity=config.diversity, duplicate_jaccard=config.duplicate_jaccard,
        )
        return [p.text for p in s.picks]

    return run


# -- running -------------------------------------------------------------------------------------


def evaluate(segments: list[dict], method: Method | Callable[[dict], Method], per_segment: bool = False) -> dict[int, list[tuple[float, float]]]:
    """Return {0: even-segment scores, 1: odd-segment scores} as (ROUGE-1, ROUGE-L) pairs."""
    rng = random.Random(0)
    out: dict[int, list[tuple[float, float]]] = {0: [], 1: []}
    for k, seg in enumerate(segments):
        fn = method(seg["reference"]) if per_segment else method
        out[k % 2].append(score(fn(as_messages(seg), rng), seg["reference"]))
    return out


def ci(xs: list[float]) -> str:
    """Return 'mean ± 95 % half-width' (normal approximation over segments)."""
    half = 1.96 * statistics.stdev(xs) / len(xs) ** 0.5
    return f"{statistics.fmean(xs):.3f} ± {half:.3f}"


def paired(a: list[float], b: list[float]) -> str:
    """Return the mean paired difference a − b with its 95 % half-width."""
    return ci([x - y for x, y in zip(a, b)])


def e5_embedder() -> Callable[[list[str]], np.ndarray]:
    """The bot's question encoder (config.toml's model, ONNX int8) as a cached sentence embedder.

    e5 wants the "query: " prefix on both sides for symmetric similarity, which is what
    encode_queries adds; it is also the bot's fast path (~16 sentences/s here, under load).
    """
    from index import load_config
    from index.models.encoder import encoder_for

    encoder = encoder_for(load_config(ROOT / "config.toml").index)
    cache: dict[str, np.ndarray] = {}

    def embed(texts: list[str]) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in cache]
        if missing:
            cache.update(zip(missing, np.asarray(encoder.encode_queries(missing))))
        return np.stack([cache[t] for t in texts])

    return embed


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--embeddings", action="store_true", help="also try centroid + MMR over the bot's e5 embeddings")
    args = ap.parse_args(argv)
    if not DATA.exists():
        print(f"missing {DATA}", file=sys.stderr)
        return 1
    logging.getLogger("jieba").setLevel(logging.WARNING)
    segments = load()
    from bot.config import load_summary_config
    import tomllib

    config = load_summary_config(tomllib.loads((ROOT / "config.toml").read_text(encoding="utf-8")).get("summary"))

    methods: list[tuple[str, Method | Callable[[dict], Method], bool]] = [
        ("baseline: first turns", first_turns, False),
        ("baseline: 5 random turns", random_turns, False),
        ("baseline: old /summary (5 whole messages, centroid + MMR 0.5)", old_summarizer(5), False),
        ("baseline: old selection, 1 message", old_summarizer(1), False),
        ("ceiling: best single turn, chosen by looking at the reference", oracle_turn, True),
        ("units: centroid", units_method(density=0, diversity=0), False),
        ("units: centroid + MMR 0.5", units_method(density=0), False),
        ("units: LexRank", units_method("lexrank", density=0, diversity=0), False),
        ("units: LexRank + MMR 0.5", units_method("lexrank", density=0), False),
        ("units: centroid + LexRank + MMR 0.5", units_method(density=0, lexrank_mix=1), False),
        ("units: centroid + MMR 0.5, first messages favoured", units_method(density=0, position=0.5), False),
        ("units: centroid + MMR 0.5, main speakers favoured", units_method(density=0, speaker=1), False),
        ("units: keyword coverage (top 20 keywords, per character)", keyword_coverage(), False),
        ("units: centroid × density", units_method(diversity=0), False),
        (BEST_EVEN, units_method(diversity=0.2), False),
        ("units: centroid × density² + MMR 0.5", units_method(density=2), False),
        ("units: (centroid + LexRank) × density + MMR 0.5", units_method(lexrank_mix=1), False),
        ("units: centroid × density + MMR 0.5, bigrams only (no jieba words)", units_method(use_words=False), False),
        ("units: centroid × density + MMR 0.5, up to 2 sentences per message", units_method(max_per_message=2), False),
        ("units: centroid × density + MMR 0.5, ≤ 3 messages", units_method(max_messages=3), False),
        ("units: centroid × density + MMR 0.5, no message cap", units_method(max_messages=10**6), False),
    ]
    for budget in (200, 300, 600, 900):
        methods.append((f"units: centroid × density + MMR 0.5, budget {budget} chars", units_method(budget=budget), False))
    if args.embeddings:
        embed = e5_embedder()
        methods.append(("units: e5 centroid + MMR 0.5 (the bot's embeddings for relevance)", units_method(density=0, embed=embed), False))
        methods.append(("units: e5 centroid × density + MMR 0.5", units_method(embed=embed), False))
    default_name = (
        f"**default: centroid × density + MMR {config.diversity:g}, {config.quote_chars} chars, "
        f"≤ {config.picks} messages**"
    )
    methods.append((default_name, default_summary(config), False))

    print(f"{len(segments)} VCSum dev segments; even = {len(segments[::2])} (choice made here: training figures), "
          f"odd = {len(segments[1::2])} (held out)\n")
    print("| method | even R-1 (train) | even R-L (train) | odd R-1 (held out) | odd R-L (held out) | all R-1 |")
    print("|---|---|---|---|---|---|")
    results = {}
    started = time.perf_counter()
    for name, method, per_segment in methods:
        r = evaluate(segments, method, per_segment)
        results[name] = r
        r1 = {h: [x[0] for x in r[h]] for h in (0, 1)}
        rl = {h: [x[1] for x in r[h]] for h in (0, 1)}
        print(f"| {name} | {ci(r1[0])} | {ci(rl[0])} | {ci(r1[1])} | {ci(rl[1])} | "
              f"{statistics.fmean(r1[0] + r1[1]):.3f} |", flush=True)
    base = results["baseline: old /summary (5 whole messages, centroid + MMR 0.5)"]
    best = results[default_name]
    even_best = results[BEST_EVEN]
    print()
    for h, label in ((0, "even (train)"), (1, "odd (held out)")):
        print(f"ROUGE-1, {label}: default − old /summary {paired([x[0] for x in best[h]], [x[0] for x in base[h]])}; "
              f"MMR 0.2 − default {paired([x[0] for x in even_best[h]], [x[0] for x in best[h]])} (paired, 95 %)")

    summarized = sum(
        not sm.summarize(as_messages(s), config.picks, min_messages=config.min_messages, min_chars=config.min_chars).too_few
        for s in segments
    )
    big = sum(sum(len(chars(t["text"])) for t in s["turns"]) >= 300 for s in segments)
    old = sum(len(s["turns"]) >= OLD_FLOOR for s in segments)
    print(f"\nsegments summarized: {summarized} of {len(segments)} ({big} have ≥ 300 characters); "
          f"the old floor of {OLD_FLOOR} messages summarized {old}")
    print(f"({time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
