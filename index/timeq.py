"""Dates and relative times in a question: "昨天的天气预报" -> (the day before `now`, "的天气预报").

Pure: no index, no clock. The caller gives the reference time (`now`, China time when naive) and
gets back the question without its time words, the inclusive date range they name (China dates)
and whether the question asks for the newest news (最新, 最近, 近期 without a span).

Understood, with `now` = 2020-02-10 (a Monday) as the example::

    今天 今日                      2020-02-10
    昨天 昨日 / 前天 / 大前天        02-09 / 02-08 / 02-07
    本周 这周 / 上周 上星期          02-10 … 02-10 / 02-03 … 02-09 (weeks start on Monday)
    本月 这个月 / 上个月 上月        02-01 … 02-10 / 01-01 … 01-31
    今年 / 去年 / 前年               2020-01-01 … 02-10 / 2019 / 2018
    最近3天 近一周 过去两个月         the last N days (a week 7, a month 30), today included
    2月9日 二月九号                  that day of the current year (of the last year, if still to come)
    2020年2月9日 2020-02-09          that day
    2020年2月 / 2月份 / 2020年       that month / that month of this year / that year
    最新 最近 近期 近来              no range; prefer the newest passages

Several expressions in one question give the span that covers them all ("昨天和今天").
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

CHINA_TZ = timezone(timedelta(hours=8), "Asia/Shanghai")

_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_NUM = r"(?:\d{1,2}|[一二两三四五六七八九十]{1,3})"


def _number(text: str) -> int:
    """'9' -> 9, '十二' -> 12, '二十九' -> 29, '三十一' -> 31."""
    if text.isdigit():
        return int(text)
    if "十" not in text:
        return _CN_DIGITS[text]
    tens, _, ones = text.partition("十")
    return (_CN_DIGITS[tens] if tens else 1) * 10 + (_CN_DIGITS[ones] if ones else 0)


@dataclass(frozen=True)
class TimeQuery:
    """What a question says about time."""

    text: str  # the question without its time words
    start: date | None = None  # inclusive, China date
    end: date | None = None  # inclusive, China date
    recent: bool = False  # 最新 / 最近 without a span: prefer the newest
    matched: tuple[str, ...] = field(default=())  # the time expressions found, in order

    @property
    def date_range(self) -> tuple[str, str] | None:
        """The range as ISO dates, or None."""
        if self.start is None or self.end is None:
            return None
        return (self.start.isoformat(), self.end.isoformat())

    @property
    def has_time(self) -> bool:
        """Whether the question said anything about time."""
        return self.start is not None or self.recent


def china_today(now: datetime | None = None) -> date:
    """The China date of `now` (naive means China time); the current date when None."""
    if now is None:
        now = datetime.now(CHINA_TZ)
    elif now.tzinfo is None:
        now = now.replace(tzinfo=CHINA_TZ)
    return now.astimezone(CHINA_TZ).date()


def _month_range(year: int, month: int) -> tuple[date, date]:
    return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])


def _safe_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


# (pattern, resolver(match, today) -> (start, end) | "recent" | None). Tried in order; a span
# matched by one is removed before the next, so the longer forms come first.
def _full_date(m, today):
    d = _safe_date(int(m["y"]), _number(m["m"]), _number(m["d"]))
    return (d, d) if d else None


def _year_month(m, today):
    month = _number(m["m"])
    return _month_range(int(m["y"]), month) if 1 <= month <= 12 else None


def _month_day(m, today):
    month, day = _number(m["m"]), _number(m["d"])
    d = _safe_date(today.year, month, day)
    if _safe_date(2000, month, day) is None:  # no such day in any year (2月30日)
        return None
    year = today.year
    while d is None or d > today:  # the last such date not after today (2月29日: the last leap year's)
        year -= 1
        d = _safe_date(year, month, day)
    return (d, d)


def _month_only(m, today):
    month = _number(m["m"])
    if not 1 <= month <= 12:
        return None
    year = today.year if month <= today.month else today.year - 1
    return _month_range(year, month)


def _year_only(m, today):
    year = int(m["y"])
    return (date(year, 1, 1), date(year, 12, 31)) if 1900 <= year <= 2100 else None


def _last_days(m, today):
    n = _number(m["n"])
    unit = m["u"]
    days = n * (30 if "月" in unit else 7 if unit in ("周", "星期", "个星期", "礼拜", "个礼拜") else 1)
    if days < 1:
        return None
    return (today - timedelta(days=days - 1), today)


def _days_ago(n: int):
    return lambda m, today: (today - timedelta(days=n),) * 2


def _this_week(m, today):
    return (today - timedelta(days=today.weekday()), today)


def _last_week(m, today):
    monday = today - timedelta(days=today.weekday() + 7)
    return (monday, monday + timedelta(days=6))


def _this_month(m, today):
    return (today.replace(day=1), today)


def _last_month(m, today):
    last = today.replace(day=1) - timedelta(days=1)
    return _month_range(last.year, last.month)


def _this_year(m, today):
    return (date(today.year, 1, 1), today)


def _years_ago(n: int):
    return lambda m, today: (date(today.year - n, 1, 1), date(today.year - n, 12, 31))


_RULES = [
    (rf"(?P<y>\d{{4}})\s*年\s*(?P<m>{_NUM})\s*月\s*(?P<d>{_NUM})\s*[日号]", _full_date),
    (r"(?<!\d)(?P<y>\d{4})[-/.](?P<m>\d{1,2})[-/.](?P<d>\d{1,2})(?!\d)", _full_date),
    (rf"(?P<y>\d{{4}})\s*年\s*(?P<m>{_NUM})\s*月份?", _year_month),
    (rf"(?<![\d年])(?P<m>{_NUM})\s*月\s*(?P<d>{_NUM})\s*[日号]", _month_day),
    (r"(?:最近|近|过去|前)(?P<n>\d{1,2}|[一二两三四五六七八九十]{1,3})"
     r"(?P<u>天|日|个星期|星期|周|个礼拜|礼拜|个月|月)(?:以来|之内|内|来|里)?", _last_days),
    (r"大前天", _days_ago(3)),
    (r"今天|今日|今儿", _days_ago(0)),
    (r"昨天|昨日|昨儿", _days_ago(1)),
    (r"(?<![日之此以目提眼面先从])前天(?!津)", _days_ago(2)),
    (r"本周|这周|这一周|这个星期|本星期|这星期|这礼拜", _this_week),
    (r"上周|上星期|上个星期|上礼拜|上个礼拜|上一周", _last_week),
    (r"本月|这个月|这月|当月", _this_month),
    (r"上个月|上月|上一个月", _last_month),
    (r"今年以来|今年|本年度", _this_year),
    (r"去年|上一年", _years_ago(1)),
    (r"(?<![千百十\d])前年", _years_ago(2)),
    (rf"(?<![\d年个])(?P<m>[1-9]|1[0-2]|[一二三四五六七八九十]|十[一二])\s*月份?(?![\d日号底初中])", _month_only),
    (r"(?<!\d)(?P<y>(?:19|20)\d{2})\s*年(?![\d代前后])", _year_only),
    (r"最新|最近|近期|近来|新近|近日|日前", None),  # a preference, not a span
]
_COMPILED = [(re.compile(p), f) for p, f in _RULES]
_SPACES = re.compile(r"\s+")


def parse_time_query(question: str, now: datetime | None = None) -> TimeQuery:
    """Find the time expressions in `question`, resolve them against `now` and remove them.

    Args:
        question: the user's question.
        now: the reference time; naive means China time. Defaults to the current time.

    Returns:
        A TimeQuery: the remaining text, the inclusive China date range (None when the question
        names no span) and whether it asks for the newest news.
    """
    today = china_today(now)
    text = question
    spans: list[tuple[date, date]] = []
    matched: list[tuple[int, str]] = []
    recent = False
    for pattern, resolve in _COMPILED:
        def replace(m: re.Match) -> str:
            nonlocal recent
            if resolve is None:
                recent = True
            else:
                span = resolve(m, today)
                if span is None:
                    return m.group(0)
                spans.append(span)
            matched.append((m.start(), m.group(0)))
            return " " * len(m.group(0))  # same length: later matches keep their positions

        text = pattern.sub(replace, text)
    start = min((s for s, _ in spans), default=None)
    end = max((e for _, e in spans), default=None)
    if start is not None:
        recent = False  # a span says which days; "最近" inside it adds nothing
    text = _SPACES.sub(" ", text).strip()
    return TimeQuery(text, start, end, recent, tuple(w for _, w in sorted(matched)))
