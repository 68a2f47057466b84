"""The few statements the ORM cannot express portably: inserts that skip conflicting rows
and tell which they inserted, and additive upserts that return the new value.

All are `INSERT ... ON CONFLICT` with `RETURNING`, which PostgreSQL and SQLite (3.35+)
share. Values are encoded as the backend expects, exactly as the ORM would (each model
field's `get_db_prep_save`; on PostgreSQL, many rows travel as one array per column).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from django.db import connection, models


def _quoted(name: str) -> str:
    return connection.ops.quote_name(name)


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
    constants: Mapping[str, Any] | None = None,
) -> list[tuple[Any, ...]]:
    """Add `sums` onto the rows identified by `keys`, creating them when absent.

    Each item of `rows` holds the key values then the sum values, in that order.
    `constants` are leading key columns with one value for every row (sent once, not
    per row). One statement for all rows; concurrent callers never lose an increment
    because the database applies `x = x + excluded.x` under the row's lock. Returns the
    `returning` columns of every row written (order unspecified for several rows).
    """
    rows = list(rows)
    if not rows:
        return []
    constants = constants or {}
    table = _quoted(model._meta.db_table)
    key_columns = [_column(model, name) for name in (*constants, *keys)]
    sum_columns = [_column(model, name) for name in sums]
    columns = [list(column) for column in zip(*rows, strict=True)]
    source, params = _columns_source(model, constants, [*keys, *sums], columns)
    updates = ", ".join(
        f"{_quoted(c)} = {table}.{_quoted(c)} + excluded.{_quoted(c)}" for c in sum_columns
    )
    sql = (
        f"INSERT INTO {table} ({', '.join(_quoted(c) for c in (*key_columns, *sum_columns))}) "
        f"{source} "
        f"ON CONFLICT ({', '.join(_quoted(c) for c in key_columns)}) "
        f"DO UPDATE SET {updates}"
    )
    if returning:
        sql += " RETURNING " + ", ".join(_quoted(_column(model, r)) for r in returning)
    return _execute(sql, params, fetch=bool(returning))


# Parameters per statement for multi-row inserts: under SQLite's 32,766 and PostgreSQL's
# 65,535, and large enough that statement overhead stays small.
MAX_PARAMS = 30_000
# On PostgreSQL, rows travel as one array per column (`SELECT * FROM unnest(...)`):
# a short statement with a few parameters instead of one placeholder per value, which
# psycopg and the server parse in a fraction of the time. Rows per statement:
UNNEST_ROWS = 10_000
UNNEST_MIN_ROWS = 50

# Field types whose Python values psycopg sends as they are; others (JSON) are prepared
# by the field, exactly as the ORM would.
_NATIVE_TYPES = frozenset(
    {
        "AutoField",
        "BigAutoField",
        "BigIntegerField",
        "BooleanField",
        "CharField",
        "DateField",
        "DateTimeField",
        "DecimalField",
        "IntegerField",
        "PositiveIntegerField",
        "TextField",
        "UUIDField",
    }
)


def _field(model: type[models.Model], name: str) -> models.Field:
    field = model._meta.get_field(name)
    assert isinstance(field, models.Field)
    return field


def _columns_source(
    model: type[models.Model],
    constants: Mapping[str, Any],
    names: Sequence[str],
    columns: list[list[Any]],
) -> tuple[str, list[Any]]:
    """SQL producing rows of the columns `constants` (one value for all rows) then
    `names` (`columns`, one list of values each, all as long), and its params:
    `SELECT const, ... , u.* FROM unnest(%s::type[], ...) AS u` on PostgreSQL for many
    rows, `VALUES (...), ...` otherwise."""
    count = len(columns[0])
    # Few rows (the single-event path) keep the plain VALUES form and Django's cursor.
    if connection.vendor == "postgresql" and count >= UNNEST_MIN_ROWS:
        params: list[Any] = []
        scalars: list[str] = []
        for name, value in constants.items():
            field = _field(model, name)
            if _native(field):
                params.append(value)
            else:
                params.append(field.get_db_prep_save(value, connection))
            scalars.append(f"%b::{field.cast_db_type(connection)}")
        casts: list[str] = []
        for name, column in zip(names, columns, strict=True):
            field = _field(model, name)
            if _native(field):
                casts.append(f"%b::{field.cast_db_type(connection)}[]")
            elif isinstance(field, models.JSONField):
                column = _json_texts(column, field.encoder)
                casts.append("%b::text[]::jsonb[]")
            else:
                column = [field.get_db_prep_save(v, connection) for v in column]
                casts.append(f"%b::{field.cast_db_type(connection)}[]")
            params.append(column)
        select = ", ".join([*scalars, "u.*"])
        return f"SELECT {select} FROM unnest({', '.join(casts)}) AS u", params

    prep = [_field(model, name).get_db_prep_save for name in (*constants, *names)]
    fixed = list(constants.values())
    params = []
    for row in zip(*columns, strict=True):
        params.extend(p(value, connection) for p, value in zip(prep, (*fixed, *row), strict=True))
    row_sql = "(" + ", ".join(["%s"] * len(prep)) + ")"
    return f"VALUES {', '.join([row_sql] * count)}", params


def _native(field: models.Field) -> bool:
    target = field.target_field if field.is_relation else field  # type: ignore[attr-defined]
    return target.get_internal_type() in _NATIVE_TYPES


def _json_texts(column: list[Any], encoder: type[json.JSONEncoder] | None) -> list[str | None]:
    """The JSON text of each value, as the field would encode it; a value object that
    recurs (an import shares one dict among the lines that sent the same attributes) is
    encoded once."""
    texts: dict[int, str] = {}
    out: list[str | None] = []
    for value in column:
        if value is None:
            out.append(None)
            continue
        text = texts.get(id(value))
        if text is None:
            text = texts[id(value)] = json.dumps(value, cls=encoder)
        out.append(text)
    return out


def _execute(sql: str, params: list[Any], fetch: bool) -> list[tuple[Any, ...]]:
    """Run a statement from `_rows_source`. On PostgreSQL its `%b` arrays need psycopg's
    server-side binding, which sends them in binary (several times cheaper to encode
    than Django's client-side binding); the statement runs on Django's connection, so in
    its transaction, but bypasses Django's cursor wrapper (query logging)."""
    if "%b" not in sql:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return [tuple(r) for r in cursor.fetchall()] if fetch else []
    import psycopg

    connection.ensure_connection()
    with psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(sql, params)
        return [tuple(r) for r in cursor.fetchall()] if fetch else []


def _execute_count(sql: str, params: list[Any]) -> int:
    """Run a statement like `_execute`; return how many rows it wrote."""
    if "%b" not in sql:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.rowcount
    import psycopg

    connection.ensure_connection()
    with psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def insert_rows_ignoring_conflict(
    model: type[models.Model],
    *,
    fields: Sequence[str],
    rows: Iterable[Sequence[Any]],
    conflict: str,
    returning: Sequence[str] = ("id",),
) -> list[tuple[Any, ...]]:
    """INSERT many rows (each holding the values of `fields`, in that order), skipping
    those that conflict on the `conflict` target (as in `insert_ignoring_conflict`).

    Returns the `returning` columns (converted to Python by their fields, e.g. UUIDs) of
    the rows actually inserted, so the caller learns which ones an existing row beat.
    Rows of one call that conflict with each other: the first one wins.
    """
    rows = list(rows)
    if not rows:
        return []
    columns = [list(column) for column in zip(*rows, strict=True)]
    return insert_columns_ignoring_conflict(
        model,
        columns=dict(zip(fields, columns, strict=True)),
        conflict=conflict,
        returning=returning,
    )


def insert_columns_ignoring_conflict(
    model: type[models.Model],
    *,
    columns: Mapping[str, list[Any]],
    conflict: str,
    constants: Mapping[str, Any] | None = None,
    returning: Sequence[str] = ("id",),
) -> list[tuple[Any, ...]]:
    """`insert_rows_ignoring_conflict` for rows given column-wise: `columns` maps field
    names to their values (lists of one length), `constants` fields to the one value
    every row has. With no `returning` columns, one empty tuple per row inserted (the
    count alone, which costs the database and Python nothing per row)."""
    constants = constants or {}
    names = list(columns)
    values = list(columns.values())
    count = len(values[0]) if values else 0
    if not count:
        return []
    table = _quoted(model._meta.db_table)
    column_sql = ", ".join(_quoted(_column(model, name)) for name in (*constants, *names))
    back = [_field(model, name) for name in returning]
    back_sql = ", ".join(_quoted(_column(model, name)) for name in returning)
    per_statement = (
        UNNEST_ROWS
        if connection.vendor == "postgresql"
        else max(1, MAX_PARAMS // (len(names) + len(constants)))
    )
    out: list[tuple[Any, ...]] = []
    for start in range(0, count, per_statement):
        part = [column[start : start + per_statement] for column in values]
        source, params = _columns_source(model, constants, names, part)
        sql = f"INSERT INTO {table} ({column_sql}) {source} ON CONFLICT {conflict} DO NOTHING"
        if not returning:
            out.extend([()] * _execute_count(sql, params))
            continue
        returned = _execute(f"{sql} RETURNING {back_sql}", params, fetch=True)
        out.extend(
            tuple(f.to_python(v) for f, v in zip(back, row, strict=True)) for row in returned
        )
    return out
