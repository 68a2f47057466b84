"""The few statements the ORM cannot express portably: inserts that skip a conflicting row
and tell whether they inserted, and additive upserts that return the new value.

Both are `INSERT ... ON CONFLICT` with `RETURNING`, which PostgreSQL and SQLite (3.35+)
share. Values go through each model field's `get_db_prep_save`, so UUIDs, JSON and
dates are encoded as the backend expects, exactly as the ORM would.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.db import connection, models


def _quoted(name: str) -> str:
    return connection.ops.quote_name(name)


def _prep(model: type[models.Model], field_name: str, value: Any) -> Any:
    field = model._meta.get_field(field_name)
    assert isinstance(field, models.Field)
    return field.get_db_prep_save(value, connection)


def _column(model: type[models.Model], field_name: str) -> str:
    field = model._meta.get_field(field_name)
    assert isinstance(field, models.Field) and field.column is not None
    return field.column


def insert_ignoring_conflict(
    obj: models.Model, *, conflict: str, returning: str = "id"
) -> Any | None:
    """INSERT `obj` unless a row conflicts on the `conflict` target (SQL: the column list,
    plus `WHERE ...` for a partial unique index). Returns the `returning` column of the new
    row, or None when an existing row won (nothing was inserted)."""
    model = type(obj)
    fields = [
        f
        for f in model._meta.concrete_fields
        if not (
            isinstance(f, models.AutoField) or (f.primary_key and getattr(obj, f.attname) is None)
        )
    ]
    columns = ", ".join(_quoted(_column(model, f.name)) for f in fields)
    placeholders = ", ".join(["%s"] * len(fields))
    params = [f.get_db_prep_save(f.pre_save(obj, add=True), connection) for f in fields]
    sql = (
        f"INSERT INTO {_quoted(model._meta.db_table)} ({columns}) VALUES ({placeholders}) "
        f"ON CONFLICT {conflict} DO NOTHING RETURNING {_quoted(returning)}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    return None if row is None else row[0]


def upsert_add(
    model: type[models.Model],
    *,
    keys: Sequence[str],
    sums: Sequence[str],
    rows: Iterable[Sequence[Any]],
    returning: Sequence[str] = (),
) -> list[tuple[Any, ...]]:
    """Add `sums` onto the rows identified by `keys`, creating them when absent.

    Each item of `rows` holds the key values then the sum values, in that order. One
    statement for all rows; concurrent callers never lose an increment because the
    database applies `x = x + excluded.x` under the row's lock. Returns the `returning`
    columns of every row written (order unspecified for several rows).
    """
    rows = list(rows)
    if not rows:
        return []
    table = _quoted(model._meta.db_table)
    names = [*keys, *sums]
    columns = [_column(model, name) for name in names]
    row_sql = "(" + ", ".join(["%s"] * len(names)) + ")"
    params: list[Any] = []
    for row in rows:
        params.extend(_prep(model, name, value) for name, value in zip(names, row, strict=True))
    updates = ", ".join(
        f"{_quoted(c)} = {table}.{_quoted(c)} + excluded.{_quoted(c)}" for c in columns[len(keys) :]
    )
    sql = (
        f"INSERT INTO {table} ({', '.join(_quoted(c) for c in columns)}) "
        f"VALUES {', '.join([row_sql] * len(rows))} "
        f"ON CONFLICT ({', '.join(_quoted(c) for c in columns[: len(keys)])}) "
        f"DO UPDATE SET {updates}"
    )
    if returning:
        sql += " RETURNING " + ", ".join(_quoted(_column(model, r)) for r in returning)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [tuple(r) for r in cursor.fetchall()] if returning else []
