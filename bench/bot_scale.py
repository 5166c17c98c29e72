"""The bot on the full corpus: start-up time, and reply times with 20 questions in flight.

Start-up is timed inside this fresh process from its first line: imports, the question encoder,
the index (memory-mapped), the Application connected to the fake Bot API and polling. Then 200
questions are asked, 20 at a time (closed loop: a question is queued at the fake as soon as one of
the 20 before it is answered), each from its own private chat; a reply time runs from the
question reaching the fake Bot API (queued for getUpdates) to the answer's sendMessage reaching it.
Run twice: with the production rate limiter (Telegram's 30 messages/s; a "typing" action and an
answer per question) and with no rate limiter, which shows the bot's own cost.

Questions are about the corpus: a random headline's first 8-20 characters with a question word,
and random paragraphs' opening phrases, so most are answerable and some are not.

    python bench/bot_scale.py [--index var/scale/embedded] [--questions 200] [--in-flight 20]

Needs an index of the corpus (`python bench/scale.py build`, then `python -m index --config
var/scale/config-full.toml embed` for the dense leg) and ../shared for the Bot API spec.
"""

import time

T0 = time.perf_counter()

import argparse  # noqa: E402
import asyncio  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from telegram.ext import BaseRateLimiter  # noqa: E402

from bench.load import application_on_fake  # noqa: E402
from index import Retriever, load_config, store  # noqa: E402
from index.models.encoder import encoder_for  # noqa: E402

T_IMPORTS = time.perf_counter()


class NoLimits(BaseRateLimiter):
    """Sends at once: the bot's own cost without Telegram's flood limits."""

    async def initialize(self) -> None: ...

    async def shutdown(self) -> None: ...

    async def process_request(self, callback, args, kwargs, endpoint, data, rate_limit_args):
        return await callback(*args, **kwargs)


def questions(retriever: Retriever, n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    db = retriever.stored.db
    heads = [t for (t,) in db.execute("SELECT title FROM articles ORDER BY RANDOM() LIMIT ?", (n,))]
    paras = [t for (t,) in db.execute("SELECT text FROM passages WHERE kind = 'paragraph' ORDER BY RANDOM() LIMIT ?", (n,))]
    out = []
    for i in range(n):
        if i % 2:
            out.append(heads[i][: rng.randint(8, 20)] + rng.choice(["是怎么回事？", "有什么进展？", "？"]))
        else:
            out.append(paras[i][: rng.randint(10, 24)] + "是什么意思？")
    return out


def pct(xs, p) -> float:
    return float(np.percentile(np.asarray(xs), p))


async def run(retriever, asked: list[str], in_flight: int, limiter) -> dict:
    app, fake = application_on_fake(retriever, limiter)
    t = time.perf_counter()
    queued: dict[int, float] = {}
    times: list[float] = []
    async with app:
        await app.updater.start_polling(poll_interval=0, timeout=1)
        await app.start()
        ready = time.perf_counter() - t
        next_q, seen = 0, 0

        def ask() -> None:
            nonlocal next_q
            chat_id = 100_000 + next_q
            chat = {"id": chat_id, "type": "private", "first_name": f"U{next_q}"}
            user = {"id": chat_id, "is_bot": False, "first_name": f"U{next_q}"}
            queued[chat_id] = time.monotonic()
            fake.enqueue(fake.message_update(asked[next_q], chat=chat, user=user))
            next_q += 1

        for _ in range(min(in_flight, len(asked))):
            ask()
        started = time.monotonic()
        while len(times) < len(asked) and time.monotonic() - started < 900:
            calls = fake.calls
            for c in calls[seen:]:
                if c.method == "sendMessage" and c.delivered and not c.problems:
                    chat_id = int(c.params["chat_id"])
                    if chat_id in queued:  # first message of the answer
                        times.append(c.at - queued.pop(chat_id))
                        if next_q < len(asked):
                            ask()
            seen = len(calls)
            await asyncio.sleep(0.002)
        wall = time.monotonic() - started
        await app.updater.stop()
        await app.stop()
    app.bot_data["chatlog"].close()
    assert not fake.violations, fake.violations[:3]
    texts = fake.texts()
    return {"ready": ready, "times": times, "wall": wall,
            "not_found": sum(x.startswith("抱歉，没有找到") for x in texts)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index", default=str(ROOT / "var" / "scale" / "embedded"))
    parser.add_argument("--questions", type=int, default=200)
    parser.add_argument("--in-flight", type=int, default=20)
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    cfg = load_config(ROOT / "config.toml")
    t = time.perf_counter()
    encoder = encoder_for(cfg.index)
    encoder.encode_queries(["预热"])  # the first call sets up the runtime
    t_model = time.perf_counter() - t
    t = time.perf_counter()
    retriever = Retriever.load(Path(args.index), encoder, cfg.retrieval)
    t_index = time.perf_counter() - t
    stats = retriever.stats()
    asked = questions(retriever, args.questions, args.seed)
    results = {}
    for name, limiter in (("production rate limiter", None), ("no rate limiter", NoLimits())):
        results[name] = asyncio.run(run(retriever, asked, args.in_flight, limiter))
        print(name, f"{len(results[name]['times'])} answered", file=sys.stderr, flush=True)
    ready = results["production rate limiter"]["ready"]  # the first Application of this process
    total = T_IMPORTS - T0 + t_model + t_index + ready
    manifest = store.read_manifest(store.current_version(Path(args.index)))
    print(f"\nIndex {args.index}: {stats['passages']:,} passages, {manifest['counts']['vectors']:,} with vectors, "
          f"{retriever.vector_index}; {os.cpu_count()} cores, load average "
          + " ".join(f"{x:.2f}" for x in os.getloadavg()) + "\n")
    print("| start-up step | seconds |\n|---|---|")
    print(f"| imports (telegram, bot, index) | {T_IMPORTS - T0:.2f} |")
    print(f"| question encoder ({cfg.index.query_backend}) + first query | {t_model:.2f} |")
    print(f"| index load (memory-mapped) | {t_index:.2f} |")
    print(f"| Application initialised and polling (fake Bot API) | {ready:.2f} |")
    print(f"| **total, process start → ready** | **{total:.2f}** |")
    print(f"\n{args.questions} questions, {args.in_flight} in flight, each from its own private chat; "
          "reply time = question queued at the fake Bot API → answer's sendMessage received\n")
    print("| delivery | p50 s | p95 s | p99 s | max s | questions/s | 'not found' answers |\n|---|---|---|---|---|---|---|")
    for name in ("production rate limiter", "no rate limiter"):
        r = results[name]
        print(f"| {name} | {pct(r['times'], 50):.3f} | {pct(r['times'], 95):.3f} | {pct(r['times'], 99):.3f} | "
              f"{max(r['times']):.3f} | {len(r['times']) / r['wall']:.1f} | {r['not_found']} |")
    rss = [int(x.split()[1]) for x in open("/proc/self/status") if x.startswith("VmHWM")][0] / 1024
    print(f"\npeak RSS {rss:,.0f} MiB")


if __name__ == "__main__":
    main()
