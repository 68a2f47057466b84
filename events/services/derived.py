"""Applying events to derived state (totals and daily rollups), shared by the single-event
path, batches, `import_events` and `replay`, so all four compute exactly the same thing."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import date
from decimal import Decimal

from django.db import connection

from ..models import DailyAttributeRollup, DailyRollup, MetricTotal
from .sql import UNNEST_ROWS, upsert_add

ZERO = Decimal(0)

# Rows per statement: well under SQLite's 32,766 and PostgreSQL's 65,535 parameters.
CHUNK = 2000

# (user id, metric id, local date, value, event attributes)
Contribution = tuple[int, uuid.UUID, date, Decimal, dict[str, str]]


def _chunks(rows: list[tuple]) -> Iterable[list[tuple]]:
    # PostgreSQL takes many rows as a few array parameters (sql.UNNEST_ROWS per statement).
    size = UNNEST_ROWS if connection.vendor == "postgresql" else CHUNK
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def apply_contributions(
    tenant_id: uuid.UUID, contributions: Iterable[Contribution], *, new_totals: bool = True
) -> dict[tuple[int, uuid.UUID], Decimal]:
    """Add events to totals, daily rollups and attribute rollups; return the new total of
    every (user id, metric id) touched (an empty dict with `new_totals=False`, for a
    caller that does not need them, such as a bulk import: the same rows are written
    without reading thousands of totals back).

    Contributions are summed in memory first (one row per key and statement, as ON
    CONFLICT requires) and written in key order, so concurrent writers take row locks in
    the same order and cannot deadlock.
    """
    totals: dict[tuple, list] = {}
    daily: dict[tuple, list] = {}
    by_attribute: dict[tuple, list] = {}
    # One pass, [sum, count] per key; the same arithmetic (0 + each value, in order) for
    # one event or a million.
    for user_id, metric_id, local_date, value, attributes in contributions:
        key: tuple = (user_id, metric_id)
        acc = totals.get(key)
        if acc is None:
            totals[key] = [ZERO + value, 1]
        else:
            acc[0] += value
            acc[1] += 1
        key = (user_id, metric_id, local_date)
        acc = daily.get(key)
        if acc is None:
            daily[key] = [ZERO + value, 1]
        else:
            acc[0] += value
            acc[1] += 1
        for name, item in attributes.items():
            key = (user_id, metric_id, local_date, name, item)
            acc = by_attribute.get(key)
            if acc is None:
                by_attribute[key] = [ZERO + value, 1]
            else:
                acc[0] += value
                acc[1] += 1
    # The tenant is the same for every row: sent once per statement, and left out of the
    # sort (the order is still (tenant, user, metric, ...), as every writer's).
    tenant = {"tenant": tenant_id}
    written: dict[tuple[int, uuid.UUID], Decimal] = {}
    rows = sorted((*key, *acc) for key, acc in totals.items())
    for chunk in _chunks(rows):
        for user_id, metric_id, total in upsert_add(
            MetricTotal,
            constants=tenant,
            keys=("user", "metric"),
            sums=("total", "event_count"),
            rows=chunk,
            returning=("user", "metric", "total") if new_totals else (),
        ):
            written[(user_id, uuid.UUID(str(metric_id)))] = Decimal(str(total))
    rows = sorted((*key, *acc) for key, acc in daily.items())
    for chunk in _chunks(rows):
        upsert_add(
            DailyRollup,
            constants=tenant,
            keys=("user", "metric", "local_date"),
            sums=("total", "event_count"),
            rows=chunk,
        )
    rows = sorted((*key, *acc) for key, acc in by_attribute.items())
    for chunk in _chunks(rows):
        upsert_add(
            DailyAttributeRollup,
            constants=tenant,
            keys=("user", "metric", "local_date", "attribute_key", "attribute_value"),
            sums=("total", "event_count"),
            rows=chunk,
        )
    return written
