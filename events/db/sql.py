"""The few statements the ORM cannot express portably: inserts that skip conflicting rows
and tell which they inserted, and additive upserts that return the new value.

All are `INSERT ... ON CONFLICT` with `RETURNING`, which PostgreSQL and SQLite (3.35+)
share. Values are encoded as the backend expects, exactly as the ORM would (each model
field's `get_db_prep_save`; on PostgreSQL, many rows travel with COPY, see `_staged_plan`).

The SQL text of a statement depends only on its shape (model, columns, number of rows,
backend), so it is built once per shape and cached: the single-event path sends the same
few statements with new values every time, and building their text (quoting names,
looking up column types through Django's connection proxy) cost more than encoding the
values.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterable, Mapping, Sequence
from contextlib import nullcontext
from functools import lru_cache, partial
from typing import Any, NamedTuple

from django.db import DEFAULT_DB_ALIAS, connections, models, transaction
from django.db.backends.base.base import BaseDatabaseWrapper


class Stage(NamedTuple):
    """Rows that a statement reads from a temporary table, sent first with COPY (see
    `_staged_plan`)."""

    setup: str  # creates the table in this session if it is missing; tells if it has rows
    empty: str  # empties it
    copy: str  # COPY ... FROM STDIN (FORMAT BINARY)
    types: tuple[str, ...]  # the type of each column, for psycopg
    rows: list[tuple[Any, ...]]


class Statement(NamedTuple):
    sql: str
    params: list[Any]
    # The form `insert_then` runs inside its CTE, where there is one (see upsert_add_statement).
    guarded: str | None = None
    # It returns rows (RETURNING).
    fetch: bool = False
    # Its rows, when it reads them from a temporary table.
    stage: Stage | None = None


def run(statement: Statement) -> list[tuple[Any, ...]]:
    """Run a statement built here; return its rows (none unless it `fetch`es)."""
    return _execute(statement)[0]


def _db() -> BaseDatabaseWrapper:
    """The default connection itself (`django.db.connection` is a proxy that looks the
    connection up again on every attribute access)."""
    return connections[DEFAULT_DB_ALIAS]


def _field(model: type[models.Model], name: str) -> models.Field:
    field = model._meta.get_field(name)
    assert isinstance(field, models.Field) and field.column is not None
    return field


def _quoted(db: BaseDatabaseWrapper, field: models.Field) -> str:
    assert field.column is not None
    return db.ops.quote_name(field.column)


def _quoted_column(db: BaseDatabaseWrapper, model: type[models.Model], name: str) -> str:
    return _quoted(db, _field(model, name))


@lru_cache(maxsize=128)
def _insert_plan(
    model: type[models.Model], conflict: str, returning: str, with_pk: bool, vendor: str
) -> tuple[str, tuple[models.Field, ...]]:
    db = _db()
    fields = tuple(
        f
        for f in model._meta.concrete_fields
        if not (isinstance(f, models.AutoField) or (f.primary_key and not with_pk))
    )
    columns = ", ".join(_quoted(db, f) for f in fields)
    placeholders = ", ".join(["%s"] * len(fields))
    sql = (
        f"INSERT INTO {db.ops.quote_name(model._meta.db_table)} ({columns}) "
        f"VALUES ({placeholders}) ON CONFLICT {conflict} DO NOTHING "
        f"RETURNING {db.ops.quote_name(returning)}"
    )
    return sql, fields


def insert_ignoring_conflict_statement(
    obj: models.Model, *, conflict: str, returning: str = "id"
) -> Statement:
    """The statement `insert_ignoring_conflict` runs: one row, or none when a row
    conflicts on the `conflict` target; it returns the `returning` column of a new row."""
    db = _db()
    model = type(obj)
    pk = model._meta.pk
    assert pk is not None
    with_pk = getattr(obj, pk.attname) is not None
    sql, fields = _insert_plan(model, conflict, returning, with_pk, db.vendor)
    params = [f.get_db_prep_save(f.pre_save(obj, add=True), db) for f in fields]
    return Statement(sql, params)


def insert_ignoring_conflict(
    obj: models.Model, *, conflict: str, returning: str = "id"
) -> Any | None:
    """INSERT `obj` unless a row conflicts on the `conflict` target (SQL: the column list,
    plus `WHERE ...` for a partial unique index). Returns the `returning` column of the new
    row, or None when an existing row won (nothing was inserted)."""
    statement = insert_ignoring_conflict_statement(obj, conflict=conflict, returning=returning)
    with _db().cursor() as cursor:
        cursor.execute(statement.sql, statement.params)
        row = cursor.fetchone()
    return None if row is None else row[0]


class Chained(NamedTuple):
    new_id: Any | None  # None: a conflicting row won, and nothing else ran
    returned: list[tuple]  # the rows the first `then` statement returned


def insert_then(insert: Statement, then: Sequence[Statement]) -> Chained:
    """Run `insert` (from `insert_ignoring_conflict_statement`) and, only when it inserted
    its row, the statements `then` (built with `guard=True`: `upsert_add_statement`,
    `insert_statement`, `update_statement`), in that order.

    On PostgreSQL this is one statement, one round trip: `WITH ins AS (insert), s0 AS
    (then[0] guarded by EXISTS (SELECT 1 FROM ins)), ... SELECT ins.*, s0.*`. Each part
    sees the database as it was before the statement, which is all they need: they write
    different tables, and the rows they add to are updated under the rows' locks. (A
    data-modifying CTE is the only way to make the writes depend on the insert inside one
    statement; SQLite has none, so there the statements run one by one.)
    """
    db = _db()
    if db.vendor != "postgresql":
        with db.cursor() as cursor:
            cursor.execute(insert.sql, insert.params)
            row = cursor.fetchone()
            if row is None:
                return Chained(None, [])
            first: list[tuple] = []
            for i, statement in enumerate(then):
                cursor.execute(statement.sql, statement.params)
                if i == 0 and cursor.description is not None:
                    first = [tuple(r) for r in cursor.fetchall()]
        return Chained(row[0], first)
    params = list(insert.params)
    for statement in then:
        if statement.guarded is None:
            raise ValueError("insert_then needs statements built with guard=True")
        params.extend(statement.params)
    returns = bool(then) and then[0].fetch
    sql = _chained(insert.sql, tuple(s.guarded for s in then), returns)
    with db.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    if not rows:
        return Chained(None, [])
    returned = [tuple(r[1:]) for r in rows] if returns else []
    return Chained(rows[0][0], returned)


@lru_cache(maxsize=128)
def _chained(insert: str, then: tuple[str, ...], returns: bool) -> str:
    parts = [f"ins AS ({insert})", *(f"s{i} AS ({sql})" for i, sql in enumerate(then))]
    select = "SELECT ins.*, s0.* FROM ins LEFT JOIN s0 ON true" if returns else "SELECT * FROM ins"
    return f"WITH {', '.join(parts)} {select}"


def insert_statement(
    model: type[models.Model],
    *,
    names: Sequence[str],
    rows: Iterable[Sequence[Any]],
    constants: Mapping[str, Any] | None = None,
    guard: bool = False,
) -> Statement:
    """A plain multi-row INSERT of `rows` (the values of `names`, in order), with
    `constants` (one value for every row); with `guard`, also the form `insert_then`
    runs in its CTE."""
    rows = list(rows)
    constants = constants or {}
    columns = [list(column) for column in zip(*rows, strict=True)]
    guarded = guard and _db().vendor == "postgresql"
    source, params, stage = _columns_source(model, constants, names, columns, typed=guarded)
    db = _db()
    table = db.ops.quote_name(model._meta.db_table)
    column_sql = ", ".join(_quoted_column(db, model, name) for name in (*constants, *names))
    head = f"INSERT INTO {table} ({column_sql}) "
    guarded_sql = (
        f"{head}SELECT * FROM ({source}) AS v WHERE EXISTS (SELECT 1 FROM ins)" if guarded else None
    )
    return Statement(head + source, params, guarded_sql, stage=stage)


def update_statement(
    model: type[models.Model],
    *,
    pk: Any,
    values: Mapping[str, Any],
    increments: Sequence[str] = (),
    guard: bool = False,
) -> Statement:
    """`UPDATE` one row by primary key: `values` by field name, and each field of
    `increments` plus one; with `guard`, also the form `insert_then` runs in its CTE."""
    db = _db()
    table = db.ops.quote_name(model._meta.db_table)
    sets: list[str] = []
    params: list[Any] = []
    for name, value in values.items():
        field = _field(model, name)
        sets.append(f"{_quoted(db, field)} = %s")
        params.append(field.get_db_prep_save(value, db))
    for name in increments:
        column = _quoted_column(db, model, name)
        sets.append(f"{column} = {column} + 1")
    meta_pk = model._meta.pk
    assert meta_pk is not None
    params.append(meta_pk.get_db_prep_save(pk, db))
    sql = f"UPDATE {table} SET {', '.join(sets)} WHERE {_quoted(db, meta_pk)} = %s"
    guarded = sql + " AND EXISTS (SELECT 1 FROM ins)" if guard else None
    return Statement(sql, params, guarded)


def update_rows(
    model: type[models.Model],
    *,
    names: Sequence[str],
    rows: Iterable[Sequence[Any]],
    increments: Sequence[str] = (),
) -> int:
    """Update many rows by primary key: each row holds the primary key, then the values
    of `names`; each field of `increments` grows by one. Returns how many rows changed.

    On PostgreSQL one statement per `COPY_ROWS` rows (`UPDATE ... FROM` the rows, sent
    with COPY when there are many); on SQLite one prepared UPDATE per row (no round trip
    to pay there)."""
    rows = list(rows)
    if not rows:
        return 0
    db = _db()
    meta_pk = model._meta.pk
    assert meta_pk is not None
    if db.vendor != "postgresql":
        first = update_statement(
            model,
            pk=rows[0][0],
            values=dict(zip(names, rows[0][1:], strict=True)),
            increments=increments,
        )
        fields = [_field(model, name) for name in names]
        params = [
            [f.get_db_prep_save(v, db) for f, v in zip(fields, row[1:], strict=True)]
            + [meta_pk.get_db_prep_save(row[0], db)]
            for row in rows
        ]
        with db.cursor() as cursor:
            cursor.executemany(first.sql, params)
        return len(rows)
    table = db.ops.quote_name(model._meta.db_table)
    aliases = [f"c{i}" for i in range(len(names) + 1)]
    sets = [
        f"{_quoted_column(db, model, name)} = v.{alias}"
        for name, alias in zip(names, aliases[1:], strict=True)
    ]
    sets += [
        f"{column} = {table}.{column} + 1"
        for column in (_quoted_column(db, model, name) for name in increments)
    ]
    changed = 0
    for start in range(0, len(rows), COPY_ROWS):
        part = rows[start : start + COPY_ROWS]
        columns = [list(column) for column in zip(*part, strict=True)]
        # Typed placeholders where the rows travel as VALUES: an UPDATE's source does not
        # take its column types from the table (a staged COPY has the types already).
        source, params, stage = _columns_source(
            model,
            {},
            [meta_pk.name, *names],
            columns,
            typed=len(part) < COPY_MIN_ROWS,
        )
        sql = (
            f"UPDATE {table} SET {', '.join(sets)} FROM ({source}) AS v({', '.join(aliases)}) "
            f"WHERE {table}.{_quoted(db, meta_pk)} = v.c0"
        )
        changed += _execute(Statement(sql, params, stage=stage))[1]
    return changed


@lru_cache(maxsize=256)
def _upsert_sql(
    model: type[models.Model],
    constants: tuple[str, ...],
    keys: tuple[str, ...],
    sums: tuple[str, ...],
    returning: tuple[str, ...],
    source: str,
    guarded: bool,
) -> tuple[str, str | None]:
    db = _db()
    table = db.ops.quote_name(model._meta.db_table)
    key_columns = [_quoted_column(db, model, name) for name in (*constants, *keys)]
    sum_columns = [_quoted_column(db, model, name) for name in sums]
    updates = ", ".join(
        _added(_field(model, name), table, column)
        for name, column in zip(sums, sum_columns, strict=True)
    )
    head = f"INSERT INTO {table} ({', '.join((*key_columns, *sum_columns))}) "
    conflict_columns = [_quoted_column(db, model, name) for name in keys]
    tail = f" ON CONFLICT ({', '.join(conflict_columns)}) DO UPDATE SET {updates}"
    if returning:
        tail += " RETURNING " + ", ".join(_quoted_column(db, model, r) for r in returning)
    guarded_sql = None
    if guarded:
        guarded_sql = f"{head}SELECT * FROM ({source}) AS v WHERE EXISTS (SELECT 1 FROM ins){tail}"
    return head + source + tail, guarded_sql


def _added(field: models.Field, table: str, column: str) -> str:
    """The upsert's `SET` of one sum: the row's value plus the new one, with `+` or with
    the field's own `add_function` (a JSON column of sums, events.attribute_sums)."""
    function = getattr(field, "add_function", None)
    if function is not None:
        return f"{column} = {function}({table}.{column}, excluded.{column})"
    return f"{column} = {table}.{column} + excluded.{column}"


def upsert_add_statement(
    model: type[models.Model],
    *,
    keys: Sequence[str],
    sums: Sequence[str],
    rows: Iterable[Sequence[Any]],
    returning: Sequence[str] = (),
    constants: Mapping[str, Any] | None = None,
    guard: bool = False,
) -> Statement:
    """A statement that adds `sums` onto the rows identified by `keys`, creating them when
    absent (run it with `run`).

    Each item of `rows` holds the key values then the sum values, in that order.
    `constants` are columns with one value for every row (sent once, not per row),
    written with new rows but not part of the key: `keys` alone must be the columns of a
    unique constraint, the conflict target. One statement for all rows; concurrent
    callers never lose an increment because the database applies `x = x + excluded.x`
    (or the field's `add_function`, see `_added`) under the row's lock. It returns the
    `returning` columns of every row written (order unspecified for several rows).

    With `guard`, on PostgreSQL, the statement also carries a form whose rows are only
    written when a CTE named `ins` has a row (for `insert_then`)."""
    rows = list(rows)
    constants = constants or {}
    columns = [list(column) for column in zip(*rows, strict=True)]
    # For `insert_then` on PostgreSQL each placeholder is cast: a VALUES list that is not
    # the INSERT's own source does not take its column types from the table.
    guarded = guard and _db().vendor == "postgresql"
    source, params, stage = _columns_source(
        model, constants, (*keys, *sums), columns, typed=guarded
    )
    sql, guarded_sql = _upsert_sql(
        model, tuple(constants), tuple(keys), tuple(sums), tuple(returning), source, guarded
    )
    return Statement(sql, params, guarded_sql, fetch=bool(returning), stage=stage)


# Parameters per statement for multi-row inserts: under SQLite's 32,766 and PostgreSQL's
# 65,535, and large enough that statement overhead stays small.
MAX_PARAMS = 30_000
# On PostgreSQL, many rows travel with COPY (binary) into a temporary table that the
# statement reads (`_staged_plan`). Rows per statement, and the fewest worth a COPY:
COPY_ROWS = 10_000
COPY_MIN_ROWS = 50

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

# How a column's values are encoded for COPY.
_NATIVE, _JSON, _PREPARED = "native", "json", "prepared"


class _StagedPlan(NamedTuple):
    sql: str
    fields: tuple[models.Field, ...]
    kinds: tuple[str, ...]
    setup: str
    empty: str
    copy: str
    types: tuple[str, ...]


@lru_cache(maxsize=128)
def _staged_plan(
    model: type[models.Model], constants: tuple[str, ...], names: tuple[str, ...]
) -> _StagedPlan:
    """The PostgreSQL form of `_columns_source` for many rows: `SELECT const, ...,
    c0, c1, ... FROM` a temporary table with one column per name, which the rows fill
    with COPY first (`_execute`).

    Binary COPY is the cheapest way to send rows on both sides: psycopg encodes each row
    in C (arrays for `unnest()`, the previous form, went through a Python loop per value,
    and parsing them cost the server about as much again). The table is created once per
    session with ON COMMIT DELETE ROWS, so it is empty at the start of every
    transaction, and it is truncated before a second use in the same one (a DELETE would
    leave dead rows that every later use of a long transaction, such as a replay, would
    scan again). COPY fills it in the given order and the statement reads it back in that
    order, so rows are still written in key order."""
    db = _db()
    fields = tuple(_field(model, name) for name in (*constants, *names))
    scalars = [f"%b::{_cast_type(field, db)}" for field in fields[: len(constants)]]
    kinds: list[str] = []
    types: list[str] = []
    selected: list[str] = []
    for i, field in enumerate(fields[len(constants) :]):
        column = f"c{i}"
        if isinstance(field, models.JSONField):
            kinds.append(_JSON)  # the JSON text, cast when read
            types.append("text")
            selected.append(f"{column}::jsonb")
        else:
            kinds.append(_NATIVE if _native(field) else _PREPARED)
            types.append(_cast_type(field, db))
            selected.append(column)
    definitions = ", ".join(f"c{i} {kind}" for i, kind in enumerate(types))
    spec = f"{model._meta.db_table}({definitions})"
    table = f"pg_temp.trophy_stage_{zlib.crc32(spec.encode()):08x}"
    return _StagedPlan(
        sql=f"SELECT {', '.join([*scalars, *selected])} FROM {table}",
        fields=fields,
        kinds=tuple(kinds),
        setup=(
            f"CREATE TEMP TABLE IF NOT EXISTS {table} ({definitions}) ON COMMIT DELETE ROWS; "
            f"SELECT EXISTS (SELECT FROM {table})"
        ),
        empty=f"TRUNCATE {table}",
        copy=f"COPY {table} FROM STDIN (FORMAT BINARY)",
        # psycopg's names for the column types (numeric(19, 6) -> numeric)
        types=tuple(kind.split("(")[0] for kind in types),
    )


@lru_cache(maxsize=256)
def _values_plan(
    model: type[models.Model],
    constants: tuple[str, ...],
    names: tuple[str, ...],
    count: int,
    typed: bool,
) -> tuple[str, tuple[models.Field, ...]]:
    """The `VALUES` form of `_columns_source` for `count` rows, and its fields."""
    db = _db()
    fields = tuple(_field(model, name) for name in (*constants, *names))
    placeholders = [f"%s::{_cast_type(f, db)}" if typed else "%s" for f in fields]
    row_sql = "(" + ", ".join(placeholders) + ")"
    return f"VALUES {', '.join([row_sql] * count)}", fields


def _columns_source(
    model: type[models.Model],
    constants: Mapping[str, Any],
    names: Sequence[str],
    columns: list[list[Any]],
    *,
    typed: bool = False,
) -> tuple[str, list[Any], Stage | None]:
    """SQL producing rows of the columns `constants` (one value for all rows) then
    `names` (`columns`, one list of values each, all as long), its params, and its
    Stage: on PostgreSQL, for many rows, `SELECT const, ..., c0, ... FROM` a temporary
    table that the Stage's rows fill (`_staged_plan`); otherwise `VALUES (...), ...` and
    no Stage (with `typed`, each placeholder cast to its column's type, for a VALUES
    list that is not directly an INSERT's source)."""
    db = _db()
    count = len(columns[0])
    fixed = list(constants.values())
    if db.vendor == "postgresql" and count >= COPY_MIN_ROWS and not typed:
        plan = _staged_plan(model, tuple(constants), tuple(names))
        scalars = [
            field.get_db_prep_save(value, db)
            for field, value in zip(plan.fields[: len(fixed)], fixed, strict=True)
        ]
        encoded: list[Iterable[Any]] = []
        for field, kind, column in zip(plan.fields[len(fixed) :], plan.kinds, columns, strict=True):
            if kind == _JSON:
                encoded.append(_json_texts(column, field))  # type: ignore[arg-type]
            elif kind == _PREPARED:
                encoded.append([field.get_db_prep_save(v, db) for v in column])
            else:
                encoded.append(column)
        return (
            plan.sql,
            scalars,
            Stage(plan.setup, plan.empty, plan.copy, plan.types, list(zip(*encoded, strict=True))),
        )
    sql, fields = _values_plan(model, tuple(constants), tuple(names), count, typed)
    prep = [f.get_db_prep_save for f in fields]
    params: list[Any] = []
    for row in zip(*columns, strict=True):
        params.extend(p(value, db) for p, value in zip(prep, (*fixed, *row), strict=True))
    return sql, params, None


def _cast_type(field: models.Field, db: BaseDatabaseWrapper) -> str:
    """The type to cast a parameter to for this column. Without the length of a varchar:
    an explicit cast to varchar(n) silently truncates, where inserting into the column
    refuses a value that is too long."""
    cast = field.cast_db_type(db)
    assert cast is not None
    return "varchar" if cast.startswith("varchar(") else cast


def _native(field: models.Field) -> bool:
    target = field.target_field if field.is_relation else field  # type: ignore[attr-defined]
    return target.get_internal_type() in _NATIVE_TYPES


def _json_texts(column: list[Any], field: models.JSONField) -> list[str | None]:
    """The JSON text of each value, as the field would encode it (with its own
    `json_text`, where it has one, for speed); a value object that recurs (an import
    shares one dict among the lines that sent the same attributes) is encoded once."""
    encode = getattr(field, "json_text", None) or partial(json.dumps, cls=field.encoder)
    texts: dict[int, str] = {}
    out: list[str | None] = []
    for value in column:
        if value is None:
            out.append(None)
            continue
        text = texts.get(id(value))
        if text is None:
            text = texts[id(value)] = encode(value)
        out.append(text)
    return out


def _execute(statement: Statement) -> tuple[list[tuple[Any, ...]], int]:
    """Run a statement; return its rows (none unless it `fetch`es) and how many rows it
    wrote. A statement with a Stage, or with `%b` parameters (server-side binding), runs
    on a psycopg cursor of Django's connection, so in its transaction: COPY and `%b`
    need psycopg itself, which bypasses Django's cursor wrapper (query logging), but
    errors are still raised as Django's."""
    db = _db()
    stage = statement.stage
    if stage is None and "%b" not in statement.sql:
        with db.cursor() as cursor:
            cursor.execute(statement.sql, statement.params)
            return _outcome(cursor, statement.fetch)
    import psycopg

    db.ensure_connection()
    # A Stage's COPY and the statement that reads it must share a transaction (the table
    # is emptied at every commit): outside one, they get their own.
    own = transaction.atomic(using=db.alias) if stage and db.get_autocommit() else nullcontext()
    # Django's exception classes, as its own cursors raise them (IntegrityError, ...).
    with own, db.wrap_database_errors, psycopg.Cursor(db.connection) as cursor:
        if stage is not None:
            # Several commands: never a prepared statement, whatever prepare_threshold.
            cursor.execute(stage.setup, prepare=False)
            cursor.nextset()
            if cursor.fetchone() == (True,):  # used earlier in this transaction
                cursor.execute(stage.empty, prepare=False)
            with cursor.copy(stage.copy) as copy:
                copy.set_types(stage.types)
                for row in stage.rows:
                    copy.write_row(row)
        cursor.execute(statement.sql, statement.params)
        return _outcome(cursor, statement.fetch)


def _outcome(cursor: Any, fetch: bool) -> tuple[list[tuple[Any, ...]], int]:
    """A statement's rows (if it `fetch`es) and how many rows it wrote."""
    return ([tuple(r) for r in cursor.fetchall()] if fetch else []), cursor.rowcount


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
    conflict: str | None,
    constants: Mapping[str, Any] | None = None,
    returning: Sequence[str] = ("id",),
) -> list[tuple[Any, ...]]:
    """`insert_rows_ignoring_conflict` for rows given column-wise: `columns` maps field
    names to their values (lists of one length), `constants` fields to the one value
    every row has. With no `returning` columns, one empty tuple per row inserted (the
    count alone, which costs the database and Python nothing per row). With `conflict`
    None, a plain INSERT (a conflicting row is an error)."""
    constants = constants or {}
    names = list(columns)
    values = list(columns.values())
    count = len(values[0]) if values else 0
    if not count:
        return []
    db = _db()
    table = db.ops.quote_name(model._meta.db_table)
    column_sql = ", ".join(_quoted_column(db, model, name) for name in (*constants, *names))
    back = [_field(model, name) for name in returning]
    back_sql = ", ".join(_quoted_column(db, model, name) for name in returning)
    per_statement = (
        COPY_ROWS
        if db.vendor == "postgresql"
        else max(1, MAX_PARAMS // (len(names) + len(constants)))
    )
    out: list[tuple[Any, ...]] = []
    for start in range(0, count, per_statement):
        part = [column[start : start + per_statement] for column in values]
        source, params, stage = _columns_source(model, constants, names, part)
        sql = f"INSERT INTO {table} ({column_sql}) {source}"
        if conflict is not None:
            sql += f" ON CONFLICT {conflict} DO NOTHING"
        if returning:
            sql += f" RETURNING {back_sql}"
        returned, written = _execute(Statement(sql, params, fetch=bool(returning), stage=stage))
        if not returning:
            out.extend([()] * written)
            continue
        out.extend(
            tuple(f.to_python(v) for f, v in zip(back, row, strict=True)) for row in returned
        )
    return out


def replace_rows(
    objs: Sequence[models.Model], *, fields: Sequence[str], unique: Sequence[str]
) -> None:
    """Insert `objs` (their `fields`), replacing the row that conflicts on the `unique`
    columns: `INSERT ... ON CONFLICT (unique) DO UPDATE SET` every other field, one
    statement per row sent together (psycopg pipelines `executemany`).

    Not `bulk_create(update_conflicts=True)`: on PostgreSQL it sends each column as one
    array, and quoting long JSON texts into an array literal (a regular expression per
    character to escape) took 0.9 s of each 1.6 s chunk of 500 Wrapped summaries; this
    takes 0.05 s."""
    if not objs:
        return
    db = _db()
    model = type(objs[0])
    chosen = [_field(model, name) for name in fields]
    columns = [_quoted(db, field) for field in chosen]
    updated = ", ".join(
        f"{column} = excluded.{column}"
        for name, column in zip(fields, columns, strict=True)
        if name not in unique
    )
    conflict = ", ".join(_quoted_column(db, model, name) for name in unique)
    sql = (
        f"INSERT INTO {db.ops.quote_name(model._meta.db_table)} ({', '.join(columns)}) "
        f"VALUES ({', '.join(['%s'] * len(columns))}) "
        f"ON CONFLICT ({conflict}) DO UPDATE SET {updated}"
    )
    rows = [
        [field.get_db_prep_save(getattr(obj, field.attname), db) for field in chosen]
        for obj in objs
    ]
    with db.cursor() as cursor:
        cursor.executemany(sql, rows)
