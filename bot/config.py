"""Bot settings: the ``[telegram]``, ``[summary]`` and ``[groups]`` tables of config.toml, and the env.

Secrets (the bot token, the webhook secret) come only from the environment; everything else can
live in config.toml, and ``TELEGRAM_BASE_URL`` / ``TELEGRAM_WEBHOOK_URL`` override the file.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from index.typedconfig import ConfigError, checked

logger = logging.getLogger("config")

DEFAULT_BASE_URL = "https://api.telegram.org/bot"

TOKEN_ENV = "TELEGRAM_BOT_TOKEN"
BASE_URL_ENV = "TELEGRAM_BASE_URL"
WEBHOOK_URL_ENV = "TELEGRAM_WEBHOOK_URL"
WEBHOOK_SECRET_ENV = "TELEGRAM_WEBHOOK_SECRET"
LLM_KEY_ENV = "LLM_API_KEY"
MAX_FOLLOWUP_MINUTES = 60  # a conversation's context is short-lived: older questions are not "just asked"


@dataclass(frozen=True)
class SummaryConfig:
    """How /summary and /digest read and pick: the ``[summary]`` table."""

    default_messages: int = 200  # a bare /summary with no earlier summary reads this many
    max_messages: int = 2000  # the largest window /summary reads
    min_messages: int = 10  # a window is summarized from this many messages...
    min_chars: int = 300  # ...or this many characters of discussion, whichever comes first
    picks: int = 5  # messages quoted at most (3-7)
    quote_chars: int = 400  # characters quoted in all: short messages whole, long ones in part
    cooldown_seconds: float = 30  # per chat, between two summaries
    keywords: int = 8  # topic keywords shown
    related_headlines: int = 3  # related news headlines at most (0: none)
    duplicate_jaccard: float = 0.6  # two picks at least this alike (character bigrams) are one
    diversity: float = 0.5  # MMR trade-off: 0 = most central sentences, 1 = most varied
    digest_hours: float = 24  # /digest covers this many hours up to the newest dated headline
    digest_max_items: int = 10  # headlines in a digest at most

    def __post_init__(self) -> None:
        if not 3 <= self.picks <= 7:
            raise ConfigError(f"[summary] picks must be 3-7, got {self.picks}")
        if not 1 <= self.min_messages <= self.default_messages <= self.max_messages:
            raise ConfigError("[summary] needs 1 <= min_messages <= default_messages <= max_messages")
        if self.min_chars < 0 or not 50 <= self.quote_chars <= 3000 or self.cooldown_seconds < 0:
            raise ConfigError("[summary] needs min_chars >= 0, quote_chars 50-3000, cooldown_seconds >= 0")
        if self.keywords < 0 or self.related_headlines < 0:
            raise ConfigError("[summary] keywords and related_headlines must not be negative")
        if not 0 <= self.duplicate_jaccard <= 1 or not 0 <= self.diversity <= 1:
            raise ConfigError("[summary] duplicate_jaccard and diversity must be within 0-1")
        if self.digest_hours <= 0 or self.digest_max_items < 1:
            raise ConfigError("[summary] digest_hours and digest_max_items must be positive")


@dataclass(frozen=True)
class GroupsConfig:
    """Who may use the group features and how long their messages are kept: the ``[groups]`` table."""

    allowed_chats: frozenset[int] = frozenset()  # empty: every chat
    log_path: Path | None = None  # the ChatLog SQLite file; None keeps it in memory (lost at exit)
    retention_days: float = 7  # logged messages older than this are deleted
    retention_messages: int = 5000  # per chat; older messages beyond this are deleted
    prune_every_minutes: float = 60  # how often the deletion runs

    def __post_init__(self) -> None:
        if self.retention_days <= 0 or self.retention_messages < 1:
            raise ConfigError("[groups] retention_days and retention_messages must be positive")
        if self.prune_every_minutes <= 0:
            raise ConfigError("[groups] prune_every_minutes must be positive")

    def allows(self, chat_id: int) -> bool:
        """Whether the chat may use the bot's group features (an empty allowlist allows all)."""
        return not self.allowed_chats or chat_id in self.allowed_chats


@dataclass(frozen=True)
class FeedsConfig:
    """Which RSS/Atom feeds (or article pages) the running bot polls: the ``[feeds]`` table."""

    urls: tuple[str, ...] = ()
    interval_minutes: float = 30.0  # how often they are polled; a failing feed backs off from this
    timeout_seconds: float = 10.0  # for the whole fetch of one feed

    def __post_init__(self) -> None:
        if self.interval_minutes <= 0 or self.timeout_seconds <= 0:
            raise ConfigError("[feeds] interval_minutes and timeout_seconds must be positive")
        bad = [u for u in self.urls if not u.startswith(("http://", "https://"))]
        if bad:
            raise ConfigError(f"[feeds] urls must be http(s) URLs, got {bad!r}")


@dataclass(frozen=True)
class ChannelsConfig:
    """Which Telegram channels' posts become articles: the ``[channels]`` table."""

    usernames: frozenset[str] = frozenset()  # lower case, without the @
    ids: frozenset[int] = frozenset()  # for channels without a public username, e.g. -1001234567890

    def allows(self, chat_id: int, username: str | None) -> bool:
        """Whether posts of this channel are added to the index."""
        return chat_id in self.ids or bool(username) and username.lower() in self.usernames


@dataclass(frozen=True)
class FeedbackConfig:
    """Where 👍/👎 votes and unanswered questions are kept, and for how long: the ``[feedback]`` table."""

    log_path: Path | None = None  # SQLite; None keeps it in memory (lost at exit)
    retention_days: float = 30  # older answers, votes and unanswered questions are deleted

    def __post_init__(self) -> None:
        if self.retention_days <= 0:
            raise ConfigError("[feedback] retention_days must be positive")


@dataclass(frozen=True)
class LLMConfig:
    """The optional one-paragraph answer over the quotes: the ``[llm]`` table (off by default).

    Any OpenAI-compatible ``/v1/chat/completions`` (ollama, vLLM, llama.cpp's server, DeepSeek, Qwen).
    The key comes only from the environment (``LLM_API_KEY``); a local server needs none.
    """

    enabled: bool = False
    base_url: str = "http://127.0.0.1:11434/v1"  # up to and including /v1; /chat/completions is added
    model: str = ""
    timeout_seconds: float = 20.0  # for the whole answer, first byte to last; past it: the quotes alone
    max_tokens: int = 300  # asked of the model; the stream is also cut at a byte and chunk bound
    temperature: float = 0.2
    answers_per_user_per_day: int = 20  # per user (China day); past it the quotes alone (0: unlimited)
    summaries: bool = False  # /summary adds a paragraph too: sends the picked group messages to the model
    api_key: str | None = field(default=None, repr=False)  # from LLM_API_KEY only

    def __post_init__(self) -> None:
        if self.timeout_seconds <= 0 or not 16 <= self.max_tokens <= 4096:
            raise ConfigError("[llm] needs timeout_seconds > 0 and max_tokens 16-4096")
        if self.answers_per_user_per_day < 0 or not 0 <= self.temperature <= 2:
            raise ConfigError("[llm] needs answers_per_user_per_day >= 0 and temperature 0-2")
        if self.enabled and not self.model:
            raise ConfigError("[llm] enabled needs a model name")
        if not self.base_url.startswith(("http://", "https://")):
            raise ConfigError(f"[llm] base_url must be an http(s) URL, got {self.base_url!r}")


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
    admins: frozenset[int] = frozenset()  # user ids allowed /stats, /reindex and /forget anywhere
    questions_per_minute: int = 10  # per user; 0: unlimited
    followup_minutes: int = 5  # a private chat's last question is context for this long (0: no follow-ups)
    summary: SummaryConfig = field(default_factory=SummaryConfig)
    groups: GroupsConfig = field(default_factory=GroupsConfig)
    feeds: FeedsConfig = field(default_factory=FeedsConfig)
    feedback: FeedbackConfig = field(default_factory=FeedbackConfig)
    channels: ChannelsConfig = field(default_factory=ChannelsConfig)
    llm: LLMConfig = field(default_factory=LLMConfig)

    def __post_init__(self) -> None:
        if not 1 <= self.passages <= 3:
            raise ConfigError(f"[telegram] passages must be 1-3, got {self.passages}")
        if self.max_passages < self.passages:
            raise ConfigError("[telegram] max_passages must be at least passages")
        if not 1 <= self.latest_default <= self.latest_max:
            raise ConfigError("[telegram] needs 1 <= latest_default <= latest_max")
        if self.answer_cache < 1:
            raise ConfigError("[telegram] answer_cache must be positive")
        if self.questions_per_minute < 0:
            raise ConfigError("[telegram] questions_per_minute must not be negative")
        if not 0 <= self.followup_minutes <= MAX_FOLLOWUP_MINUTES:
            raise ConfigError(f"[telegram] followup_minutes must be 0-{MAX_FOLLOWUP_MINUTES}, got {self.followup_minutes}")
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
    "questions_per_minute",
    "followup_minutes",
)
_STR_KEYS = ("base_url", "webhook_url", "webhook_listen", "webhook_path")
_SECRET_KEYS = ("token", "webhook_secret")


def load_bot_config(
    table: Mapping[str, Any] | None,
    env: Mapping[str, str],
    *,
    summary: Mapping[str, Any] | None = None,
    groups: Mapping[str, Any] | None = None,
    base: Path | None = None,
    feeds: Mapping[str, Any] | None = None,
    feedback: Mapping[str, Any] | None = None,
    channels: Mapping[str, Any] | None = None,
    llm: Mapping[str, Any] | None = None,
) -> BotConfig:
    """Build a BotConfig from the ``[telegram]`` table and the environment.

    Args:
        table: the parsed ``[telegram]`` table (or None when config.toml has none).
        env: the environment, usually ``os.environ``.
        summary: the parsed ``[summary]`` table, if any.
        groups: the parsed ``[groups]`` table, if any.
        feeds: the parsed ``[feeds]`` table, if any.
        feedback: the parsed ``[feedback]`` table, if any (``log_path`` relative to ``base``).
        channels: the parsed ``[channels]`` table, if any.
        llm: the parsed ``[llm]`` table, if any (its key from ``LLM_API_KEY`` in ``env``).
        base: the folder ``[groups] log_path`` is relative to (config.toml's); default the cwd.

    Returns:
        The validated settings. Raises ConfigError on a wrong type or range, or a secret written
        into the file; an unknown key is logged and ignored.
    """
    table = dict(table or {})
    admins = table.pop("admins", [])
    if not isinstance(admins, list) or any(isinstance(a, bool) or not isinstance(a, int) for a in admins):
        raise ConfigError(f"[telegram] admins must be a list of user ids, got {admins!r}")
    for key in _SECRET_KEYS:
        if key in table:
            raise ConfigError(f"[telegram] {key} must not be in config.toml; use the environment")
    for key in sorted(set(table) - set(_INT_KEYS) - set(_STR_KEYS)):
        logger.warning("config: unknown key %r in [telegram] is ignored", key)
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
        admins=frozenset(admins),
        summary=load_summary_config(summary),
        groups=load_groups_config(groups, base),
        feeds=load_feeds_config(feeds),
        feedback=load_feedback_config(feedback, base),
        channels=load_channels_config(channels),
        llm=load_llm_config(llm, env),
        **values,
    )


def _numbers(table: Mapping[str, Any], cls: type, name: str) -> dict[str, Any]:
    """A table's number settings checked against the dataclass's field types (finite); unknown keys warned about."""
    return checked(cls, table, name)


def _log_path(value: Any, base: Path | None, name: str) -> Path | None:
    """A SQLite file setting relative to ``base``; empty: None (memory only). A folder is refused at start."""
    if value is not None and not isinstance(value, str):
        raise ConfigError(f"[{name}] log_path must be a string, got {value!r}")
    if not value or not value.strip():
        return None
    path = (base or Path.cwd()) / value
    if path.is_dir():
        raise ConfigError(f"[{name}] log_path {str(path)!r} is a folder: give a file name in it (\"\": memory only)")
    return path


def load_summary_config(table: Mapping[str, Any] | None) -> SummaryConfig:
    """Build a SummaryConfig from the ``[summary]`` table (None: the defaults)."""
    return SummaryConfig(**_numbers(dict(table or {}), SummaryConfig, "summary"))


def load_groups_config(table: Mapping[str, Any] | None, base: Path | None = None) -> GroupsConfig:
    """Build a GroupsConfig from the ``[groups]`` table; ``log_path`` is taken relative to ``base``."""
    table = dict(table or {})
    allowed = table.pop("allowed_chats", [])
    log_path = _log_path(table.pop("log_path", None), base, "groups")
    if not isinstance(allowed, list) or any(
        isinstance(c, bool) or not isinstance(c, int) for c in allowed
    ):
        raise ConfigError(f"[groups] allowed_chats must be a list of chat ids, got {allowed!r}")
    return GroupsConfig(allowed_chats=frozenset(allowed), log_path=log_path, **_numbers(table, GroupsConfig, "groups"))


def load_feeds_config(table: Mapping[str, Any] | None) -> FeedsConfig:
    """Build a FeedsConfig from the ``[feeds]`` table (None: no feeds)."""
    table = dict(table or {})
    urls = table.pop("urls", [])
    if not isinstance(urls, list) or any(not isinstance(u, str) for u in urls):
        raise ConfigError(f"[feeds] urls must be a list of URLs, got {urls!r}")
    return FeedsConfig(urls=tuple(u.strip() for u in urls if u.strip()), **_numbers(table, FeedsConfig, "feeds"))


def load_feedback_config(table: Mapping[str, Any] | None, base: Path | None = None) -> FeedbackConfig:
    """Build a FeedbackConfig from the ``[feedback]`` table; ``log_path`` is taken relative to ``base``."""
    table = dict(table or {})
    log_path = _log_path(table.pop("log_path", None), base, "feedback")
    return FeedbackConfig(log_path=log_path, **_numbers(table, FeedbackConfig, "feedback"))


def load_channels_config(table: Mapping[str, Any] | None) -> ChannelsConfig:
    """Build a ChannelsConfig from the ``[channels]`` table (None: no channels)."""
    table = dict(table or {})
    usernames = table.pop("usernames", [])
    ids = table.pop("ids", [])
    for key in sorted(table):
        logger.warning("config: unknown key %r in [channels] is ignored", key)
    if not isinstance(usernames, list) or any(not isinstance(u, str) or not u.strip("@ ") for u in usernames):
        raise ConfigError(f"[channels] usernames must be a list of channel usernames, got {usernames!r}")
    if not isinstance(ids, list) or any(isinstance(i, bool) or not isinstance(i, int) for i in ids):
        raise ConfigError(f"[channels] ids must be a list of chat ids, got {ids!r}")
    return ChannelsConfig(usernames=frozenset(u.strip("@ ").lower() for u in usernames), ids=frozenset(ids))


def load_llm_config(table: Mapping[str, Any] | None, env: Mapping[str, str]) -> LLMConfig:
    """Build an LLMConfig from the ``[llm]`` table (None: off) and ``LLM_API_KEY`` from the environment."""
    table = dict(table or {})
    for key in ("api_key", "key"):
        if key in table:
            raise ConfigError(f"[llm] {key} must not be in config.toml; use the environment ({LLM_KEY_ENV})")
    values = checked(LLMConfig, table, "llm")
    if "base_url" in values:
        values["base_url"] = values["base_url"].strip().rstrip("/")
    if "model" in values:
        values["model"] = values["model"].strip()
    return LLMConfig(api_key=env.get(LLM_KEY_ENV, "").strip() or None, **values)
