"""The bulk writes of derived rows and events (`events/db/sql.py`, `events/engine/additive.py`):
many rows at once, on PostgreSQL sent with COPY into a temporary table that the
statement reads, elsewhere as a VALUES list."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import DataError, transaction
from django.utils import timezone

from events.db import sql
from events.engine import IDEMPOTENCY_CONFLICT, REGISTRY, additive
from events.ids import uuid7_many
from events.models import DailyRollup, EndUser, Event, MetricTotal
from events.numbers import compact
from tests.derived import apply_contributions, attribute_rows
from tests.factories import EndUserFactory

DAY = date(2026, 3, 1)


def new_user(owner) -> EndUser:
    user = EndUserFactory(tenant=owner.tenant)
    assert isinstance(user, EndUser)
    return user


def contributions(user: EndUser, metric_id, count: int, days: int = 7) -> list[tuple]:
    """`count` events over `days` days and 2 attribute values, with whole and fractional
    values (ints and Decimals, as an import sends them)."""
    out = []
    for i in range(count):
        value = compact(Decimal(i % 9) - Decimal("2.25") * (i % 2))
        day = DAY + timedelta(days=i % days)
        out.append((user.pk, metric_id, day, value, {"k": f"v{i % 2}"}))
    return out


def expected(rows: list[tuple]) -> dict[str, dict]:
    """What the derived tables must hold, added up here without the code under test."""
    totals: dict = {}
    daily: dict = {}
    by_attribute: dict = {}
    for _user, metric_id, day, value, attributes in rows:
        for table, key in ((totals, metric_id), (daily, day)):
            total, count = table.get(key, (Decimal(0), 0))
            table[key] = (total + value, count + 1)
        for name, item in attributes.items():
            total, count = by_attribute.get((day, name, item), (Decimal(0), 0))
            by_attribute[(day, name, item)] = (total + value, count + 1)
    return {"totals": totals, "daily": daily, "by_attribute": by_attribute}


def stored(user: EndUser) -> dict[str, dict]:
    return {
        "totals": {
            m: (t, n)
            for m, t, n in MetricTotal.objects.filter(user=user).values_list(
                "metric_id", "total", "event_count"
            )
        },
        "daily": {
            d: (t, n)
            for d, t, n in DailyRollup.objects.filter(user=user).values_list(
                "local_date", "total", "event_count"
            )
        },
        "by_attribute": {
            (d, k, v): (t, n) for d, k, v, t, n in attribute_rows("local_date", user=user)
        },
    }


def test_compact_keeps_the_number_and_makes_whole_ones_ints():
    assert compact(Decimal("750.000000")) == 750 and type(compact(Decimal("750.000000"))) is int
    assert compact(Decimal("-3")) == -3 and type(compact(Decimal("-3"))) is int
    assert compact(Decimal("0.000000")) == 0
    half = compact(Decimal("2.500000"))
    assert half == Decimal("2.5") and isinstance(half, Decimal)
    tiny = compact(Decimal("-0.000001"))
    assert tiny == Decimal("-0.000001") and isinstance(tiny, Decimal)


def test_many_rows_add_up_exactly_with_whole_and_fractional_values(owner, words):
    user = new_user(owner)
    rows = contributions(user, words.pk, 400, days=150)
    assert {type(row[3]) for row in rows} == {int, Decimal}

    apply_contributions(owner.tenant.pk, rows[:250])
    apply_contributions(owner.tenant.pk, rows[250:])

    assert stored(user) == expected(rows)


def test_several_bulk_statements_for_one_table_in_one_transaction(owner, words, monkeypatch):
    """More rows than one statement takes: each statement reads only its own rows (on
    PostgreSQL the temporary table is emptied before each COPY)."""
    monkeypatch.setattr(additive, "COPY_ROWS", 60)
    monkeypatch.setattr(additive, "CHUNK", 60)
    user = new_user(owner)
    # one day per event: 300 daily and 300 attribute rows, 5 statements each
    rows = [
        (user.pk, words.pk, DAY + timedelta(days=i), compact(Decimal(i)), {"k": "v"})
        for i in range(300)
    ]

    with transaction.atomic():
        apply_contributions(owner.tenant.pk, rows)
        apply_contributions(owner.tenant.pk, rows[:100])

    assert stored(user) == expected(rows + rows[:100])


@pytest.mark.postgres  # SQLite does not enforce a varchar's length
def test_a_bulk_write_refuses_an_over_long_value_and_writes_nothing(owner, words):
    """A value longer than its column is an error, never cut short; the transaction's
    rows are all rolled back."""
    user = new_user(owner)
    count = 100
    keys = [f"key-{i}" for i in range(count)]
    keys[57] = "x" * 256  # the column is a varchar(255)
    now = timezone.now()

    with pytest.raises(DataError), transaction.atomic():
        sql.insert_columns_ignoring_conflict(
            Event,
            constants={"tenant": owner.tenant.pk, "received_at": now},
            columns={
                "id": uuid7_many(count),
                "user": [user.pk] * count,
                "metric": [words.pk] * count,
                "value": [1] * count,
                "attributes": [{}] * count,
                "timestamp": [now] * count,
                "local_date": [now.date()] * count,
                "idempotency_key": keys,
            },
            conflict=IDEMPOTENCY_CONFLICT,
            returning=(),
        )

    assert not Event.objects.exists()


@pytest.mark.postgres  # SQLite does not enforce a numeric's precision
def test_a_failing_bulk_derived_write_rolls_back_every_table(owner, words):
    """A day's sum that overflows the rollups' numeric(28, 6) fails the COPY of the daily
    rows, after the totals' statement has succeeded (the two values cancel out in the
    total): nothing of either stays."""
    user = new_user(owner)
    rows = contributions(user, words.pk, 100, days=100)
    rows[57] = (*rows[57][:3], Decimal("1e22"), rows[57][4])
    rows[58] = (*rows[58][:3], Decimal("-1e22"), rows[58][4])

    with pytest.raises(DataError), transaction.atomic():
        apply_contributions(owner.tenant.pk, rows)

    assert not DailyRollup.objects.exists()
    assert not MetricTotal.objects.exists()


@pytest.mark.postgres
def test_many_rows_travel_with_copy_on_postgresql(owner, words):
    user = new_user(owner)
    statements = additive.upsert_statements(
        owner.tenant.pk,
        REGISTRY.additive,
        contributions(user, words.pk, sql.COPY_MIN_ROWS, days=sql.COPY_MIN_ROWS),
        returning=False,
    )
    # the total (one row) as a VALUES list; the daily rows from a COPY
    assert [s.stage is not None for s in statements] == [False, True]
    assert all("FROM pg_temp." in s.sql for s in statements[1:])


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_bulk_write_outside_a_transaction_gets_one_of_its_own(owner, words):
    """The COPY and the statement that reads its rows share a transaction even when the
    caller holds none (the temporary table is emptied at every commit)."""
    user = new_user(owner)
    rows = contributions(user, words.pk, 120, days=120)

    apply_contributions(owner.tenant.pk, rows)

    assert stored(user) == expected(rows)


@pytest.mark.postgres
def test_bulk_writes_work_whatever_the_prepare_threshold(owner, words):
    """The temporary table's set-up is several commands, which must never be prepared
    (psycopg prepares everything at prepare_threshold 0)."""
    from django.db import connection

    user = new_user(owner)
    rows = contributions(user, words.pk, 120, days=120)
    connection.ensure_connection()
    raw = connection.connection
    before = raw.prepare_threshold
    raw.prepare_threshold = 0
    try:
        apply_contributions(owner.tenant.pk, rows)
        apply_contributions(owner.tenant.pk, rows)
    finally:
        raw.prepare_threshold = before

    assert stored(user) == expected(rows + rows)


def test_replace_rows_inserts_new_rows_and_replaces_conflicting_ones(owner, words):
    ann, bob = new_user(owner), new_user(owner)
    MetricTotal.objects.create(
        tenant=owner.tenant, user=ann, metric=words, total=Decimal(1), event_count=1
    )
    rows = [
        MetricTotal(
            tenant=owner.tenant, user=user, metric=words, total=Decimal(total), event_count=2
        )
        for user, total in ((ann, "7.5"), (bob, "3"))
    ]

    sql.replace_rows(
        rows, fields=("tenant", "user", "metric", "total", "event_count"), unique=("user", "metric")
    )

    assert sorted(
        MetricTotal.objects.filter(metric=words).values_list("user_id", "total", "event_count")
    ) == sorted([(ann.pk, Decimal("7.5"), 2), (bob.pk, Decimal(3), 2)])
