"""Applying events to derived state (totals and daily rollups), shared by the single-event
path, batches, `import_events` and `replay`, so all four compute exactly the same thing."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from typing import Any, NamedTuple

from django.db import connection, models

from ..attribute_sums import accumulate
from ..models import DailyRollup, MetricTotal
from ..prepared import Read
from .sql import (
    COPY_ROWS,
    Statement,
    insert_ignoring_conflict_statement,
    insert_then,
    run,
    upsert_add_statement,
)

# Rows per statement: well under SQLite's 32,766 and PostgreSQL's 65,535 parameters.
CHUNK = 2000

TOTAL_KEYS = ("user", "metric")
# Each in the order of its table's unique constraint, so rows are written in index order.
DAILY_KEYS = ("user", "local_date", "metric")
SUMS = ("total", "event_count")
DAILY_SUMS = (*SUMS, "by_attribute")
TOTAL_RETURNING = ("user", "metric", "total")

# (user id, metric id, local date, value, event attributes); the value an int when it is
# whole (numbers.compact), or a Decimal.
Contribution = tuple[int, uuid.UUID, date, int | Decimal, dict[str, str]]


def _chunks(rows: list[tuple]) -> Iterable[list[tuple]]:
    # PostgreSQL takes many rows with one COPY (sql.COPY_ROWS per statement).
    size = COPY_ROWS if connection.vendor == "postgresql" else CHUNK
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


class Applied(NamedTuple):
    new_id: Any | None  # None: the event was a duplicate, and nothing changed
    totals: dict[tuple[int, uuid.UUID], Decimal]  # the new total
    read: list[tuple]  # raw rows of the `read`, as before this event


class _Upsert(NamedTuple):
    model: type[models.Model]
    keys: tuple[str, ...]
    sums: tuple[str, ...]
    rows: list[tuple]  # key values then sums, sorted by key


def _sums(contributions: Iterable[Contribution]) -> list[_Upsert]:
    """The derivation itself: sum the contributions per total and per day (in all and per
    event-attribute value, events.attribute_sums), one row per key (as ON CONFLICT
    requires), each list sorted by key."""
    totals: dict[tuple, list] = {}
    daily: dict[tuple, list] = {}
    # Keys hold a metric's id as its int (UUIDs hash and compare in Python code, ints in
    # C; both sort the same way), mapped back to the UUID in the rows.
    metrics: dict[int, uuid.UUID] = {}
    # One pass, [sum, count] per total and [sum, count, by attribute] per day; the same
    # arithmetic (each value added in order) for one event or a million.
    for user_id, metric_id, local_date, value, attributes in contributions:
        metric = metric_id.int
        if metric not in metrics:
            metrics[metric] = metric_id
        key: tuple = (user_id, metric)
        acc = totals.get(key)
        if acc is None:
            totals[key] = [value, 1]
        else:
            acc[0] += value
            acc[1] += 1
        key = (user_id, local_date, metric)
        acc = daily.get(key)
        if acc is None:
            daily[key] = acc = [value, 1, {}]
        else:
            acc[0] += value
            acc[1] += 1
        if attributes:
            accumulate(acc[2], attributes, value)
    # The tenant is the same for every row: sent once per statement (it is not part of
    # any key). Every writer sorts the same way, so they lock rows in the same order.
    return [
        _Upsert(
            MetricTotal,
            TOTAL_KEYS,
            SUMS,
            [(u, metrics[m], *acc) for (u, m), acc in sorted(totals.items())],
        ),
        _Upsert(
            DailyRollup,
            DAILY_KEYS,
            DAILY_SUMS,
            [(u, d, metrics[m], *acc) for (u, d, m), acc in sorted(daily.items())],
        ),
    ]


def _new_totals(rows: Iterable[tuple]) -> dict[tuple[int, uuid.UUID], Decimal]:
    return {
        (user_id, uuid.UUID(str(metric_id))): Decimal(str(total))
        for user_id, metric_id, total in rows
    }


def apply_contributions(
    tenant_id: uuid.UUID, contributions: Iterable[Contribution], *, new_totals: bool = True
) -> dict[tuple[int, uuid.UUID], Decimal]:
    """Add events to totals and daily rollups (with their sums per attribute value);
    return the new total of every (user id, metric id) touched (an empty dict with
    `new_totals=False`, for a caller that does not need them, such as a bulk import: the same rows are written
    without reading thousands of totals back).

    Contributions are summed in memory first (one row per key and statement, as ON
    CONFLICT requires) and written in key order, so concurrent writers take row locks in
    the same order and cannot deadlock.
    """
    written: dict[tuple[int, uuid.UUID], Decimal] = {}
    for statement in _upsert_statements(tenant_id, contributions, new_totals=new_totals):
        written.update(_new_totals(run(statement)))
    return written


def _upsert_statements(
    tenant_id: uuid.UUID,
    contributions: Iterable[Contribution],
    *,
    new_totals: bool,
    guard: bool = False,
) -> list[Statement]:
    """The upserts that apply these contributions, summed by `_sums`, each table's rows
    in key order and in chunks (see sql.upsert_add_statement for `guard`)."""
    tenant = {"tenant": tenant_id}
    return [
        upsert_add_statement(
            upsert.model,
            constants=tenant,
            keys=upsert.keys,
            sums=upsert.sums,
            rows=chunk,
            returning=TOTAL_RETURNING if new_totals and upsert.model is MetricTotal else (),
            guard=guard,
        )
        for upsert in _sums(contributions)
        for chunk in _chunks(upsert.rows)
    ]


def insert_and_apply(
    obj: models.Model,
    *,
    conflict: str,
    tenant_id: uuid.UUID,
    contribution: Contribution,
    read: Read | None = None,
) -> Applied:
    """Insert `obj` (one event) unless a row conflicts on `conflict` (its idempotency key)
    and, only if it was inserted, apply its contribution as `apply_contributions` would
    and run the SELECT `read`, which sees the derived state as it was before this event.
    One statement on PostgreSQL (sql.insert_then), so the event path costs one round trip
    for what would otherwise be four or five."""
    then = _upsert_statements(tenant_id, [contribution], new_totals=True, guard=True)
    result = insert_then(insert_ignoring_conflict_statement(obj, conflict=conflict), then, read)
    return Applied(result.new_id, _new_totals(result.returned), result.read)
