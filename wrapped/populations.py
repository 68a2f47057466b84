"""Population statistics for percentiles (SEMANTICS A4), computed set-based in the
database and read back as at most 101 thresholds per population.

A user's `percentileThisPeriod` for a metric and a period (a week, a month, the year) is
`round-half-up(100 x k / (N - 1))`, where N is the number of the tenant's users with a
non-zero change of the metric in that period (by their own local dates) and k how many
of them have a strictly smaller change; of the events with one attribute value, the same
over those events. That is a rising step function of the change, with at most 101 steps:
storing for each percentile reached the smallest change that reaches it is enough to
answer for any member of the population, and costs the same for 10 users or 10 million.

One statement per metric and period (each of the year's weeks, whole, and months, and
the year) computes its populations, all events' and each attribute value's: the users'
changes from the daily rollups of the period (`GROUP BY user`; the rollups' (metric,
local_date) index finds them), the users per distinct change, the users below each with
a running `SUM` window, then the thresholds (`GROUP BY percentile`). It is SQL because
the work is in the rollups, which are in the database, and must not be read into
Python. Statements per period, not one for the whole year: each groups a period's users
in memory, where one statement grouping every (user, period, attribute value) at once
spilled to disk and took minutes for 2,000,000 events (docs/benchmarks.md has the
current time). On PostgreSQL `workers` threads, each with its own connection, share the
statements. Only the JSON expansion of the per-attribute sums differs between
PostgreSQL and SQLite (`_DIALECTS`).

Sums are rounded to the rollups' six decimal places in SQL: on SQLite the rollups are
floating point, and two equal changes summed in another order must rank as equal.
"""

from __future__ import annotations

import threading
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import connection, transaction

from events.models import DailyRollup, Metric, Tenant
from events.numbers import to_decimal

from .periods import Period, months, weeks, year_period

WORK_MEM = "64MB"

_DIALECTS = {
    "postgresql": {
        "expand": (
            "CROSS JOIN LATERAL jsonb_each(r.by_attribute) AS a(key, sums) "
            "CROSS JOIN LATERAL jsonb_each(a.sums) AS v(key, pair)"
        ),
        "amount": "(v.pair->>0)::numeric",
    },
    "sqlite": {
        "expand": ", json_each(r.by_attribute) AS a, json_each(a.value) AS v",
        "amount": "json_extract(v.value, '$[0]')",
    },
}

# The populations of one metric and period: of all events (attribute '') and of each
# attribute value, with their thresholds, by rising percentile.
_POPULATIONS = """
WITH amounts AS (
    SELECT r.user_id, '' AS attribute, '' AS value, r.total AS amount
    FROM {rollups} r
    WHERE r.tenant_id = %s AND r.metric_id = %s AND r.local_date BETWEEN %s AND %s
    UNION ALL
    SELECT r.user_id, a.key, v.key, {amount}
    FROM {rollups} r {expand}
    WHERE r.tenant_id = %s AND r.metric_id = %s AND r.local_date BETWEEN %s AND %s
),
changes AS (
    SELECT attribute, value, ROUND(SUM(amount), 6) AS change
    FROM amounts GROUP BY user_id, attribute, value
),
counted AS (
    SELECT attribute, value, change, COUNT(*) AS users
    FROM changes WHERE change <> 0 GROUP BY attribute, value, change
),
ranked AS (
    SELECT attribute, value, change,
           CAST(SUM(users) OVER (PARTITION BY attribute, value ORDER BY change
                                 ROWS UNBOUNDED PRECEDING) - users AS BIGINT) AS below,
           CAST(SUM(users) OVER (PARTITION BY attribute, value) AS BIGINT) AS n
    FROM counted
)
SELECT attribute, value, n, (200 * below + n - 1) / (2 * (n - 1)) AS percentile, MIN(change)
FROM ranked WHERE n > 1
GROUP BY attribute, value, n, percentile
ORDER BY attribute, value, percentile
"""


@dataclass(frozen=True)
class Computed:
    """One population as computed: its key, `n` and thresholds."""

    metric_id: Any
    kind: str
    start: Any
    attribute: str
    value: str
    n: int
    thresholds: list[tuple[Decimal, int]]


def periods_of(year: int) -> list[Period]:
    """The periods a recap of `year` shows percentiles for: its weeks (whole), its
    months, the year."""
    return [*weeks(year), *months(year), year_period(year)]


def compute_period(tenant_id: Any, metric_id: Any, period: Period) -> list[Computed]:
    """The populations of one metric in one period: one statement."""
    dialect = _DIALECTS[connection.vendor]
    sql = _POPULATIONS.format(
        rollups=connection.ops.quote_name(DailyRollup._meta.db_table),
        amount=dialect["amount"],
        expand=dialect["expand"],
    )
    day = connection.ops.adapt_datefield_value
    tenant_key = Tenant._meta.pk
    metric_key = Metric._meta.pk
    assert tenant_key is not None and metric_key is not None
    scope = [
        tenant_key.get_db_prep_value(tenant_id, connection),
        metric_key.get_db_prep_value(metric_id, connection),
        day(period.start),
        day(period.end),
    ]
    out: list[Computed] = []
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Group a period's users in memory, not in temporary files (4 MB by default).
            cursor.execute(f"SET LOCAL work_mem = '{WORK_MEM}'")
            # No JIT compilation: the planner expects 100 keys per jsonb_each, so every
            # statement looked costly enough to compile, which took 0.3-0.7 s each (longer
            # than running it) and 60 of the 78 s of a precompute (2,000,000 events).
            cursor.execute("SET LOCAL jit = off")
            # Nor parallel workers: the statements already run `workers` at a time.
            cursor.execute("SET LOCAL max_parallel_workers_per_gather = 0")
        cursor.execute(sql, [*scope, *scope])
        current: Computed | None = None
        for attribute, value, n, percentile, change in cursor:
            if current is None or (attribute, value) != (current.attribute, current.value):
                current = Computed(metric_id, period.kind, period.start, attribute, value, n, [])
                out.append(current)
            current.thresholds.append((to_decimal(change), int(percentile)))
    return out


def compute(
    tenant_id: Any, year: int, metric_ids: Sequence[Any], *, workers: int = 1
) -> list[Computed]:
    """Every population of the tenant's `year`, for these metrics. On PostgreSQL,
    `workers` threads with their own connections share the statements (the database
    does the work, so threads run in parallel); they read committed rows only."""
    jobs = [(metric_id, period) for metric_id in metric_ids for period in periods_of(year)]
    if workers <= 1 or connection.vendor != "postgresql":
        return [item for job in jobs for item in compute_period(tenant_id, *job)]
    results: list[list[Computed]] = [[] for _ in jobs]
    failures: list[BaseException] = []

    def work(share: int) -> None:
        try:
            for index in range(share, len(jobs), workers):
                results[index] = compute_period(tenant_id, *jobs[index])
        except BaseException as error:  # reported by the caller's thread
            failures.append(error)
        finally:
            connection.close()  # this thread's own

    threads = [threading.Thread(target=work, args=(share,)) for share in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]
    return [item for result in results for item in result]


class Percentiles:
    """The populations of one tenant and year, or of some of its periods, for lookups.
    Rows are `(metric id, kind, start, attribute, value, n, thresholds)`; a population's
    thresholds are converted to numbers on its first lookup (a recap looks up a few
    dozen of the year's hundreds)."""

    def __init__(self, rows: Iterable[tuple[Any, ...]] = ()) -> None:
        self._raw: dict[tuple[Any, ...], tuple[int, Any]] = {}
        self._table: dict[tuple[Any, ...], tuple[int, list[Decimal], list[int]]] = {}
        for metric_id, kind, start, attribute, value, n, thresholds in rows:
            self._raw[(metric_id, kind, start, attribute, value)] = (n, thresholds)

    def _population(self, key: tuple[Any, ...]) -> tuple[int, list[Decimal], list[int]] | None:
        found = self._table.get(key)
        if found is None and key in self._raw:
            n, thresholds = self._raw[key]
            changes = [Decimal(str(change)) for change, _ in thresholds]
            ranks = [int(percentile) for _, percentile in thresholds]
            found = self._table[key] = (n, changes, ranks)  # threads at worst convert twice
        return found

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
        found = self._population((metric_id, period.kind, period.start, attribute, value))
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
