"""The worst questions we can construct: time and peak extra memory of each, on a real index.

Each input is asked twice over: through `Retriever.search` (the bot's path: the question capped,
parsed for dates, tokenized, ranked, the best sentence picked) and straight into the BM25 leg
(`LexicalIndex.scores(tokenize(text))`, no cap at the entry: what lexical.py bounds by itself).
Time is the median of 3 runs; memory is the tracemalloc peak of one more run (Python objects and
NumPy arrays allocated by the question, beyond what the index already holds).

Usage:
    python bench/worst_question.py                    # lexical index of xwlb-2020 built into var/ if missing
    python bench/worst_question.py --index DIR        # an existing index (its vectors are used when it has them)
    python bench/worst_question.py --corpus ../shared/data/xwlb ../shared/data/dxy-news   # the full corpus
    python bench/worst_question.py --encoder          # also time the configured question encoder on each input

The dense leg's cost does not depend on the corpus size beyond FAISS (see Performance); with
--encoder each question, as the question path caps it, is also encoded by the configured encoder.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import resource
import statistics
import sys
import time
import tracemalloc
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

DEFAULT_CORPUS = [ROOT.parent / "shared" / "data" / "xwlb" / "xwlb-2020.jsonl"]
NOW = datetime(2020, 3, 1, 12, 0, tzinfo=timezone(timedelta(hours=8)))
TELEGRAM_MAX = 4096  # the longest text message a user can send


def worst_inputs(retriever) -> dict[str, str]:
    """Named hostile questions: repeats, many distinct words (common and rare), digits, dates, scripts."""
    rng = random.Random(20261201)
    lex = retriever.lexical
    vocab = [t for s in lex.segments for t in s.terms]
    by_df = sorted(set(vocab), key=lex.doc_freq, reverse=True)
    han = [chr(c) for c in range(0x4E00, 0x9FA5)]

    def fill(words, sep=""):
        out, n = [], 0
        for w in words:
            if n + len(w) + len(sep) > TELEGRAM_MAX:
                break
            out.append(w)
            n += len(w) + len(sep)
        return sep.join(out)

    return {
        "ordinary question": "社区防控要突出什么",
        "的 × 4,096": "的" * TELEGRAM_MAX,
        "one question × 455": ("社区防控要突出什么" * 456)[:TELEGRAM_MAX],
        "the most common words, distinct": fill(by_df),
        "the most common words, space-separated": fill(by_df, " "),
        "random corpus words, distinct": fill(rng.sample(vocab, min(len(vocab), 4000))),
        "random Han characters": "".join(rng.choice(han) for _ in range(TELEGRAM_MAX)),
        "digits": "".join(rng.choice("0123456789") for _ in range(TELEGRAM_MAX)),
        "digits and spaces": fill((str(rng.randint(0, 10**6)) for _ in range(4000)), " "),
        "date runs": fill(f"{rng.randint(1900, 2100)}年{rng.randint(1, 12)}月{rng.randint(1, 31)}日" for _ in range(2000)),
        "relative dates": ("最近两三天昨天前天上周三月初近三四个月过去五六天一二月三日" * 200)[:TELEGRAM_MAX],
        "Chinese numerals": ("一二三四五六七八九十百千万亿两" * 300)[:TELEGRAM_MAX],
        "mixed scripts": ("COVID-19 疫情 коронавирус 코로나 كورونا 社區防控 ﾃｽﾄ 😀 e\u0301 " * 100)[:TELEGRAM_MAX],
        "zero-width interleaved": "\u200b".join("社区防控要突出什么" * 228)[:TELEGRAM_MAX],
        "punctuation": ("？！。，、；：……——" * 400)[:TELEGRAM_MAX],
        "1 MB of 的 (CLI/API, past Telegram's limit)": "的" * (1 << 20),
        "1 MB of common words (CLI/API)": (fill(by_df) * 300)[: 1 << 20],
    }


def measure(fn, runs: int = 3) -> tuple[float, float]:
    """Median milliseconds of `runs` calls, and the tracemalloc peak MiB of one more."""
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    tracemalloc.start()
    try:
        fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return statistics.median(times), peak / 2**20


def index_for(corpus: list[Path]) -> Path:
    """A lexical-only index of the corpus under var/, built once."""
    from index import IndexConfig, build_index
    from index.store.versions import current_version

    key = hashlib.sha256("|".join(str(p.resolve()) for p in corpus).encode()).hexdigest()[:8]
    folder = ROOT / "var" / "worst-question" / f"{'-'.join(p.stem for p in corpus)}-{key}"
    if current_version(folder) is None:
        print(f"building a lexical index of {', '.join(map(str, corpus))} into {folder} …", flush=True)
        build_index(corpus, folder, None, IndexConfig(), embed=False, progress=False)
    return folder


def load(folder: Path):
    """The index, with the configured encoder when it has vectors."""
    from index import Retriever, load_config
    from index.store.versions import read_manifest, require_version

    cfg = load_config(ROOT / "config.toml")
    encoder = None
    if read_manifest(require_version(folder))["counts"].get("vectors"):
        from index.models.encoder import encoder_for

        encoder = encoder_for(cfg.index)
    return Retriever.load(folder, encoder, cfg.retrieval)


def question_encoder():
    """Encode one question as the question path would: capped, then through the configured encoder."""
    from index import load_config
    from index.models.encoder import encoder_for

    try:
        from index.search.query import MAX_QUESTION_CHARS
    except ImportError:  # an older question path without the entry cap
        MAX_QUESTION_CHARS = TELEGRAM_MAX
    encoder = encoder_for(load_config(ROOT / "config.toml").index)
    encoder.encode_queries(["社区防控要突出什么"])  # load the model before timing
    return lambda text: encoder.encode_queries([text.strip()[:MAX_QUESTION_CHARS]])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index", type=Path, help="an existing index folder")
    parser.add_argument("--corpus", type=Path, nargs="+", default=DEFAULT_CORPUS, help="corpus to index when no --index")
    parser.add_argument("--encoder", action="store_true", help="also time the configured question encoder")
    args = parser.parse_args()

    from index.store.lexical import tokenize

    folder = args.index or index_for(args.corpus)
    retriever = load(folder)
    stats = retriever.stats()
    retriever.search("社区防控要突出什么", now=NOW)  # warm-up: jieba, BM25 tf parts, caches
    print(f"\nindex {folder}: {stats['passages']:,} passages, {stats.get('vectors') or 0:,} vectors; "
          f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}\n")
    encode = question_encoder() if args.encoder else None
    print("| input | chars | search ms | search peak MiB | BM25 leg ms | BM25 leg peak MiB |" + (" encoding ms |" if encode else ""))
    print("|---|---|---|---|---|---|" + ("---|" if encode else ""))
    worst = [0.0] * (5 if encode else 4)
    for name, text in worst_inputs(retriever).items():
        s_ms, s_mib = measure(lambda: retriever.search(text, now=NOW))
        l_ms, l_mib = measure(lambda: retriever.lexical.scores(tokenize(text)))
        row = [s_ms, s_mib, l_ms, l_mib] + ([measure(lambda: encode(text))[0]] if encode else [])
        worst = [max(a, b) for a, b in zip(worst, row)]
        print(f"| {name} | {len(text):,} | " + " | ".join(f"{v:.1f}" for v in row) + " |", flush=True)
    print("| **worst** | | " + " | ".join(f"**{v:.1f}**" for v in worst) + " |")
    print(f"\npeak RSS of the process {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MiB "
          f"(index pages and the 1 MB inputs included); load average {os.getloadavg()[0]:.1f}")
    retriever.close()


if __name__ == "__main__":
    main()
