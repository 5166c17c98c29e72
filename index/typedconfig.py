"""A config.toml table checked against a settings dataclass: each key's type from its field, then its rule."""

from __future__ import annotations

import logging
import math
import re
import typing
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path

logger = logging.getLogger("config")

MAX_SHOWN = 60  # characters of a bad value quoted in the error: enough to recognise it


class ConfigError(ValueError):
    """config.toml (or the environment) holds an unusable value; the message names the table and key."""


@dataclass(frozen=True)
class Rule:
    """What a value may be beyond its field's type: a closed range, choices, a pattern, or a table's keys."""

    lo: float | None = None
    hi: float | None = None
    choices: tuple[str, ...] = ()
    pattern: str | None = None  # a string must match it whole
    what: str = ""  # how a pattern's strings are described in the error
    keys: tuple[str, ...] = ()  # a table of numbers (dict field): the names it may hold


def checked(cls: type, table: Mapping[str, typing.Any], name: str,
            rules: Mapping[str, Rule] | None = None) -> dict[str, typing.Any]:
    """The keys of ``table`` that are fields of ``cls``, each checked against its field's type and rule.

    An unknown key is warned about and dropped (a newer config on an older program still starts).
    Raises ConfigError naming ``[name] key`` for a wrong type, a number that is not finite or out of
    range, a string that is not one of the choices.
    """
    hints = typing.get_type_hints(cls)
    known = {f.name for f in fields(cls)}
    out: dict[str, typing.Any] = {}
    for key, value in table.items():
        if key not in known:
            logger.warning("config: unknown key %r in [%s] is ignored", key, name)
            continue
        problem = _problem(value, hints[key], (rules or {}).get(key, Rule()))
        if problem:
            shown = repr(value)
            shown = shown if len(shown) <= MAX_SHOWN else shown[:MAX_SHOWN] + "…"
            raise ConfigError(f"[{name}] {key} must be {problem}, got {shown}")
        out[key] = value
    return out


def warn_unknown_tables(raw: Mapping[str, typing.Any], known: typing.Iterable[str]) -> None:
    """Warn about each top-level table or key of config.toml that nothing reads (a typo: ``[indexx]``)."""
    for name in raw:
        if name not in known:
            kind = "table" if isinstance(raw[name], dict) else "key"
            logger.warning("config: unknown %s [%s] is ignored (known: %s)", kind, name, ", ".join(known))


def _problem(value: typing.Any, hint: typing.Any, rule: Rule) -> str | None:
    """What the value should have been, or None when it is fine."""
    if hint is bool:
        return None if isinstance(value, bool) else "true or false"
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            return "an integer"
        return _range(value, rule)
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return "a number"
        if not math.isfinite(value):
            return "a finite number"
        return _range(value, rule)
    if hint in (str, Path):
        return _string(value, rule, path=hint is Path)
    if typing.get_origin(hint) is list:  # a list of paths (seeds): one string is a list of one
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or any(_string(v, rule, path=True) for v in items):
            return "a path or a list of paths"
        return None
    if hint is dict:  # a table of numbers (answer_weights)
        if not isinstance(value, dict):
            return "a table of numbers"
        bad = [k for k, v in value.items() if (rule.keys and k not in rule.keys) or _problem(v, float, Rule())]
        if bad:
            names = f" named {', '.join(rule.keys)}" if rule.keys else ""
            return f"a table of finite numbers{names} (not {', '.join(map(str, bad))})"
        return None
    raise TypeError(f"no config check for a field of type {hint!r}")  # a new field: give it a case here


def _range(value: float, rule: Rule) -> str | None:
    """The range a number should have been in, or None."""
    if (rule.lo is None or value >= rule.lo) and (rule.hi is None or value <= rule.hi):
        return None
    if rule.lo is not None and rule.hi is not None:
        return f"between {rule.lo} and {rule.hi}"
    return f"at least {rule.lo}" if rule.lo is not None else f"at most {rule.hi}"


def _string(value: typing.Any, rule: Rule, path: bool) -> str | None:
    """What a string (or path) setting should have been, or None."""
    if not isinstance(value, str):
        return "a path (a string)" if path else "a string"
    if rule.choices and value not in rule.choices:
        return "one of " + ", ".join(f'"{c}"' for c in rule.choices)
    if rule.pattern and not re.fullmatch(rule.pattern, value):
        return rule.what or f"a string matching {rule.pattern}"
    if path and not value.strip():
        return "a path (not empty)"
    return None
