"""Command arguments parsed beside their handlers: /latest (bot.handlers).

The /latest tests moved here from test_formatting.py with the parser (bot/formatting.py ->
bot/handlers.py).
"""

from __future__ import annotations

import pytest

from bot.handlers import latest_usage, parse_latest_args


@pytest.mark.parametrize(
    "args, expected",
    [([], (10, None)), (["20"], (20, None)), (["疫情"], (10, "疫情")), (["5", "疫情"], (5, "疫情")),
     (["疫情", "5"], (5, "疫情")), (["50"], (50, None)), (["SARS病毒"], (10, "SARS病毒"))],
)
def test_parse_latest_args(args, expected):
    assert parse_latest_args(args, 10, 50) == expected


@pytest.mark.parametrize("args", [["abc"], ["-5"], ["100000"], ["0"], ["51"], ["1.5"], ["1", "2"], ["a", "b", "c"]])
def test_parse_latest_args_rejects(args):
    with pytest.raises(ValueError):
        parse_latest_args(args, 10, 50)


def test_latest_usage_is_one_line():
    assert "\n" not in latest_usage(50) and "1–50" in latest_usage(50)
