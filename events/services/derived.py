"""Applying events to derived state (totals and daily rollups), shared by the single-event
path, batches, `import_events` and `replay`, so all four compute exactly the same thing."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable
from datetime import date
from decimal import Decimal

from ..models import DailyAttributeRollup, DailyRollup, MetricTotal
from .sql import upsert_add

# Rows per statement: well under SQLite's 32,766 and PostgreSQL's 65,535 parameters.
CHUNK = 2000

# (user id, metric id, local date, value, event attributes)
Contribution = tuple[int, uuid.UUID, date, Decimal, dict[str, str]]


def _chunks(rows: list[tuple], size: int = CHUNK) -> Iterable[list[tuple]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def apply_contributions(
    tenant_id: uuid.UUID, contributions: Iterable[Contribution]
) -> dict[tuple[int, uuid.UUID], Decimal]:
    """Add events to totals, daily rollups and attribute rollups; return the new total of
    every (user id, metric id) touched.

    Contributions are summed in memory first (one row per key and statement, as ON
    CONFLICT requires) and written in key order, so concurrent writers take row locks in
    the same order and cannot deadlock.
    """
    totals: dict[tuple, list] = defaultdict(lambda: [Decimal(0), 0])
    daily: dict[tuple, list] = defaultdict(lambda: [Decimal(0), 0])
    by_attribute: dict[tuple, list] = defaultdict(lambda: [Decimal(0), 0])
    for user_id, metric_id, local_date, value, attributes in contributions:
        for bucket, key in (
            (totals, (user_id, metric_id)),
            (daily, (user_id, metric_id, local_date)),
            *(
                (by_attribute, (user_id, metric_id, local_date, k, v))
                for k, v in sorted(attributes.items())
            ),
        ):
            acc = bucket[key]
            acc[0] += value
            acc[1] += 1
    new_totals: dict[tuple[int, uuid.UUID], Decimal] = {}
    rows = sorted((tenant_id, *key, *acc) for key, acc in totals.items())
    for chunk in _chunks(rows):
        for user_id, metric_id, total in upsert_add(
            MetricTotal,
            keys=("tenant", "user", "metric"),
            sums=("total", "event_count"),
            rows=chunk,
            returning=("user", "metric", "total"),
        ):
            new_totals[(user_id, uuid.UUID(str(metric_id)))] = Decimal(str(total))
    rows = sorted((tenant_id, *key, *acc) for key, acc in daily.items())
    for chunk in _chunks(rows):
        upsert_add(
            DailyRollup,
            keys=("tenant", "user", "metric", "local_date"),
            sums=("total", "event_count"),
            rows=chunk,
        )
    rows = sorted((tenant_id, *key, *acc) for key, acc in by_attribute.items())
    for chunk in _chunks(rows):
        upsert_add(
            DailyAttributeRollup,
            keys=("tenant", "user", "metric", "local_date", "attribute_key", "attribute_value"),
            sums=("total", "event_count"),
            rows=chunk,
        )
    return new_totals
