"""Dates and relative times in a question: "昨天的天气预报" -> (the day before `now`, "的天气预报").

Pure: no index, no clock. The caller gives the reference time (`now`, China time when naive) and
gets back the question without its time words, the inclusive date range they name (China dates)
and whether the question asks for the newest news (最新, 最近, 近期 without a span).

Two kinds of span, because they mean different things:

- a **window** (今天, 昨天, 前天, 本周, 上周, 最近三天…) is about publication time: "what was
  reported yesterday". The search keeps to it, and says so when it is empty.
- an **event date** (2019年, 2月9日, 2020年2月, 去年, 上个月…) is usually when the thing happened;
  the article that answers it is often published later (annual figures in January, previews years
  ahead). It is evidence for passages published then or after, or mentioning it, never a filter.

Understood, with `now` = 2020-02-10 (a Monday) as the example::

    今天 今日                      2020-02-10
    昨天 昨日 / 前天 / 大前天        02-09 / 02-08 / 02-07 (大大前天: 02-06)
    本周 这周 / 上周 上星期          02-10 … 02-10 / 02-03 … 02-09 (weeks start on Monday; 上上周: 01-27 … 02-02)
    本月 这个月 / 上个月 上月        02-01 … 02-10 / 01-01 … 01-31 (上上个月: 2019-12)
    今年 / 去年 / 前年               2020-01-01 … 02-10 / 2019 / 2018
    最近3天 近一周 过去两个月         the last N days (a week 7, a month 30), today included
    最近一百天                       the last 100 days (at most 3660)
    2月9日 二月九号                  that day of the current year (of the last year, if still to come)
    2020年2月9日 2020-02-09          that day (二〇二〇年二月九日 and full-width digits too)
    2020年2月 / 2月份 / 2020年       that month / that month of this year / that year
    最新 最近 近期 近来              no range; prefer the newest passages

Several expressions in one question give the span that covers them all ("昨天和今天").
A date-shaped phrase that names no real day ("2020年13月", "2月30日", "最近五千天") is no date, but it
is still taken out of the search text: left in, its digits would only miss every passage.
"""

from __future__ import annotations

import calendar
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from index.chinatime import china_today


_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_NUM = r"(?:\d{1,2}|[一二两三四五六七八九十]{1,3})"
# A year in Arabic digits or written digit by digit ("二〇二〇").
_YEAR = r"(?:\d{4}|[一二][〇零一二三四五六七八九]{3})"
# A count of days, weeks or months: wider than any accepted span, so that "一百天" or "5000天" is one
# phrase (read or refused whole) instead of a recency word followed by stray digits.
_COUNT = r"(?:\d{1,5}|[〇零一二两三四五六七八九十百千]{1,6})"
_UNITS = {"十": 10, "百": 100, "千": 1000}


def _number(text: str) -> int | None:
    """'9' -> 9, '十二' -> 12, '二十九' -> 29; an approximate pair '两三' -> 3; None when unreadable ('十十')."""
    if text.isdigit():
        return int(text)
    if len(text) == 2 and "十" not in text and all(c in _CN_DIGITS for c in text):
        a, b = _CN_DIGITS[text[0]], _CN_DIGITS[text[1]]
        return b if b == a + 1 else None  # 两三天, 三四个月: "up to" the larger; 一二 as a month is no number
    return _chinese_int(text)


def _chinese_int(text: str) -> int | None:
    """'十二' -> 12, '一百零五' -> 105, '两千' -> 2000, '百' -> 100; None when not a well-formed number ('十十', '一二')."""
    total, digit, last_unit = 0, None, 10_000
    for ch in text:
        if ch in _UNITS:
            unit = _UNITS[ch]
            if unit >= last_unit:
                return None
            if digit is None:
                if total:  # only the first unit may stand without its digit (十二, 百天)
                    return None
                digit = 1
            total, digit, last_unit = total + digit * unit, None, unit
        elif ch in ("零", "〇"):
            if digit is not None:
                return None
        elif ch in _CN_DIGITS and digit is None:
            digit = _CN_DIGITS[ch]
        else:
            return None
    return total + (digit or 0)


def _year(text: str) -> int | None:
    """A four-digit year, Arabic or Chinese digit by digit ("二〇二〇"), this parser accepts (1900-2100), else None."""
    if not text.isdigit():
        if any(ch not in _CN_DIGITS or ch == "两" for ch in text):
            return None
        text = "".join(str(_CN_DIGITS[ch]) for ch in text)
    year = int(text)
    return year if 1900 <= year <= 2100 else None


@dataclass(frozen=True)
class TimeQuery:
    """What a question says about time."""

    text: str  # the question without its time words (NFKC: full-width digits read as digits)
    start: date | None = None  # inclusive, China date: the span covering every expression
    end: date | None = None  # inclusive, China date
    recent: bool = False  # 最新 / 最近 without a span: prefer the newest
    matched: tuple[str, ...] = field(default=())  # the time expressions found, in order
    window: tuple[date, date] | None = None  # publication-time span (今天, 上周…): a filter
    event: tuple[date, date] | None = None  # event-date span (2019年, 2月9日…): evidence only
    ignored: tuple[str, ...] = field(default=())  # date-shaped phrases naming no real day, removed from `text`

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
    year, month, day = _year(m["y"]), _number(m["m"]), _number(m["d"])
    d = _safe_date(year, month, day) if None not in (year, month, day) else None
    return (d, d) if d else None


def _year_month(m, today):
    year, month = _year(m["y"]), _number(m["m"])
    return _month_range(year, month) if year and month and 1 <= month <= 12 else None


def _month_day(m, today):
    month, day = _number(m["m"]), _number(m["d"])
    if month is None or day is None:
        return None
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
    if month is None or not 1 <= month <= 12:
        return None
    year = today.year if month <= today.month else today.year - 1
    return _month_range(year, month)


def _year_only(m, today):
    year = _year(m["y"])
    return (date(year, 1, 1), date(year, 12, 31)) if year else None


def _last_days(m, today):
    n = _number(m["n"])
    if n is None:
        return None
    unit = m["u"]
    days = n * (30 if "月" in unit else 7 if unit in ("周", "星期", "个星期", "礼拜", "个礼拜") else 1)
    if not 1 <= days <= 3660:
        return None
    return (today - timedelta(days=days - 1), today)


def _days_ago(n: int):
    return lambda m, today: (today - timedelta(days=n),) * 2


def _days_before(m, today):
    """前天 two days back, and one more for each 大 (大前天, 大大前天)."""
    return (today - timedelta(days=2 + len(m["n"])),) * 2


def _this_week(m, today):
    return (today - timedelta(days=today.weekday()), today)


def _last_week(m, today):
    """The Monday-to-Sunday week one back for each 上 (上周, 上上周)."""
    monday = today - timedelta(days=today.weekday() + 7 * len(m["n"]))
    return (monday, monday + timedelta(days=6))


def _this_month(m, today):
    return (today.replace(day=1), today)


def _last_month(m, today):
    """The calendar month one back for each 上 (上个月, 上上个月)."""
    months = today.year * 12 + today.month - 1 - len(m["n"])
    return _month_range(months // 12, months % 12 + 1)


def _this_year(m, today):
    return (date(today.year, 1, 1), today)


def _years_ago(n: int):
    return lambda m, today: (date(today.year - n, 1, 1), date(today.year - n, 12, 31)) if today.year - n >= 1 else None


_EVENT, _WINDOW = "event", "window"
# (pattern, resolver(match, today) -> (start, end) | None, kind). Tried in order; a span matched by
# one is removed before the next, so the longer forms come first. A resolver of None marks a
# recency word (a preference, not a span). A rule in _DATE_SHAPED whose resolver finds no real date
# still takes its phrase out of the text (see the module's docstring); the others leave it there.
_RULES = [
    (rf"(?P<y>{_YEAR})\s*年\s*(?P<m>{_NUM})\s*月\s*(?P<d>{_NUM})\s*[日号]", _full_date, _EVENT),
    (r"(?<!\d)(?P<y>\d{4})[-/.](?P<m>\d{1,2})[-/.](?P<d>\d{1,2})(?!\d)", _full_date, _EVENT),
    (rf"(?P<y>{_YEAR})\s*年\s*(?P<m>{_NUM})\s*月份?", _year_month, _EVENT),
    (rf"(?<![\d年])(?P<m>{_NUM})\s*月\s*(?P<d>{_NUM})\s*[日号]", _month_day, _EVENT),
    (rf"(?:最近|近|过去|前)(?P<n>{_COUNT})"
     r"(?P<u>天|日(?!元)|个星期|星期|周|个礼拜|礼拜|个月|月)(?:以来|之内|内|来|里)?", _last_days, _WINDOW),
    (r"(?P<n>大{1,3})前天", _days_before, _WINDOW),
    (r"今天|今日|今儿", _days_ago(0), _WINDOW),
    (r"昨天|昨日|昨儿", _days_ago(1), _WINDOW),
    (r"(?<![日之此以目提眼面先从])前天(?!津)", _days_ago(2), _WINDOW),
    (r"本周|这周|这一周|这个星期|本星期|这星期|这礼拜", _this_week, _WINDOW),
    # 马上周末 is "soon the weekend", not last week.
    (r"(?<!马)(?P<n>上{1,3})(?:个星期|星期|个礼拜|礼拜|一周|周)", _last_week, _WINDOW),
    (r"本月|这个月|这月|当月", _this_month, _EVENT),
    (r"(?P<n>上{1,3})(?:一?个月|月)", _last_month, _EVENT),
    (r"今年以来|今年|本年度", _this_year, _EVENT),
    (r"去年|上一年", _years_ago(1), _EVENT),
    (r"(?<![千百十\d])前年", _years_ago(2), _EVENT),
    (r"(?<![\d年个])(?P<m>[1-9]|1[0-2]|[一二三四五六七八九十]|十[一二])\s*月份?(?![\d日号底初中])", _month_only, _EVENT),
    (r"(?<!\d)(?P<y>(?:19|20)\d{2}|[一二][〇零一二三四五六七八九]{3})\s*年(?![\d代前后])", _year_only, _EVENT),
    (r"最新|最近|近期|近来|新近|近日|日前", None, _WINDOW),
]
_DATE_SHAPED = {_full_date, _year_month, _month_day, _last_days, _year_only}
_COMPILED = [(re.compile(p), f, kind) for p, f, kind in _RULES]
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
    text = unicodedata.normalize("NFKC", question)  # "２０１９年" is "2019年"
    spans: dict[str, list[tuple[date, date]]] = {_WINDOW: [], _EVENT: []}
    matched: list[tuple[int, str]] = []
    ignored: list[tuple[int, str]] = []
    recent = False
    for pattern, resolve, kind in _COMPILED:
        def replace(m: re.Match) -> str:
            nonlocal recent
            if resolve is None:
                recent = True
            else:
                span = resolve(m, today)
                if span is None:
                    if resolve not in _DATE_SHAPED:
                        return m.group(0)
                    ignored.append((m.start(), m.group(0)))
                    return " " * len(m.group(0))
                spans[kind].append(span)
            matched.append((m.start(), m.group(0)))
            return " " * len(m.group(0))  # same length: later matches keep their positions

        text = pattern.sub(replace, text)
    everything = spans[_WINDOW] + spans[_EVENT]
    start = min((s for s, _ in everything), default=None)
    end = max((e for _, e in everything), default=None)
    if start is not None:
        recent = False  # a span says which days; "最近" inside it adds nothing
    text = _SPACES.sub(" ", text).strip()
    return TimeQuery(text, start, end, recent, tuple(w for _, w in sorted(matched)),
                     window=_cover(spans[_WINDOW]), event=_cover(spans[_EVENT]),
                     ignored=tuple(w for _, w in sorted(ignored)))


def _cover(spans: list[tuple[date, date]]) -> tuple[date, date] | None:
    """The smallest span covering all of these, or None."""
    if not spans:
        return None
    return (min(s for s, _ in spans), max(e for _, e in spans))


def date_mentions(tq: TimeQuery) -> tuple[str, ...]:
    """How a passage would write the question's event dates ("2019年", "2月9日"), to find the ones that mention them."""
    out: list[str] = []
    for phrase in tq.matched:
        m = re.fullmatch(rf"(?:(?P<y>{_YEAR})\s*年)?\s*(?:(?P<m>{_NUM})\s*月份?)?\s*(?:(?P<d>{_NUM})\s*[日号])?", phrase)
        if not m or not (m["y"] or m["m"]):
            continue
        y = _year(m["y"]) if m["y"] else None
        mo = _number(m["m"]) if m["m"] else None
        d = _number(m["d"]) if m["d"] else None
        if mo is not None and d is not None:
            out += [f"{mo}月{d}日", f"{mo}月{d}号"]
        elif y is not None and mo is not None:
            out.append(f"{y}年{mo}月")
        elif mo is not None:
            out.append(f"{mo}月")
        elif y is not None:
            out.append(f"{y}年")
    return tuple(dict.fromkeys(out))
