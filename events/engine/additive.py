"""The additive derivations (metric totals, daily rollups with their sums per
event-attribute value) and how the engine writes them: summed in memory per key, then
one `INSERT ... ON CONFLICT DO UPDATE SET x = x + excluded.x` per table and chunk of
rows, in key order (concurrent writers lock rows in the same order and cannot deadlock).
The same code sums one event on the hot path and a million in an import, so both give
the same rows.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from decimal import Decimal
from operator import itemgetter
from typing import Any, NamedTuple

from django.db import connection

from ..attribute_sums import accumulate
from ..db.sql import COPY_ROWS, Statement, run, upsert_add_statement
from ..models import DailyRollup, MetricTotal
from .derivations import ATTRIBUTES, DATE, METRIC, USER, VALUE, Additive, Contribution

TOTALS = Additive(
    name="totals",
    model=MetricTotal,
    keys=("user", "metric"),
    key_of=(USER, METRIC),
    returning=("user", "metric", "total"),
)
DAILY = Additive(
    name="daily",
    model=DailyRollup,
    keys=("user", "local_date", "metric"),
    key_of=(USER, DATE, METRIC),
    by_attribute=True,
)

# Rows per statement on SQLite (well under its 32,766 parameters); PostgreSQL sends many
# rows with one COPY (sql.COPY_ROWS per statement).
CHUNK = 2000


class Upsert(NamedTuple):
    derivation: Additive
    rows: list[tuple[Any, ...]]  # key values then sums, sorted by key


def _as_int(contributions: Iterable[Contribution]) -> tuple[list[tuple], dict[int, uuid.UUID]]:
    """The contributions with each metric id as its int: a UUID hashes and compares in
    Python code, an int in C, and keys hash the metric millions of times in an import
    (both sort the same way). Returns them and the map back to the UUIDs."""
    metrics: dict[int, uuid.UUID] = {}
    out = []
    for user_id, metric_id, local_date, value, attributes in contributions:
        number = metric_id.int
        if number not in metrics:
            metrics[number] = metric_id
        out.append((user_id, number, local_date, value, attributes))
    return out, metrics


def summed(derivations: Iterable[Additive], contributions: Iterable[Contribution]) -> list[Upsert]:
    """Each derivation's rows for these contributions: one per key (as ON CONFLICT
    requires), [sum, count] (and the sums per attribute value) of its contributions,
    each value added in order, sorted by key."""
    rows, metrics = _as_int(contributions)
    out = []
    for derivation in derivations:
        key_of = itemgetter(*derivation.key_of)
        sums: dict[tuple, list] = {}
        if derivation.by_attribute:
            for row in rows:
                key = key_of(row)
                value = row[VALUE]
                acc = sums.get(key)
                if acc is None:
                    sums[key] = acc = [value, 1, {}]
                else:
                    acc[0] += value
                    acc[1] += 1
                if row[ATTRIBUTES]:
                    accumulate(acc[2], row[ATTRIBUTES], value)
        else:
            for row in rows:
                key = key_of(row)
                acc = sums.get(key)
                if acc is None:
                    sums[key] = [row[VALUE], 1]
                else:
                    acc[0] += row[VALUE]
                    acc[1] += 1
        ordered = sorted(sums.items())
        if METRIC in derivation.key_of:
            at = derivation.key_of.index(METRIC)
            out.append(
                Upsert(
                    derivation,
                    [(*key[:at], metrics[key[at]], *key[at + 1 :], *acc) for key, acc in ordered],
                )
            )
        else:
            out.append(Upsert(derivation, [(*key, *acc) for key, acc in ordered]))
    return out


def upsert_statements(
    tenant_id: uuid.UUID,
    derivations: Iterable[Additive],
    contributions: Iterable[Contribution],
    *,
    returning: bool,
    guard: bool = False,
) -> list[Statement]:
    """The upserts that add these contributions, each table's rows in key order and in
    chunks. With `returning`, a derivation's `returning` columns come back (the new
    totals); `guard` gives the form `db.sql.insert_then` runs after its insert. The
    tenant is the same for every row: sent once per statement (it is in no key)."""
    size = COPY_ROWS if connection.vendor == "postgresql" else CHUNK
    tenant = {"tenant": tenant_id}
    return [
        upsert_add_statement(
            upsert.derivation.model,
            constants=tenant,
            keys=upsert.derivation.keys,
            sums=upsert.derivation.sums,
            rows=upsert.rows[start : start + size],
            returning=upsert.derivation.returning if returning else (),
            guard=guard,
        )
        for upsert in summed(derivations, contributions)
        for start in range(0, len(upsert.rows), size)
    ]


def apply(
    tenant_id: uuid.UUID, derivations: Iterable[Additive], contributions: Iterable[Contribution]
) -> None:
    """Add these contributions to the derivations' rows (set-based: the bulk paths)."""
    for statement in upsert_statements(tenant_id, derivations, contributions, returning=False):
        run(statement)


def new_totals(rows: Iterable[tuple]) -> dict[tuple[int, uuid.UUID], Decimal]:
    """(user id, metric id) -> total, from the rows TOTALS' upsert returns."""
    return {
        (user_id, uuid.UUID(str(metric_id))): Decimal(str(total))
        for user_id, metric_id, total in rows
    }
