"""`entireYear.longestStreak` (SEMANTICS A4) from the default daily streak (A3), as the
event engine derived it: the runs that ended (`StreakRun`, two days or more), the run
still going (the user's sequential state) and the runs of one day (days with events
outside every stored run, engine/streak.py says why those are not stored).

The longest run counting only its days within the year; ties go to the earliest.
`started` is the run's first day, which may be in the year before. The streaks work
replaces this highlight with one over configured streaks (weekly and monthly periods,
freezes, pauses)."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from datetime import date
from typing import Any

from events.engine.streak import NAME as STREAK_STATE
from events.models import EndUser, StreakRun, Tenant

from ..periods import Period, year_period
from .activity import active_days
from .days import ROLLUPS
from .registry import Highlight, Source, UserYear

FREQUENCY = "daily"


def load(tenant: Tenant, year: int, users: Sequence[EndUser]) -> dict[int, Any]:
    span = year_period(year)
    out: dict[int, list[tuple[date, date]]] = {}
    rows = StreakRun.objects.filter(
        tenant_id=tenant.pk,
        user_id__in=[user.pk for user in users],
        ended__gte=span.start,
        started__lte=span.end,
    ).values_list("user_id", "started", "ended")
    for user_id, started, ended in rows:
        out.setdefault(user_id, []).append((started, ended))
    return out


RUNS = Source("streak runs", load)


def longest_streak(ctx: UserYear, year: Period) -> dict[str, Any]:
    runs: list[tuple[date, date]] = list(ctx.loaded(RUNS) or [])
    going = (ctx.user.sequential_state or {}).get(STREAK_STATE)
    if going:
        runs.append((date.fromisoformat(going["start"]), date.fromisoformat(going["end"])))
    # (length within the year, first day within it, last day within it, first day)
    candidates = []
    for started, ended in runs:
        first, last = max(started, year.start), min(ended, year.end)
        if first <= last:
            candidates.append(((last - first).days + 1, first, last, started))
    # Days with events outside every run are runs of one day (runs do not overlap).
    spans = sorted((first, last) for _, first, last, _ in candidates)
    starts = [first for first, _ in spans]
    for day in active_days(ctx, year):
        index = bisect_right(starts, day) - 1
        if index < 0 or spans[index][1] < day:
            candidates.append((1, day, day, day))
    if not candidates:
        return {
            "length": 0,
            "frequency": FREQUENCY,
            "periodStart": None,
            "periodEnd": None,
            "started": None,
        }
    length, first, last, started = max(candidates, key=lambda c: (c[0], -c[1].toordinal()))
    return {
        "length": length,
        "frequency": FREQUENCY,
        "periodStart": first.isoformat(),
        "periodEnd": last.isoformat(),
        "started": started.isoformat(),
    }


LONGEST_STREAK = Highlight("longestStreak", "entireYear", longest_streak, sources=(RUNS, ROLLUPS))
