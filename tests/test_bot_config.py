"""Bot settings from config.toml and the environment, and the token-redacting log filter."""

from __future__ import annotations

import io
import logging
import tomllib
from pathlib import Path

import pytest

from bot.config import (
    DEFAULT_BASE_URL,
    BotConfig,
    ConfigError,
    SummaryConfig,
    load_bot_config,
    load_groups_config,
)
from bot.error_handling import RedactingFilter

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "123456789:AAsecretTokenValue"


def test_project_config_has_a_valid_telegram_table():
    table = tomllib.loads((ROOT / "config.toml").read_text(encoding="utf-8"))["telegram"]
    config = load_bot_config(table, {})
    assert config.token is None and not config.webhook
    assert config.base_url == DEFAULT_BASE_URL
    assert 1 <= config.passages <= 3 and config.latest_max >= config.latest_default


def test_token_and_secret_come_only_from_the_environment():
    env = {"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_WEBHOOK_SECRET": "s3cret"}
    config = load_bot_config({"webhook_url": "https://bot.example.com/telegram"}, env)
    assert config.token == TOKEN and config.webhook_secret == "s3cret" and config.webhook
    with pytest.raises(ConfigError, match="environment"):
        load_bot_config({"token": TOKEN}, {})


def test_environment_overrides_base_url_and_webhook_url():
    env = {"TELEGRAM_BASE_URL": "http://localhost:8081/bot", "TELEGRAM_WEBHOOK_URL": "https://h/telegram",
           "TELEGRAM_WEBHOOK_SECRET": "x"}
    config = load_bot_config({"base_url": "https://other/bot", "webhook_url": ""}, env)
    assert config.base_url == "http://localhost:8081/bot"
    assert config.webhook_url == "https://h/telegram"


@pytest.mark.parametrize(
    "table, needle",
    [
        ({"webhook_url": "https://h/telegram"}, "TELEGRAM_WEBHOOK_SECRET"),
        ({"passages": 5}, "passages"),
        ({"passages": "3"}, "integer"),
        ({"latest_default": 80}, "latest_default"),
    ],
)
def test_bad_settings_are_refused(table, needle):
    with pytest.raises(ConfigError, match=needle):
        load_bot_config(table, {})


def test_blank_webhook_url_means_polling():
    assert not load_bot_config({"webhook_url": "  "}, {}).webhook
    assert BotConfig().webhook_path == "telegram"


def test_redacting_filter_hides_the_token_in_messages_args_and_tracebacks():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter(TOKEN))
    logger = logging.getLogger("test.redaction")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("POST https://api.telegram.org/bot%s/getMe", TOKEN)
        try:
            raise RuntimeError(f"failed: https://api.telegram.org/bot{TOKEN}/sendMessage")
        except RuntimeError:
            logger.exception("request failed")
    finally:
        logger.removeHandler(handler)
    out = stream.getvalue()
    assert TOKEN not in out
    assert out.count("<TOKEN>") == 2
    assert "RuntimeError" in out


# --- [summary] and [groups] (issue 4) ---


def test_project_config_has_valid_summary_and_groups_tables():
    raw = tomllib.loads((ROOT / "config.toml").read_text(encoding="utf-8"))
    config = load_bot_config(raw["telegram"], {}, summary=raw["summary"], groups=raw["groups"], base=ROOT)
    assert config.summary == SummaryConfig()  # the file spells out the defaults
    assert config.groups.log_path == ROOT / "var" / "chatlog.sqlite"
    assert config.groups.allowed_chats == frozenset() and config.groups.allows(-100123)
    assert (config.groups.retention_days, config.groups.retention_messages) == (7, 5000)


def test_groups_allowlist_and_log_path():
    groups = load_groups_config({"allowed_chats": [-1001, -1002], "log_path": "logs/chat.sqlite"}, Path("/srv/bot"))
    assert groups.allows(-1001) and not groups.allows(-1003)
    assert groups.log_path == Path("/srv/bot/logs/chat.sqlite")
    assert load_groups_config({"log_path": ""}).log_path is None  # in memory
    assert BotConfig().groups.log_path is None


@pytest.mark.parametrize(
    "summary, groups, needle",
    [
        ({"picks": 9}, {}, "picks"),
        ({"min_messages": 300}, {}, "min_messages"),
        ({"diversity": 1.5}, {}, "diversity"),
        ({"picks": 5.0}, {}, "integer"),
        ({}, {"allowed_chats": ["-100123"]}, "chat ids"),
        ({}, {"retention_days": 0}, "retention"),
        ({}, {"log_path": 3}, "log_path"),
        ({}, {"prune_every_minutes": True}, "number"),
    ],
)
def test_bad_summary_and_groups_settings_are_refused(summary, groups, needle):
    with pytest.raises(ConfigError, match=needle):
        load_bot_config({}, {}, summary=summary, groups=groups)


def test_an_unknown_key_is_named_in_a_warning_and_ignored(caplog):
    """A key a newer version knows (or a typo) does not stop the bot; the log names it and its table."""
    tables = {"summary": {"colour": 1}, "groups": {"colour": 2}, "feeds": {"colour": 3},
              "feedback": {"colour": 4}, "channels": {"colour": 5}}
    with caplog.at_level(logging.WARNING, logger="config"):
        config = load_bot_config({"colour": "red"}, {}, **tables)
    assert config.summary == SummaryConfig() and config.passages == 3
    for table in ("telegram", *tables):
        assert any("'colour'" in r.getMessage() and f"[{table}]" in r.getMessage() for r in caplog.records), table
