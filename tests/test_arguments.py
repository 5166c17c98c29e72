"""Command arguments parsed beside their handlers: /latest (bot.handlers), /summary (bot.groups).

The /latest tests moved here from test_formatting.py with the parser (bot/formatting.py ->
bot/handlers.py); TestParseWindow from test_summarize.py (bot/summarize.py -> bot/groups.py).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.groups import SUMMARY_USAGE as USAGE
from bot.groups import parse_window
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


class TestParseWindow:
    NOW = datetime(2024, 5, 1, 2, 30, tzinfo=UTC)  # 10:30 in China

    @pytest.mark.parametrize("arg", ["", "  "])
    def test_default(self, arg):
        assert parse_window(arg, self.NOW).is_default

    def test_count(self):
        w = parse_window("500", self.NOW)
        assert (w.count, w.since) == (500, None)

    @pytest.mark.parametrize(
        ("arg", "delta"),
        [("2h", timedelta(hours=2)), ("30m", timedelta(minutes=30)), ("3d", timedelta(days=3)),
         ("2小时", timedelta(hours=2)), ("45 min", timedelta(minutes=45)), ("1D", timedelta(days=1))],
    )
    def test_durations(self, arg, delta):
        w = parse_window(arg, self.NOW)
        assert w.count is None and w.since == self.NOW - delta

    def test_today_is_china_midnight(self):
        w = parse_window("today", self.NOW)
        assert w.since == datetime(2024, 4, 30, 16, 0, tzinfo=UTC)
        assert parse_window("今天", self.NOW).since == w.since

    @pytest.mark.parametrize("arg", ["abc", "-5", "0", "2x", "h", "1.5h", "9999999", "4000d", "today 2h"])
    def test_bad_shapes_raise_with_usage(self, arg):
        with pytest.raises(ValueError) as exc:
            parse_window(arg, self.NOW)
        assert USAGE in str(exc.value)

    def test_a_huge_number_gets_the_short_chinese_usage(self):
        # int() refuses strings of more than 4,300 digits with an English ValueError.
        with pytest.raises(ValueError) as exc:
            parse_window("9" * 5000, self.NOW)
        message = str(exc.value)
        assert USAGE in message and "Exceeds" not in message
        assert len(message) < len(USAGE) + 40

    def test_an_unreadable_argument_is_echoed_shortened(self):
        with pytest.raises(ValueError) as exc:
            parse_window("x" * 5000, self.NOW)
        assert "x" * 31 not in str(exc.value) and len(str(exc.value)) < len(USAGE) + 60
