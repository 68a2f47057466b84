"""The pipeline of a recap: choose the most active day, week and month, then fill every
block with the registered highlights (wrapped.highlights). Pure: it reads what the
sources loaded into the user's `UserYear` and the population statistics it is given."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from events.models import EndUser, Tenant

from .highlights import HIGHLIGHTS, ROLLUPS, Highlights, UserDays, UserYear, WrappedOptions
from .periods import Period, week_of, year_calendar, year_period
from .populations import Percentiles


def daily_measure(ctx: UserYear) -> dict[date, int | Decimal]:
    """What "most active" compares, per day of the year's window (SEMANTICS A4): the
    number of events, or the change of the tenant's chosen metric. Days without are 0."""
    loaded: UserDays | None = ctx.loaded(ROLLUPS)
    if loaded is None:
        return {}
    metric_id = ctx.options.activity_metric_id
    if metric_id is None:
        return dict(loaded.events)
    series = loaded.metrics.get(metric_id)
    if series is None:
        return {}
    return {
        day: series.running[index + 1] - series.running[index]
        for index, day in enumerate(series.dates)
    }


def _greatest(periods: Sequence[Period], measure: dict[date, Any]) -> Period:
    """The period with the greatest measure over its days; ties go to the earliest.
    Periods are the year's days, weeks or months, in order."""
    kind = periods[0].kind
    start_of = {"day": lambda day: day, "week": lambda day: week_of(day).start}.get(
        kind, lambda day: day.replace(day=1)
    )
    sums: dict[date, Any] = {}
    for day, amount in measure.items():
        start = start_of(day)
        sums[start] = sums.get(start, 0) + amount
    best, best_value = periods[0], sums.get(periods[0].start, 0)
    for period in periods:
        value = sums.get(period.start, 0)
        if value > best_value:
            best, best_value = period, value
    return best


def active_in_year(ctx: UserYear) -> bool:
    """Whether the user has an event dated in the year (an active day)."""
    loaded: UserDays | None = ctx.loaded(ROLLUPS)
    return loaded is not None and any(day.year == ctx.year for day in loaded.events)


def most_active(ctx: UserYear) -> tuple[Period, Period, Period]:
    """(the most active day of the year, ISO week holding a day of it, month of it).
    Without activity in the year: 1 January, the ISO week holding it, January."""
    measure = daily_measure(ctx)
    calendar = year_calendar(ctx.year)
    if not active_in_year(ctx):
        return calendar.days[0], calendar.weeks[0], calendar.months[0]
    in_year = {day: amount for day, amount in measure.items() if day.year == ctx.year}
    return (
        _greatest(calendar.days, in_year),
        _greatest(calendar.weeks, measure),
        _greatest(calendar.months, in_year),
    )


def summarize(
    ctx: UserYear,
    percentiles_for: Callable[[list[Period]], Percentiles],
    highlights: Highlights = HIGHLIGHTS,
) -> dict[str, Any]:
    """The `activity` of the user's recap. `percentiles_for(periods)` gives the
    population statistics of the periods shown (all of the year's, when precomputing)."""
    year = year_period(ctx.year)
    day, week, month = most_active(ctx)
    ctx.percentiles = percentiles_for([week, month, year])

    active = active_in_year(ctx)

    def block(period: Period, head: dict[str, Any], *, shown: bool = True) -> dict[str, Any]:
        for highlight in highlights.of("period"):
            head[highlight.key] = highlight.compute(ctx, period) if shown else highlight.empty()
        return head

    activity = {h.key: h.compute(ctx, year) for h in highlights.of("activity")}
    # Without activity in the year, the most active periods are placeholders, empty.
    activity["mostActiveDay"] = block(day, {"date": day.start.isoformat()}, shown=active)
    activity["mostActiveWeek"] = block(
        week, {"start": week.start.isoformat(), "end": week.end.isoformat()}, shown=active
    )
    activity["mostActiveMonth"] = block(
        month,
        {"month": month.start.month - 1},
        shown=active,  # 0-based
    )
    entire = block(year, {})
    for highlight in highlights.of("entireYear"):
        entire[highlight.key] = highlight.compute(ctx, year)
    activity["entireYear"] = entire
    return activity


def user_years(
    *,
    tenant: Tenant,
    year: int,
    users: Sequence[EndUser],
    options: WrappedOptions,
    metrics: dict[Any, Any],
    highlights: Highlights = HIGHLIGHTS,
) -> list[UserYear]:
    """`users`' years with what every source the highlights read loaded for them (one
    query per source, whatever the number of users)."""
    sources = [ROLLUPS, *(s for s in highlights.sources() if s.name != ROLLUPS.name)]
    loaded = {source.name: source.load(tenant, year, users) for source in sources}
    return [
        UserYear(
            tenant=tenant,
            user=user,
            year=year,
            options=options,
            metrics=metrics,
            data={name: per_user.get(user.pk) for name, per_user in loaded.items()},
        )
        for user in users
    ]
