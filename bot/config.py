"""Bot settings: the ``[telegram]`` table of config.toml plus the environment.

Secrets (the bot token, the webhook secret) come only from the environment; everything else can
live in config.toml, and ``TELEGRAM_BASE_URL`` / ``TELEGRAM_WEBHOOK_URL`` override the file.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

DEFAULT_BASE_URL = "https://api.telegram.org/bot"

TOKEN_ENV = "TELEGRAM_BOT_TOKEN"
BASE_URL_ENV = "TELEGRAM_BASE_URL"
WEBHOOK_URL_ENV = "TELEGRAM_WEBHOOK_URL"
WEBHOOK_SECRET_ENV = "TELEGRAM_WEBHOOK_SECRET"


class ConfigError(ValueError):
    """The ``[telegram]`` table or the environment holds an unusable value."""


@dataclass(frozen=True)
class BotConfig:
    """Everything the Telegram side needs, read once at start-up."""

    token: str | None = None
    base_url: str = DEFAULT_BASE_URL
    passages: int = 3  # passages quoted per reply (1-3)
    max_passages: int = 9  # passages reachable through the "more" button, first page included
    latest_default: int = 10  # headlines listed by a bare /latest
    latest_max: int = 50  # the largest N accepted by /latest N
    answer_cache: int = 500  # answers kept server-side for the inline buttons
    webhook_url: str | None = None  # set: webhook mode; unset: long polling
    webhook_listen: str = "0.0.0.0"
    webhook_port: int = 8443
    webhook_path: str = "telegram"
    webhook_secret: str | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.passages <= 3:
            raise ConfigError(f"[telegram] passages must be 1-3, got {self.passages}")
        if self.max_passages < self.passages:
            raise ConfigError("[telegram] max_passages must be at least passages")
        if not 1 <= self.latest_default <= self.latest_max:
            raise ConfigError("[telegram] needs 1 <= latest_default <= latest_max")
        if self.answer_cache < 1:
            raise ConfigError("[telegram] answer_cache must be positive")
        if self.webhook_url and not self.webhook_secret:
            raise ConfigError(
                f"webhook mode needs a secret token: set {WEBHOOK_SECRET_ENV} in the environment"
            )

    @property
    def webhook(self) -> bool:
        """Whether the bot receives updates by webhook rather than by polling."""
        return bool(self.webhook_url)


_INT_KEYS = (
    "passages",
    "max_passages",
    "latest_default",
    "latest_max",
    "answer_cache",
    "webhook_port",
)
_STR_KEYS = ("base_url", "webhook_url", "webhook_listen", "webhook_path")
_SECRET_KEYS = ("token", "webhook_secret")


def load_bot_config(table: Mapping[str, Any] | None, env: Mapping[str, str]) -> BotConfig:
    """Build a BotConfig from the ``[telegram]`` table and the environment.

    Args:
        table: the parsed ``[telegram]`` table (or None when config.toml has none).
        env: the environment, usually ``os.environ``.

    Returns:
        The validated settings. Raises ConfigError on an unknown key, a wrong type, or a secret
        written into the file.
    """
    table = dict(table or {})
    for key in _SECRET_KEYS:
        if key in table:
            raise ConfigError(f"[telegram] {key} must not be in config.toml; use the environment")
    unknown = set(table) - set(_INT_KEYS) - set(_STR_KEYS)
    if unknown:
        raise ConfigError(f"unknown [telegram] keys: {', '.join(sorted(unknown))}")
    values: dict[str, Any] = {}
    for key in _INT_KEYS:
        if key in table:
            value = table[key]
            if isinstance(value, bool) or not isinstance(value, int):
                raise ConfigError(f"[telegram] {key} must be an integer, got {value!r}")
            values[key] = value
    for key in _STR_KEYS:
        if key in table:
            if not isinstance(table[key], str):
                raise ConfigError(f"[telegram] {key} must be a string, got {table[key]!r}")
            values[key] = table[key].strip() or None
    if env.get(BASE_URL_ENV, "").strip():
        values["base_url"] = env[BASE_URL_ENV].strip()
    if env.get(WEBHOOK_URL_ENV, "").strip():
        values["webhook_url"] = env[WEBHOOK_URL_ENV].strip()
    if not values.get("base_url"):
        values.pop("base_url", None)
    if not values.get("webhook_listen"):
        values.pop("webhook_listen", None)
    if values.get("webhook_path") is None:
        values.pop("webhook_path", None)
    return BotConfig(
        token=env.get(TOKEN_ENV, "").strip() or None,
        webhook_secret=env.get(WEBHOOK_SECRET_ENV, "").strip() or None,
        **values,
    )
