"""Reply times under load: N questions from M chats at once, answered through long polling.

The real Application, the production rate limiter (30 requests/s, 20/min per group) and, by
default, the real index of seeds/ with the configured model; the Bot API is the spec-checked fake
from tests/fakebotapi.py (needs ../shared for the spec). A reply time is from the moment the
question is queued to the moment its answer reaches the fake, so it includes waiting for the
rate limiter, which dominates: 200 questions need 400 requests (typing action + answer), at
least 13 s at 30 requests/s. The run is repeated (--rounds) to show memory stays flat.

Usage:
    python bench/load.py [--questions 200] [--chats 50] [--rounds 2] [--fake-retriever]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from telegram.request import HTTPXRequest  # noqa: E402

from bot.app import build_application  # noqa: E402
from bot.config import BotConfig  # noqa: E402
from bot.newsindex import NewsIndex  # noqa: E402
from tests.fakebotapi import BotApiSpec, FakeBotApi  # noqa: E402
from tests.fakeretriever import FakeRetriever  # noqa: E402
from tests.test_load import load_updates, max_in_window  # noqa: E402


def current_rss_mib() -> float:
    """Resident memory now (Linux /proc), in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def real_retriever():
    """The seeds/ index built (once, in a temp folder) and loaded with the configured model."""
    from index import Retriever, build_index, load_config
    from index.models.encoder import encoder_for

    cfg = load_config(ROOT / "config.toml")
    encoder = encoder_for(cfg.index)
    folder = Path(tempfile.mkdtemp(prefix="load-bench-"))
    build_index(cfg.index.seeds, folder, encoder, cfg.index, progress=False)
    return Retriever.load(folder, encoder, cfg.retrieval)


def application_on_fake(retriever, rate_limiter=None):
    """The bot's Application talking to a spec-checked fake Bot API: (application, fake)."""
    fake = FakeBotApi(BotApiSpec.load())
    application = build_application(
        BotConfig(token=fake.token),
        NewsIndex(retriever),
        request=HTTPXRequest(connection_pool_size=64, httpx_kwargs={"transport": fake.transport()}),
        get_updates_request=HTTPXRequest(httpx_kwargs={"transport": fake.transport()}),
        rate_limiter=rate_limiter,
    )
    return application, fake


async def one_round(retriever, questions: int, chats: int, seed: int) -> dict:
    application, fake = application_on_fake(retriever)
    asked = load_updates(fake, chats=chats, questions=questions, seed=seed)
    queued = time.monotonic()
    async with application:
        await application.updater.start_polling(poll_interval=0, timeout=1)
        await application.start()
        while len(fake.sent("sendMessage")) < questions and time.monotonic() - queued < 600:
            await asyncio.sleep(0.02)
        await application.updater.stop()
        await application.stop()
    application.bot_data["chatlog"].close()
    replies = [c for c in fake.calls if c.method == "sendMessage" and c.delivered]
    times = sorted(c.at - queued for c in replies)
    chat_calls = [c.at for c in fake.calls if "chat_id" in c.params]
    assert not fake.violations, fake.violations[:3]
    return {
        "answered": len(replies),
        "chats": len(asked),
        "p50": statistics.median(times),
        "p95": times[int(0.95 * (len(times) - 1))],
        "max": times[-1],
        "max_per_second": max_in_window(chat_calls, 1.0),
        "requests": len(chat_calls),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--questions", type=int, default=200)
    parser.add_argument("--chats", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--fake-retriever", action="store_true", help="no model: a 0-50 ms fake search")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    retriever = FakeRetriever(delay=0.05) if args.fake_retriever else real_retriever()
    print(f"{args.questions} questions from {args.chats} chats, "
          f"{'fake' if args.fake_retriever else 'real seed'} retriever")
    for n in range(args.rounds):
        before = current_rss_mib()
        r = asyncio.run(one_round(retriever, args.questions, args.chats, args.seed + n))
        print(
            f"round {n + 1}: answered {r['answered']}/{args.questions} in {r['max']:.1f} s | "
            f"reply time p50 {r['p50']:.2f} s, p95 {r['p95']:.2f} s | "
            f"{r['requests']} requests, at most {r['max_per_second']} in any second | "
            f"RSS {before:.0f} -> {current_rss_mib():.0f} MiB"
        )


if __name__ == "__main__":
    main()
