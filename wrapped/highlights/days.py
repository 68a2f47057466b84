"""The daily rollups as a recap reads them: one user's days with events, per metric,
up to the last day of the year's last week, with running totals.

Every statistic of a metric in a period is a difference of running totals: the change in
a period is the running total at its end minus the one before its start, and
`currentTotal` is the running total at its end (SEMANTICS A4). Rollups from before the
year count towards the running totals; none after the year's window is read.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from events.attribute_sums import AttributeSums
from events.models import DailyRollup, EndUser, Tenant

from ..periods import Period, window
from .registry import Source

ZERO = Decimal(0)


@dataclass
class MetricDays:
    """One metric's days with events, in date order: the day, its sums per attribute
    value, and the running total before it (`running[i]` is the sum of the days before
    `dates[i]`; `running[-1]` of them all)."""

    dates: list[date] = field(default_factory=list)
    sums: list[AttributeSums] = field(default_factory=list)
    running: list[Decimal] = field(default_factory=lambda: [ZERO])

    def add(self, day: date, total: Decimal, sums: AttributeSums) -> None:
        self.dates.append(day)
        self.sums.append(sums)
        self.running.append(self.running[-1] + total)

    def _span(self, period: Period) -> tuple[int, int]:
        return bisect_left(self.dates, period.start), bisect_right(self.dates, period.end)

    def any_by(self, day: date) -> bool:
        """Whether the user has an event of the metric on or before `day`."""
        return bool(self.dates) and self.dates[0] <= day

    def totals(self, period: Period) -> tuple[Decimal, Decimal]:
        """(the running total at the end of `period`, its change in `period`)."""
        first, last = self._span(period)
        return self.running[last], self.running[last] - self.running[first]

    def by_attribute(self, period: Period) -> dict[str, dict[str, tuple[Decimal, Decimal]]]:
        """For each attribute value found on the metric's events in `period`: (the running
        total of its events at the end of `period`, their change in `period`)."""
        first, last = self._span(period)
        found: dict[str, dict[str, list[Decimal]]] = {}
        for sums in self.sums[first:last]:
            for name, per_value in sums.items():
                values = found.setdefault(name, {})
                for item, (amount, _count) in per_value.items():
                    values.setdefault(item, [ZERO, ZERO])[1] += amount
        if not found:
            return {}
        for sums in self.sums[:last]:
            for name, per_value in sums.items():
                wanted = found.get(name)
                if wanted is None:
                    continue
                for item, (amount, _count) in per_value.items():
                    pair = wanted.get(item)
                    if pair is not None:
                        pair[0] += amount
        return {
            name: {item: (total, change) for item, (total, change) in values.items()}
            for name, values in found.items()
        }


@dataclass
class UserDays:
    """A user's rollups: per metric id, and the number of events of each day of the
    year's window (all metrics, archived ones included: they were events)."""

    metrics: dict[Any, MetricDays] = field(default_factory=lambda: defaultdict(MetricDays))
    events: dict[date, int] = field(default_factory=dict)


def load(tenant: Tenant, year: int, users: Sequence[EndUser]) -> dict[int, UserDays]:
    """One query for all `users`, served by the rollups' (user, local_date, metric)
    unique index."""
    span = window(year)
    out: dict[int, UserDays] = {}
    rows = (
        DailyRollup.objects.filter(
            tenant_id=tenant.pk, user_id__in=[user.pk for user in users], local_date__lte=span.end
        )
        .order_by("user_id", "local_date")
        .values_list("user_id", "metric_id", "local_date", "total", "event_count", "by_attribute")
    )
    # A chunk of users streams its rows (a server-side cursor on PostgreSQL); one user (a
    # recompute on GET) reads its few hundred at once, in one round trip, not three.
    for user_id, metric_id, day, total, count, sums in (
        rows.iterator(chunk_size=5000) if len(users) > 1 else rows
    ):
        days = out.get(user_id)
        if days is None:
            days = out[user_id] = UserDays()
        days.metrics[metric_id].add(day, total, sums)
        if day >= span.start:
            days.events[day] = days.events.get(day, 0) + count
    return out


ROLLUPS = Source("rollups", load)
