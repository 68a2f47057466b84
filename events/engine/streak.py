"""The default daily streak (SEMANTICS A3) as a sequential derivation.

With no streak configuration a day (the user's `local_date`) is satisfied by at least
one event of any metric, and the streak is the run of consecutive satisfied days. Events
are seen in time order (SEMANTICS Part B §3.3: the first event of a period extends the
streak, and a period once evaluated stays as it was), so the state is the run still
going, `{"start": first day, "end": last day}` (ISO dates); an event on a day after the
run's last day either extends it (the next day) or, after a gap, ends it, which appends
the ended run to `StreakRun` when it lasted two days or more. A run of one day is not
written: every satisfied day outside a stored run is one (the daily rollups tell which
days had events), and in a year of sparse activity runs of one day are most runs (three
in four of a backfill's benchmark users': writing them doubled the cost of recomputing
its users' streaks, docs/benchmarks.md). An event dated on or before the run's last day
(a second event that day, or a time zone change westwards) changes nothing.

How long the streak is depends on "today" in the user's time zone when it is read
(`view`): the run counts while its last day is today or yesterday (the user still has
today to extend it). The streaks work generalises this to configured metrics,
thresholds, weekly and monthly periods, freezes and pauses, as other sequential
derivations.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from ..models import StreakRun, TenantConfig
from .derivations import Effect, EventFacts, Sequential, State

NAME = "streak"
ONE_DAY = timedelta(days=1)


def initial() -> State:
    return {}


def step(state: State, event: EventFacts, config: TenantConfig) -> tuple[State, list[Effect]]:
    day = event.local_date
    if not state:
        text = day.isoformat()
        return {"start": text, "end": text}, []
    end = date.fromisoformat(state["end"])
    if day <= end:
        return state, []
    text = day.isoformat()
    if day - end == ONE_DAY:
        return {"start": state["start"], "end": text}, []
    start = date.fromisoformat(state["start"])
    length = (end - start).days + 1
    return {"start": text, "end": text}, [(start, end, length)] if length > 1 else []


STREAK = Sequential(
    name=NAME,
    initial=initial,
    step=step,
    effect_model=StreakRun,
    effect_fields=("started", "ended", "length"),
    reads=("local_date",),
)


@dataclass(frozen=True)
class StreakView:
    """The streak as a reader sees it on `today` (Trophy's `BaseStreakResponse`, and
    `extended` for the event response)."""

    length: int
    started: date | None
    period_start: date
    period_end: date
    expires: date | None
    extended: bool = False


def view(state: dict[str, Any], today: date, *, enabled: bool = True) -> StreakView:
    """The streak on `today` from the user's sequential state (its `streak` entry).
    Days of the run after `today` (an event a few minutes in the future, past
    midnight) are not counted yet."""
    run = state.get(NAME) if enabled else None
    if run:
        start, end = date.fromisoformat(run["start"]), date.fromisoformat(run["end"])
        if start <= today and end >= today - ONE_DAY:
            last = min(end, today)
            return StreakView(
                length=(last - start).days + 1,
                started=start,
                period_start=today,
                period_end=today,
                # Extended today: safe until the end of tomorrow; else the end of today.
                expires=today + ONE_DAY if last == today else today,
            )
    return StreakView(0, None, today, today, None)


def extended(before: StreakView, after: StreakView) -> StreakView:
    """`after`, flagged `extended` when an event made the streak longer (the first event
    of a day that continues or starts the run, or a late one that bridged a gap)."""
    return StreakView(
        after.length,
        after.started,
        after.period_start,
        after.period_end,
        after.expires,
        extended=after.length > before.length,
    )
