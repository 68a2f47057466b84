"""Queries per `POST /v1/metrics/{key}/event`: the hot path's cost, pinned.

Every case first sends one warm-up event with the same client, so the per-process tenant
configuration cache is warm and the API key's `last_used` was just written (it is written
at most once per API_KEY_LAST_USED_RESOLUTION_SECONDS, so a steady stream of requests
never pays for it). The counts below are what a warm server process makes per request.

Repeat user, no user changes, no event attributes: 3 queries on PostgreSQL, 6 on SQLite.
  1. SELECT api key JOIN organization JOIN default tenant (auth: proves the key, and
     brings the tenant with its config_version, so the config cache costs nothing);
  2. SELECT the end user by (tenant, external id) FOR UPDATE (its id, timezone for the
     event's local date, and its fields to tell whether the event changes them; the row
     lock serialises the user's events with each other and with a replay of the user,
     so a replay never counts an event twice);
  3. the write, one statement on PostgreSQL (`WITH ins AS (INSERT event ...), s0 AS
     (upsert total), s1 AS (upsert daily rollup) SELECT ..., active days`,
     derived.insert_and_apply); four on SQLite, which has no data-modifying CTEs:
     a. INSERT the event ... ON CONFLICT (idempotency key) DO NOTHING RETURNING id (the
        log; also the idempotency check, in the same statement);
     b. only if it was inserted: SELECT the user's active days from the rollups as they
        were before this event, newest first, one page of 120 (the response's
        `currentStreak`, and whether this event extended it; the event is counted in
        afterwards);
     c. INSERT ... ON CONFLICT DO UPDATE on the metric total, RETURNING the new total
        (the response's `total`, atomically, without a read-modify-write race);
     d. the same upsert on the day's rollup (events and sums per user, metric, local
        day, also per event-attribute value: summaries, streaks and Wrapped read these
        instead of the log).
New user: one more, INSERT the user ... ON CONFLICT (tenant, external id) DO NOTHING
  (query 2 found nothing; a concurrent creator makes the insert a no-op and we re-read),
  and one less, the streak read: a user created by this event has exactly one active
  day, the event's, so the streak is known without reading.
Event attributes: no query more; the daily rollup's upsert adds the event to the day's
  sums per attribute value, a column of the same row (events/attribute_sums.py).
User whose fields change: one more: UPDATE only the changed columns (the row is
  already locked, so attributes merge safely). Unchanged fields (the common case) write
  nothing.
Idempotent replay: auth, user, the write whose INSERT conflicts (nothing is written or
  read; on SQLite nothing after the insert is sent), SELECT the original event's id with
  the current total as a subquery, and the streak read.
Tenant-ID header: one more: SELECT the tenant by (organization, customer id).

Django logs the service's `transaction.atomic()` here as SAVEPOINT / RELEASE SAVEPOINT,
because each test runs inside a transaction; in production it is BEGIN / COMMIT, which
Django does not route through its cursor. They are counted (TRANSACTION) but listed apart.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.db import connection

from events.models import DailyRollup, EndUser, Event, Metric, MetricTotal, Tenant
from tests.factories import AttributeFactory

URL = "/v1/metrics/words/event"
# SAVEPOINT and RELEASE SAVEPOINT around the service's transaction (see module docstring).
TRANSACTION = 2

AUTH = "SELECT events_apikey"
# The event path reads the user under its row lock (FOR UPDATE; SQLite has no row locks
# and Django leaves the clause out there).
USER = "SELECT events_enduser" + (
    " FOR UPDATE" if connection.features.has_select_for_update else ""
)
STREAK = "SELECT events_dailyrollup"


def write(*tables: str, streak: bool = True) -> list[str]:
    """The labels of an event insert, the upserts of its derived rows and (with
    `streak`) the streak's read of the rollups: one statement on PostgreSQL
    (derived.insert_and_apply); on SQLite the insert, the read, then one upsert per table."""
    if connection.vendor == "postgresql":
        return ["WITH " + " + ".join(tables) + (f" + {STREAK}" if streak else "")]
    event, *upserts = tables
    return [f"INSERT {event}", *([STREAK] if streak else []), *(f"INSERT {t}" for t in upserts)]


DERIVED = ("events_event", "events_metrictotal", "events_dailyrollup")
EVENT_WRITE = write(*DERIVED)


def _label(sql: str) -> str | None:
    """'SELECT events_enduser' for a statement ('WITH a + b' for a statement of
    data-modifying CTEs inserting into a, then b); None for transaction control."""
    text = sql.strip()
    verb = text.split(None, 1)[0].upper()
    if verb in {"SAVEPOINT", "RELEASE", "BEGIN", "COMMIT"}:
        return None
    if verb == "WITH":
        tables = re.findall(r"\bINSERT\s+INTO\s+\"?(\w+)\"?", text, re.IGNORECASE)
        reads = re.findall(r"\bFROM\s+\"?(events_\w+)\"?", text, re.IGNORECASE)
        return "WITH " + " + ".join([*tables, *(f"SELECT {table}" for table in reads)])
    pattern = {
        "SELECT": r"\bFROM\s+\"?(\w+)\"?",
        "INSERT": r"^INSERT\s+INTO\s+\"?(\w+)\"?",
        "UPDATE": r"^UPDATE\s+\"?(\w+)\"?",
    }[verb]
    # Name the statement by its outer table: drop parenthesised subqueries first.
    outer = text
    while (shorter := re.sub(r"\([^()]*\)", "", outer)) != outer:
        outer = shorter
    match = re.search(pattern, outer, re.IGNORECASE)
    assert match, text
    suffix = " FOR UPDATE" if re.search(r"\bFOR UPDATE\b", text) else ""
    return f"{verb} {match.group(1)}{suffix}"


@pytest.fixture
def queries(django_assert_num_queries: Any) -> Any:
    """`with queries([...]):` asserts the exact number of queries (the statements listed
    plus TRANSACTION) and that they are these statements, in this order."""

    @contextmanager
    def expect(statements: list[str]) -> Iterator[None]:
        with django_assert_num_queries(len(statements) + TRANSACTION) as captured:
            yield
        labels = [_label(q["sql"]) for q in captured.captured_queries]
        assert [label for label in labels if label is not None] == statements

    return expect


def post(client: Any, body: dict[str, Any], **headers: str) -> Any:
    return client.post(URL, body, format="json", **headers)


@pytest.fixture
def warm(api, words):
    """The owner's client after one event from user "u1" (warm config cache, fresh
    `last_used`), so each case measures what a running server pays per request."""
    assert post(api, {"user": {"id": "u1", "name": "Ann"}, "value": 1}).status_code == 201
    return api


def test_repeat_user_without_attributes(warm, queries):
    with queries([AUTH, USER, *EVENT_WRITE]):
        response = post(warm, {"user": {"id": "u1"}, "value": 2})

    assert response.status_code == 201
    assert response.json()["total"] == 3
    assert Event.objects.count() == 2


def test_repeat_user_sending_unchanged_fields_writes_no_user(warm, queries):
    with queries([AUTH, USER, *EVENT_WRITE]):
        response = post(warm, {"user": {"id": "u1", "name": "Ann"}, "value": 2})

    assert response.status_code == 201


def test_new_user_costs_one_insert_and_no_streak_read(warm, queries):
    with queries([AUTH, USER, "INSERT events_enduser", *write(*DERIVED, streak=False)]):
        response = post(warm, {"user": {"id": "u2", "email": "b@example.com"}, "value": 5})

    assert response.status_code == 201
    assert response.json()["total"] == 5
    assert EndUser.objects.get(external_id="u2").email == "b@example.com"


def test_event_attributes_cost_no_statement_more(warm, owner, queries):
    AttributeFactory(tenant=owner.tenant, key="device", type="event")
    AttributeFactory(tenant=owner.tenant, key="plan", type="event")
    owner.tenant.bump_config_version()
    # The version changed: the first request after it reloads the config (2 queries).
    post(warm, {"user": {"id": "u1"}, "value": 1})
    attributes = {"device": "ios", "plan": "pro"}

    with queries(
        [
            AUTH,
            USER,
            *EVENT_WRITE,
        ]
    ):
        response = post(warm, {"user": {"id": "u1"}, "value": 2, "attributes": attributes})

    assert response.status_code == 201
    # The sums per attribute value travel in the daily rollup's row (the day's earlier
    # events carried no attributes).
    assert DailyRollup.objects.get(user__external_id="u1").by_attribute == {
        "device": {"ios": [2, 1]},
        "plan": {"pro": [2, 1]},
    }


def test_user_whose_fields_change_costs_one_update_more(warm, queries):
    with queries(
        [
            AUTH,
            USER,
            "UPDATE events_enduser",
            *EVENT_WRITE,
        ]
    ):
        response = post(warm, {"user": {"id": "u1", "name": "Ann B."}, "value": 2})

    assert response.status_code == 201
    assert EndUser.objects.get(external_id="u1").name == "Ann B."


def test_idempotent_replay_writes_nothing(warm, queries):
    first = post(warm, {"user": {"id": "u1"}, "value": 2}, HTTP_IDEMPOTENCY_KEY="k1")
    assert first.status_code == 201

    with queries(
        [
            AUTH,
            USER,
            # The insert conflicts: nothing is written (on PostgreSQL the upserts in the
            # same statement find no inserted row; on SQLite they are not sent).
            *(EVENT_WRITE if connection.vendor == "postgresql" else ["INSERT events_event"]),
            "SELECT events_event",  # the original id, with the total as a subquery
            STREAK,
        ]
    ):
        replay = post(warm, {"user": {"id": "u1"}, "value": 2}, HTTP_IDEMPOTENCY_KEY="k1")

    assert replay.status_code == 202
    assert replay.json()["eventId"] == first.json()["eventId"]
    assert replay.json()["total"] == 3
    assert MetricTotal.objects.get().event_count == 2


def test_tenant_id_header_costs_one_tenant_read_more(warm, owner, queries):
    other = Tenant.objects.create(organization=owner.organization, customer_id="eu", name="EU")
    Metric.objects.create(tenant=other, key="words", name="Words written")
    client = owner.client(tenant_id="eu")
    post(client, {"user": {"id": "u1"}, "value": 1})  # warm this tenant's config

    with queries([AUTH, "SELECT events_tenant", USER, *EVENT_WRITE]):
        response = post(client, {"user": {"id": "u1"}, "value": 2})

    assert response.status_code == 201
    assert response.json()["total"] == 3
    assert Event.objects.filter(tenant=other).count() == 2


@pytest.mark.postgres
def test_postgresql_prepares_the_event_paths_statements(warm):
    """With the default settings each statement of the event path is parsed and planned
    once per connection (settings.prepared_statement_options), not once per event."""
    if not connection.settings_dict["OPTIONS"].get("prepare_threshold"):
        pytest.skip("DATABASE_PREPARED_STATEMENTS=0")
    for n in range(6):
        response = post(warm, {"user": {"id": "u1"}, "value": 1}, HTTP_IDEMPOTENCY_KEY=f"p{n}")
        assert response.status_code == 201

    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [row[0] for row in cursor.fetchall()]

    assert any('FROM "events_apikey"' in sql for sql in prepared)
    assert any('FROM "events_enduser"' in sql and "FOR UPDATE" in sql for sql in prepared)
    assert any(sql.startswith('WITH ins AS (INSERT INTO "events_event"') for sql in prepared)


@pytest.mark.postgres
def test_the_write_statement_refuses_an_over_long_value_instead_of_truncating(warm, owner, words):
    """A value too long for its column is an error, never cut short, and nothing of the
    event is written (the API refuses such values before this)."""
    from datetime import UTC, datetime
    from decimal import Decimal

    from django.db import DataError, transaction

    from events.services.derived import insert_and_apply
    from events.services.events import IDEMPOTENCY_CONFLICT

    user = EndUser.objects.get(tenant=owner.tenant, external_id="u1")
    now = datetime.now(UTC)
    event = Event(
        tenant=owner.tenant,
        user=user,
        metric=words,
        value=Decimal(1),
        attributes={},
        timestamp=now,
        local_date=now.date(),
        received_at=now,
        idempotency_key="x" * 256,  # a varchar(255)
    )
    before = (Event.objects.count(), list(DailyRollup.objects.values()))
    with pytest.raises(DataError), transaction.atomic():
        insert_and_apply(
            event,
            conflict=IDEMPOTENCY_CONFLICT,
            tenant_id=owner.tenant.id,
            contribution=(user.pk, words.pk, now.date(), Decimal(1), {"k": "x"}),
        )
    assert (Event.objects.count(), list(DailyRollup.objects.values())) == before
