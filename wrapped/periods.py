"""The calendar of a Wrapped year (SEMANTICS A1, A4): days of the year, the ISO weeks
(Monday to Sunday) that contain at least one day of it, whole, and its months."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache

ONE_DAY = timedelta(days=1)


@dataclass(frozen=True, order=True)
class Period:
    """An inclusive range of local dates; `kind` is day, week, month or year."""

    start: date
    end: date
    kind: str

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.start <= day <= self.end

    @property
    def key(self) -> str:
        """How population statistics name the period: `year`, `month-3` (1-based, as
        calendars are; the response's `month` is 0-based), `week-2026-03-09` (its
        Monday)."""
        if self.kind == "year":
            return "year"
        if self.kind == "month":
            return f"month-{self.start.month}"
        return f"{self.kind}-{self.start.isoformat()}"


def week_of(day: date) -> Period:
    monday = day - timedelta(days=day.weekday())
    return Period(monday, monday + timedelta(days=6), "week")


def month_of(day: date) -> Period:
    first = day.replace(day=1)
    following = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
    return Period(first, following - ONE_DAY, "month")


def year_period(year: int) -> Period:
    return Period(date(year, 1, 1), date(year, 12, 31), "year")


def days(year: int) -> Iterator[date]:
    day = date(year, 1, 1)
    while day.year == year:
        yield day
        day += ONE_DAY


def months(year: int) -> list[Period]:
    return [month_of(date(year, month, 1)) for month in range(1, 13)]


def weeks(year: int) -> list[Period]:
    """Every ISO week holding a day of `year`, whole: the first may start in December of
    the year before, the last end in January of the year after."""
    out = []
    week = week_of(date(year, 1, 1))
    while week.start.year <= year:
        out.append(week)
        week = week_of(week.end + ONE_DAY)
    return out


def window(year: int) -> Period:
    """The dates a Wrapped of `year` reads: its weeks, whole."""
    first, last = weeks(year)[0], weeks(year)[-1]
    return Period(first.start, last.end, "window")


@dataclass(frozen=True)
class Calendar:
    """A year's days, weeks (whole) and months, in order."""

    days: tuple[Period, ...]
    weeks: tuple[Period, ...]
    months: tuple[Period, ...]


@lru_cache(maxsize=16)
def year_calendar(year: int) -> Calendar:
    return Calendar(
        days=tuple(Period(day, day, "day") for day in days(year)),
        weeks=tuple(weeks(year)),
        months=tuple(months(year)),
    )


def latest_year(now: datetime) -> int:
    """The latest year that has begun somewhere (UTC+14 is the furthest ahead): the
    latest a recap can be of, for some user."""
    return (now.astimezone(UTC) + timedelta(hours=14)).year
