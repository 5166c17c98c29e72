"""Run the news bot.

Usage:
    TELEGRAM_BOT_TOKEN=123:abc python -m bot      # a Telegram bot (polling, or webhook if configured)
    python -m bot                                 # no token: chat in the terminal
    echo 社区防控要突出什么 | python -m bot        # one question, answer on stdout
    python -m bot report > gaps.csv               # unanswered and 👎 questions, voted answers ([feedback])

It reads config.toml (``--config`` to pick another), builds the index from the seeds when it is
missing or stale, loads it, and starts.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import sys
from pathlib import Path

from .config import TOKEN_ENV, ConfigError, load_bot_config

logger = logging.getLogger("bot")


def main(argv: list[str] | None = None, *, encoder: object | None = None) -> int:
    """Start the bot (or the terminal chat when TELEGRAM_BOT_TOKEN is unset); `report`: the feedback as CSV.

    `encoder`: the index's encoder, instead of the model config.toml names (tests pass a fake).
    """
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["report"]:
        from .feedback import report_main

        return report_main(argv[1:])
    parser = argparse.ArgumentParser(prog="python -m bot", description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, default=Path("config.toml"), help="config file")
    args = parser.parse_args(argv)

    logging.basicConfig(
        format="%(asctime)s - %(name)s - %(levelname)s - %(message)s", level=logging.INFO
    )
    # Set a higher logging level for httpx to avoid all GET and POST requests (and with them the
    # token in their URLs) being logged.
    logging.getLogger("httpx").setLevel(logging.WARNING)

    from index import NewsIndexError, load_config

    from . import app, console, error_handling
    from .newsindex import NewsIndex

    # jieba (imported by the group summarizer) sets its own logger to DEBUG on import.
    logging.getLogger("jieba").setLevel(logging.WARNING)

    try:
        cfg = load_config(args.config)
        bot_config = load_bot_config(
            cfg.raw.get("telegram"),
            os.environ,
            summary=cfg.raw.get("summary"),
            groups=cfg.raw.get("groups"),
            base=cfg.path.resolve().parent if cfg.path else None,
            feeds=cfg.raw.get("feeds"),
            feedback=cfg.raw.get("feedback"),
            channels=cfg.raw.get("channels"),
            llm=cfg.raw.get("llm"),
        )
    except (ConfigError, ValueError, OSError) as e:
        print(f"config error: {e}", file=sys.stderr)
        return 2
    # The token (and the model's key) must not reach the logs, even in a URL inside a traceback.
    secrets = (bot_config.token, bot_config.webhook_secret, bot_config.llm.api_key)
    error_handling.redact_logs(*secrets)
    error_handling.redact_tracebacks(*secrets)
    if not bot_config.token:
        # A terminal chat prints replies on stdout: keep the library chatter to warnings.
        logging.getLogger("telegram").setLevel(logging.WARNING)
        logging.getLogger("apscheduler").setLevel(logging.WARNING)
        logging.getLogger("faiss").setLevel(logging.WARNING)

    try:
        news = NewsIndex.open(cfg, bot_config.feeds, encoder=encoder)
    except NewsIndexError as e:
        logger.error("cannot load the index: %s", e)
        return 1

    try:
        if not bot_config.token:
            logger.info("%s is not set: starting a terminal chat", TOKEN_ENV)
            # The terminal chat keeps its log in memory: a digest it subscribes to must not be
            # re-scheduled, for a chat that does not exist, when the real bot starts.
            console_config = dataclasses.replace(
                bot_config,
                token=console.CONSOLE_TOKEN,
                groups=dataclasses.replace(bot_config.groups, log_path=None),
                feedback=dataclasses.replace(bot_config.feedback, log_path=None),
            )
            console.main_console(
                lambda request: app.build_application(
                    console_config, news, request=request, get_updates_request=request
                )
            )
        else:
            app.run(app.build_application(bot_config, news), bot_config)
    finally:
        news.close()  # post_shutdown closes it too; a second close does nothing
    return 0


if __name__ == "__main__":
    sys.exit(main())
