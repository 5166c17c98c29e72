"""China time, defined once: the corpus's time zone, today's China date, and publication times read into it."""

from __future__ import annotations

import email.utils
from datetime import date, datetime, timedelta, timezone

# UTC+8, no daylight saving since 1991: a fixed offset needs no tz database.
CHINA_TZ = timezone(timedelta(hours=8), "Asia/Shanghai")


def china_today(now: datetime | None = None) -> date:
    """The China date of `now` (naive means China time); the current date when None."""
    if now is None:
        now = datetime.now(CHINA_TZ)
    elif now.tzinfo is None:
        now = now.replace(tzinfo=CHINA_TZ)
    return now.astimezone(CHINA_TZ).date()


def parse_published(raw: str | None) -> str | None:
    """An RFC 822 or ISO 8601 time (feeds, pages, seed files) as ISO 8601 in China time; None if unreadable.

    A time without a zone is China time.
    """
    if not raw:
        return None
    raw = raw.strip()[:100]
    dt = None
    try:
        dt = email.utils.parsedate_to_datetime(raw)  # naive when the time has no zone
    except (TypeError, ValueError, IndexError, OverflowError):
        try:
            dt = datetime.fromisoformat(raw.replace("Z", "+00:00").replace("/", "-"))
        except ValueError:
            return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=CHINA_TZ)
    try:
        return dt.astimezone(CHINA_TZ).isoformat()
    except OverflowError:  # year 1 or 9999 moved across a day boundary: an impossible time, left out
        return None


# The day of an undated passage in arrays of China-date ordinals (row days, Milvus's "day" field).
NO_DAY = -(2**31)


def china_datetime(iso: str) -> datetime:
    """An ISO timestamp as an aware datetime (naive means China time); ValueError if unreadable."""
    dt = datetime.fromisoformat(iso)
    return dt.replace(tzinfo=CHINA_TZ) if dt.tzinfo is None else dt


def china_day(iso: str) -> int:
    """The proleptic ordinal of the China date of an ISO timestamp (naive means China time)."""
    return china_datetime(iso).astimezone(CHINA_TZ).date().toordinal()


def epoch(iso: str) -> float:
    """Seconds since 1970 of an ISO timestamp (naive means China time); ValueError if unreadable."""
    return china_datetime(iso).timestamp()
