"""The default daily streak (SEMANTICS A3), derived from the daily rollups.

With no streak configuration a day is satisfied by at least one event of any metric.
The streak is the run of consecutive satisfied days ending today, or ending yesterday
(the user still has today to extend it). The streaks issue generalises this to
configured metrics, thresholds, weekly/monthly frequency, freezes and pauses.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import Sum

from ..models import DailyRollup, EndUser, Tenant
from ..prepared import PreparedQuery, Read

PAGE = 120  # active days read per query; a longer streak reads further pages

# (local date, events that day) of a user's active days before a date, newest first;
# compiled once (events/prepared.py).
ACTIVE_DAYS = PreparedQuery(
    lambda tenant_id, user_id, before: (
        DailyRollup.objects.filter(tenant_id=tenant_id, user_id=user_id, local_date__lt=before)
        .values("local_date")
        .annotate(n=Sum("event_count"))
        .order_by("-local_date")
        .values_list("local_date", "n")[:PAGE]
    ),
    samples=[uuid.UUID(int=0), 1, date(2000, 1, 1)],
    fields=[
        DailyRollup._meta.get_field("tenant"),
        DailyRollup._meta.get_field("user"),
        DailyRollup._meta.get_field("local_date"),
    ],
)


@dataclass(frozen=True)
class StreakState:
    length: int
    started: date | None
    period_start: date
    period_end: date
    expires: date | None
    extended: bool = False

    def as_json(self, *, with_extended: bool = True) -> dict[str, Any]:
        body: dict[str, Any] = {
            "length": self.length,
            "frequency": "daily",
            "started": self.started.isoformat() if self.started else None,
            "periodStart": self.period_start.isoformat(),
            "periodEnd": self.period_end.isoformat(),
            "expires": self.expires.isoformat() if self.expires else None,
        }
        if with_extended:
            body["extended"] = self.extended
        return body


def user_today(user: EndUser, tenant: Tenant, now: datetime) -> date:
    return now.astimezone(ZoneInfo(user.tz or tenant.default_timezone)).date()


def _run_ending_at(
    days: list[tuple[date, int]], anchor: date, skip: date | None
) -> tuple[int, date | None]:
    """Length and first day of the run of consecutive days ending at `anchor`."""
    length, started, expected = 0, None, anchor
    for day, _count in days:
        if day == skip:
            continue
        if day > expected:
            continue
        if day != expected:
            break
        length += 1
        started = day
        expected = day - timedelta(days=1)
    return length, started


def _state(
    days: list[tuple[date, int]], today: date, skip: date | None
) -> tuple[int, date | None, date | None]:
    """(length, started, expires) with `skip` treated as inactive."""
    active = {d for d, _ in days if d != skip}
    if today in active:
        length, started = _run_ending_at(days, today, skip)
        return length, started, today + timedelta(days=1)
    yesterday = today - timedelta(days=1)
    if yesterday in active:
        length, started = _run_ending_at(days, yesterday, skip)
        return length, started, today
    return 0, None, None


def first_page_read(*, tenant: Tenant, user: EndUser, now: datetime) -> Read:
    """The first read `current_streak` makes, for the event path to run inside its write
    statement (derived.insert_and_apply) and pass back as `first_page_before_event`."""
    return ACTIVE_DAYS.read(tenant.pk, user.pk, user_today(user, tenant, now) + timedelta(days=1))


def _with_event(
    page: list[tuple[date, int]], event_day: date, before: date
) -> list[tuple[date, int]]:
    """A first page read before the event was recorded, with the event counted: where the
    page covers its day (a full page ends at its oldest day; older days are read by the
    next page, after the event was written)."""
    if event_day >= before or (len(page) >= PAGE and event_day < page[-1][0]):
        return page
    counts = dict(page)
    counts[event_day] = counts.get(event_day, 0) + 1
    return sorted(counts.items(), reverse=True)


def current_streak(
    *,
    tenant: Tenant,
    user: EndUser,
    now: datetime,
    event_day: date | None = None,
    new_user: bool = False,
    first_page_before_event: list[tuple[Any, ...]] | None = None,
) -> StreakState:
    """The user's streak as of `now`. `event_day` is the local date of an event just
    recorded: if it was that day's only event, the streak without that day tells whether
    the event extended it (`extended`). `new_user` says the user was created with that
    event, in this transaction: its only active day is `event_day`, so nothing is read.
    `first_page_before_event` is the raw result of `first_page_read`, run with the
    event's write (before it), which saves that read."""
    today = user_today(user, tenant, now)
    if not user.streak_enabled:
        return StreakState(0, None, today, today, None)
    days: list[tuple[date, int]] = []
    before = today + timedelta(days=1)
    if new_user and event_day is not None:
        # No other transaction can have added events for a user that is not committed yet.
        days = [(event_day, 1)] if event_day < before else []
    prefetched = first_page_before_event
    while not new_user:
        page: list[tuple[date, int]]
        if prefetched is not None:
            page = sorted(ACTIVE_DAYS.convert(prefetched), reverse=True)
            full = len(page) >= PAGE
            if event_day is not None:
                page = _with_event(page, event_day, before)
            prefetched = None
        else:
            page = ACTIVE_DAYS.rows(tenant.pk, user.pk, before)
            full = len(page) >= PAGE
        days.extend(page)
        length, _started, _expires = _state(days, today, None)
        # Another page is only needed when the run reaches the oldest day read so far.
        if not full or length < len(days):
            break
        before = page[-1][0]
    length, started, expires = _state(days, today, None)
    extended = False
    if event_day is not None and length > 0 and dict(days).get(event_day) == 1:
        extended = _state(days, today, event_day)[0] < length
    return StreakState(length, started, today, today, expires, extended)
