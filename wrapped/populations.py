"""Population statistics for percentiles (SEMANTICS A4), computed set-based in the
database and read back as at most 101 thresholds per population.

A user's `percentileThisPeriod` for a metric and a period (a week, a month, the year) is
`round-half-up(100 x k / (N - 1))`, where N is the number of the tenant's users with a
non-zero change of the metric in that period (by their own local dates) and k how many
of them have a strictly smaller change; of the events with one attribute value, the same
over those events. That is a rising step function of the change, with at most 101 steps:
storing for each percentile reached the smallest change that reaches it is enough to
answer for any member of the population, and costs the same for 10 users or 10 million.

One statement per tenant and year computes every population: the users' changes per
period from the daily rollups (`GROUP BY`, one pass over the year's rollups for all
events, one over their per-attribute sums), ranked with window functions (`RANK`,
`COUNT`), then reduced to the thresholds (`GROUP BY percentile`). It is SQL because the
work is in the rollups, which are in the database, and because it must not read them
into Python (20,000 users and 2,000,000 events: docs/benchmarks.md has the time). Only
the date arithmetic and the JSON expansion of the per-attribute sums differ between
PostgreSQL and SQLite (`_DIALECTS`).

Sums are rounded to the rollups' six decimal places in SQL: on SQLite the rollups are
floating point, and two equal changes summed in another order must rank as equal.
"""

from __future__ import annotations

import uuid
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from django.db import connection

from events.models import DailyRollup, Tenant
from events.numbers import to_decimal

from .periods import Period, window, year_period

_DIALECTS = {
    "postgresql": {
        "month": "date_trunc('month', r.local_date)::date",
        "week": "date_trunc('week', r.local_date)::date",
        "expand": (
            "CROSS JOIN LATERAL jsonb_each(r.by_attribute) AS a(key, sums) "
            "CROSS JOIN LATERAL jsonb_each(a.sums) AS v(key, pair)"
        ),
        "amount": "(v.pair->>0)::numeric",
        "date": "%s::date",
    },
    "sqlite": {
        "month": "date(r.local_date, 'start of month')",
        "week": (
            "date(r.local_date, '-' || ((CAST(strftime('%%w', r.local_date) AS INTEGER) + 6) %% 7)"
            " || ' days')"
        ),
        "expand": ", json_each(r.by_attribute) AS a, json_each(a.value) AS v",
        "amount": "json_extract(v.value, '$[0]')",
        "date": "%s",
    },
}

# One row per (user, metric, period, attribute, value) of one source of amounts: all of
# a day's events (`r.total`) or those with one attribute value. The periods come from a
# cross join with the three kinds, so the rollups are read once per source.
_CHANGES = """
    SELECT r.user_id, r.metric_id, k.kind,
           CASE k.kind WHEN 'year' THEN {year_start} WHEN 'month' THEN {month}
                ELSE {week} END AS start,
           {attribute} AS attribute, {value} AS value, {amount} AS amount
    FROM {rollups} r {expand}
    CROSS JOIN (SELECT 'year' AS kind UNION ALL SELECT 'month' UNION ALL SELECT 'week') k
    WHERE r.tenant_id = %s AND r.local_date BETWEEN {window_start} AND {window_end}
      AND (k.kind = 'week' OR r.local_date BETWEEN {year_start} AND {year_end})
"""

_POPULATIONS = """
WITH amounts AS ({all_events} UNION ALL {per_value}),
changes AS (
    SELECT metric_id, kind, start, attribute, value, ROUND(SUM(amount), 6) AS change
    FROM amounts GROUP BY user_id, metric_id, kind, start, attribute, value
),
ranked AS (
    SELECT metric_id, kind, start, attribute, value, change,
           RANK() OVER (PARTITION BY metric_id, kind, start, attribute, value
                        ORDER BY change) - 1 AS below,
           COUNT(*) OVER (PARTITION BY metric_id, kind, start, attribute, value) AS n
    FROM changes WHERE change <> 0
)
SELECT metric_id, kind, start, attribute, value, n,
       (200 * below + n - 1) / (2 * (n - 1)) AS percentile, MIN(change)
FROM ranked WHERE n > 1
GROUP BY metric_id, kind, start, attribute, value, n, percentile
ORDER BY metric_id, kind, start, attribute, value, percentile
"""


@dataclass(frozen=True)
class Computed:
    """One population as computed: its key, `n` and thresholds."""

    metric_id: Any
    kind: str
    start: date
    attribute: str
    value: str
    n: int
    thresholds: list[tuple[Decimal, int]]


def compute(tenant_id: Any, year: int) -> list[Computed]:
    """Every population of the tenant's `year` (its weeks whole, its months, the year)."""
    dialect = _DIALECTS[connection.vendor]
    span, weeks = year_period(year), window(year)
    dates = {
        "year_start": dialect["date"],
        "year_end": dialect["date"],
        "window_start": dialect["date"],
        "window_end": dialect["date"],
    }

    def source(attribute: str, value: str, amount: str, expand: str) -> tuple[str, list[Any]]:
        sql = _CHANGES.format(
            rollups=connection.ops.quote_name(DailyRollup._meta.db_table),
            month=dialect["month"],
            week=dialect["week"],
            attribute=attribute,
            value=value,
            amount=amount,
            expand=expand,
            **dates,
        )
        # Parameters in the order their placeholders appear in the text.
        day = connection.ops.adapt_datefield_value
        params = [
            day(span.start),
            Tenant._meta.pk.get_db_prep_value(tenant_id, connection),
            day(weeks.start),
            day(weeks.end),
            day(span.start),
            day(span.end),
        ]
        return sql, params

    all_sql, all_params = source("''", "''", "r.total", "")
    per_sql, per_params = source("a.key", "v.key", dialect["amount"], dialect["expand"])
    sql = _POPULATIONS.format(all_events=all_sql, per_value=per_sql)
    out: list[Computed] = []
    with connection.cursor() as cursor:
        cursor.execute(sql, [*all_params, *per_params])
        current: Computed | None = None
        for metric_id, kind, start, attribute, value, n, percentile, change in cursor:
            # SQLite answers text: dates as ISO strings, uuids as hex.
            start = start if isinstance(start, date) else date.fromisoformat(str(start)[:10])
            metric_id = metric_id if isinstance(metric_id, uuid.UUID) else uuid.UUID(metric_id)
            key = (metric_id, kind, start, attribute, value)
            if current is None or key != (
                current.metric_id,
                current.kind,
                current.start,
                current.attribute,
                current.value,
            ):
                current = Computed(*key, n=n, thresholds=[])
                out.append(current)
            current.thresholds.append((to_decimal(change), int(percentile)))
    return out


class Percentiles:
    """The populations of one tenant and year, or of some of its periods, for lookups.
    Rows are `(metric id, kind, start, attribute, value, n, thresholds)`."""

    def __init__(self, rows: Iterable[tuple[Any, ...]] = ()) -> None:
        self._table: dict[tuple[Any, ...], tuple[int, list[Decimal], list[int]]] = {}
        for metric_id, kind, start, attribute, value, n, thresholds in rows:
            changes = [Decimal(str(change)) for change, _ in thresholds]
            ranks = [int(percentile) for _, percentile in thresholds]
            self._table[(metric_id, kind, start, attribute, value)] = (n, changes, ranks)

    def percentile(
        self,
        metric_id: Any,
        period: Period,
        change: Decimal,
        *,
        minimum: int,
        attribute: str = "",
        value: str = "",
    ) -> int | None:
        """The percentile of a user with `change` in its population, or None when it has
        no place in one (no change) or the population is smaller than `minimum`."""
        if change == 0:
            return None
        found = self._table.get((metric_id, period.kind, period.start, attribute, value))
        if found is None:
            return None
        n, changes, ranks = found
        if n < minimum:
            return None
        # The highest percentile whose smallest change the user's reaches. A change
        # below every threshold is a user the statistics do not have yet (they are
        # refreshed periodically, not per event): the bottom.
        index = bisect_right(changes, change) - 1
        return ranks[index] if index >= 0 else 0
