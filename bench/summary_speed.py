"""Time /summary on its largest window: 2,000 messages, long ones included, read from a real ChatLog.

Texts are real meeting turns (../shared/data/vcsum-dev), posted in order and cycled to 2,000
messages; "long" builds every message from 1,000 characters of them (the issue's worst case).
Two timings: the path the /summary handler runs in its worker thread (read the window from
SQLite, summarize, format), without related headlines; and `/summary 2000` through the bot (the
real Application against the spec-checked fake Bot API, a fake retriever for the headlines), from
the command's update to its reply reaching the fake.

Usage:
    python bench/summary_speed.py [--messages 2000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import logging
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot import groups  # noqa: E402
from bot.analysis import summarize  # noqa: E402
from bot.chatlog import ChatLog, ChatMessage  # noqa: E402
from bot.config import BotConfig  # noqa: E402
from bot.summary_format import format_summary  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "vcsum-dev" / "vcsum-short-dev.jsonl"
CHAT = -1001234567890


def turns() -> list[dict]:
    """Every turn of the dev split, in file order."""
    with DATA.open(encoding="utf-8") as f:
        return [t for line in f for t in json.loads(line)["turns"]]


def texts(kind: str, n: int) -> list[str]:
    """n message texts: the real turns as they are ("turns"), or 1,000 characters each ("long")."""
    ts = [t["text"] for t in turns()]
    if kind == "turns":
        return list(itertools.islice(itertools.cycle(ts), n))
    stream = "".join(ts)
    return [stream[(i * 1000) % (len(stream) - 1000):][:1000] for i in range(n)]


def run(kind: str, n: int, repeats: int) -> None:
    """Fill a ChatLog with n messages of the kind and time the handler's blocking path."""
    config = BotConfig()
    with tempfile.TemporaryDirectory() as tmp:
        log = ChatLog(Path(tmp) / "log.sqlite")
        t0 = datetime(2024, 5, 1, tzinfo=UTC)
        for i, text in enumerate(texts(kind, n), start=1):
            log.add(ChatMessage(CHAT, i, 100 + i % 7, f"用户{i % 7}", t0 + timedelta(seconds=30 * i), text))
        window = groups.Window(count=n, label=f"最近 {n} 条消息")
        times, chars = [], 0
        for _ in range(repeats):
            started = time.perf_counter()
            result, label = groups._summarize_window(log, None, config, CHAT, window, t0 + timedelta(days=1))
            html = format_summary(result, chat_id=CHAT, window_label=label, quote_chars=config.summary.quote_chars)
            times.append(time.perf_counter() - started)
            chars = sum(len(m.text) for m in log.last(CHAT, n))
        log.close()
    print(f"| {kind} | {n} | {chars:,} | {statistics.median(times):.2f} s | {max(times):.2f} s | "
          f"{len(result.picks)} | {len(html)} |")


async def through_bot(kind: str, n: int) -> float:
    """Post n messages of the kind to a group through the bot, then time `/summary n` to its reply."""
    from telegram import Update

    from bench.load import application_on_fake
    from tests.fakebotapi import GROUP_CHAT
    from tests.fakeretriever import FakeRetriever

    application, fake = application_on_fake(FakeRetriever())
    start = int(time.time()) - 30 * n - 60
    async with application:
        for i, text in enumerate(texts(kind, n)):
            user = {"id": 3000 + i % 7, "is_bot": False, "first_name": f"用户{i % 7}"}
            update = fake.message_update(text, chat=GROUP_CHAT, user=user, date=start + 30 * i)
            await application.process_update(Update.de_json(update, application.bot))
        command = fake.message_update(f"/summary {n}", chat=GROUP_CHAT)
        started = time.perf_counter()
        await application.process_update(Update.de_json(command, application.bot))
        elapsed = time.perf_counter() - started
    application.bot_data["chatlog"].close()
    [reply] = fake.sent("sendMessage", GROUP_CHAT["id"])
    assert f"读了 {n} 条消息" in reply["text"] and not fake.violations, fake.violations[:3]
    return elapsed


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=2000)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)
    if not DATA.exists():
        print(f"missing {DATA}", file=sys.stderr)
        return 1
    logging.getLogger("jieba").setLevel(logging.WARNING)
    started = time.perf_counter()
    summarize.keywords(["预热 jieba 的词典"])  # jieba loads its dictionary once per process (~0.5 s)
    print(f"(jieba dictionary load, once per process: {time.perf_counter() - started:.2f} s)\n")
    print("| texts | messages | characters | median | slowest | messages quoted | reply chars |")
    print("|---|---|---|---|---|---|---|")
    for kind in ("turns", "long"):
        run(kind, args.messages, args.repeats)
    print()
    for kind in ("turns", "long"):
        seconds = asyncio.run(through_bot(kind, args.messages))
        print(f"/summary {args.messages} through the bot ({kind}): {seconds:.2f} s to the reply")
    return 0


if __name__ == "__main__":
    sys.exit(main())
