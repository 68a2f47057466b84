"""`daysActive`, `weeksActive` and `monthsActive` (SEMANTICS A4): the days of the year
with at least one event of any metric, the ISO weeks and the months holding one."""

from __future__ import annotations

from datetime import date

from ..periods import Period, week_of
from .days import ROLLUPS, UserDays
from .registry import Highlight, UserYear


def active_days(ctx: UserYear, year: Period) -> list[date]:
    days: UserDays | None = ctx.loaded(ROLLUPS)
    if days is None:
        return []
    return sorted(day for day, count in days.events.items() if count and day in year)


def days_active(ctx: UserYear, year: Period) -> int:
    return len(active_days(ctx, year))


def weeks_active(ctx: UserYear, year: Period) -> int:
    return len({week_of(day).start for day in active_days(ctx, year)})


def months_active(ctx: UserYear, year: Period) -> int:
    return len({day.month for day in active_days(ctx, year)})


DAYS_ACTIVE = Highlight("daysActive", "activity", days_active, sources=(ROLLUPS,))
WEEKS_ACTIVE = Highlight("weeksActive", "activity", weeks_active, sources=(ROLLUPS,))
MONTHS_ACTIVE = Highlight("monthsActive", "activity", months_active, sources=(ROLLUPS,))
