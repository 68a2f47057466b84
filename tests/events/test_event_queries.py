"""Queries per `POST /v1/metrics/{key}/event`: the hot path's cost, pinned.

Every case first sends one warm-up event with the same client, so the per-process tenant
configuration cache is warm and the API key's `last_used` was just written (it is written
at most once per API_KEY_LAST_USED_RESOLUTION_SECONDS, so a steady stream of requests
never pays for it). The counts below are what a warm server process makes per request.

Repeat user, no user changes, no event attributes: 3 queries on PostgreSQL, 6 on SQLite.
  1. SELECT api key JOIN organization JOIN default tenant (auth: proves the key, and
     brings the tenant with its config_version, so the config cache costs nothing);
  2. SELECT the end user by (tenant, external id) FOR UPDATE: its id, time zone (the
     event's local date), fields (whether the event changes them) and what the engine
     has applied to it (the sequential state the streak is folded into, and its newest
     event). The row lock serialises the user's events with each other and with a
     rebuild of the user, so a rebuild never counts an event twice;
  3. the engine's write, one statement on PostgreSQL (`WITH ins AS (INSERT event ...),
     s0 AS (upsert total), s1 AS (upsert daily rollup), s2 AS (UPDATE the user: its
     sequential state, newest event, stamp) SELECT ...`, engine.record_event); four on
     SQLite, which has no data-modifying CTEs:
     a. INSERT the event ... ON CONFLICT (idempotency key) DO NOTHING RETURNING id (the
        log; also the idempotency check, in the same statement);
     b. only if it was inserted: INSERT ... ON CONFLICT DO UPDATE on the metric total,
        RETURNING the new total (the response's `total`, atomically, without a
        read-modify-write race);
     c. the same upsert on the day's rollup (events and sums per user, metric, local
        day, also per event-attribute value: summaries and Wrapped read these instead of
        the log);
     d. UPDATE the user: the streak folded in (the response's `currentStreak` comes from
        it, with no read), the newest event, the stamp.
New user: one more, INSERT the user ... ON CONFLICT (tenant, external id) DO NOTHING
  (query 2 found nothing; a concurrent creator makes the insert a no-op and we re-read).
Event attributes: no query more; the daily rollup's upsert adds the event to the day's
  sums per attribute value, a column of the same row (events/attribute_sums.py).
User whose fields change: no query more: the changed columns are written by the user
  UPDATE of the write, so only if the event is new (an idempotent repeat changes nothing).
An event after a gap of days, when the streak's run had lasted two days or more: one part
  more in the write, the INSERT of the ended run (a StreakRun, the sequential
  derivation's effect).
Idempotent replay: auth, user, the write whose INSERT conflicts (nothing is written; on
  SQLite nothing after the insert is sent), SELECT the original event's id with the
  current total as a subquery. The streak comes from the user's state: no read.
Tenant-ID header: one more: SELECT the tenant by (organization, customer id).

Django logs the service's `transaction.atomic()` here as SAVEPOINT / RELEASE SAVEPOINT,
because each test runs inside a transaction; in production it is BEGIN / COMMIT, which
Django does not route through its cursor. They are counted (TRANSACTION) but listed apart.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.utils import timezone

from events.models import DailyRollup, EndUser, Event, Metric, MetricTotal, StreakRun, Tenant
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
USER_UPDATE = "UPDATE events_enduser"


def write(*parts: str) -> list[str]:
    """The labels of the engine's write: an event insert, then the inserts (upserts) and
    updates of its derived rows. One statement on PostgreSQL (engine.record_event); on
    SQLite one per part."""
    if connection.vendor == "postgresql":
        return ["WITH " + " + ".join(parts)]
    return [part if part.startswith("UPDATE") else f"INSERT {part}" for part in parts]


DERIVED = ("events_event", "events_metrictotal", "events_dailyrollup")
EVENT_WRITE = write(*DERIVED, USER_UPDATE)


def _label(sql: str) -> str | None:
    """'SELECT events_enduser' for a statement ('WITH a + b' for a statement of
    data-modifying CTEs inserting into a, then b); None for transaction control."""
    text = re.sub(r"^\d+ times: ", "", sql.strip())  # Django's record of an executemany
    verb = text.split(None, 1)[0].upper()
    if verb in {"SAVEPOINT", "RELEASE", "BEGIN", "COMMIT"}:
        return None
    if verb == "WITH":
        # the CTEs' inserts and updates (not the upserts' ON CONFLICT ... DO UPDATE SET)
        parts = re.findall(r"\b(INSERT\s+INTO|AS\s*\(\s*UPDATE)\s+\"?(\w+)\"?", text, re.IGNORECASE)
        return "WITH " + " + ".join(
            table if kind.upper().startswith("INSERT") else f"UPDATE {table}"
            for kind, table in parts
        )
    pattern = {
        "SELECT": r"\bFROM\s+\"?(\w+)\"?",
        "INSERT": r"^INSERT\s+INTO\s+\"?(\w+)\"?",
        "UPDATE": r"^UPDATE\s+\"?(\w+)\"?",
        "DELETE": r"^DELETE\s+FROM\s+\"?(\w+)\"?",
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


def test_new_user_costs_one_insert(warm, queries):
    with queries([AUTH, USER, "INSERT events_enduser", *EVENT_WRITE]):
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


def test_user_whose_fields_change_costs_nothing_more(warm, queries):
    with queries([AUTH, USER, *EVENT_WRITE]):
        response = post(warm, {"user": {"id": "u1", "name": "Ann B."}, "value": 2})

    assert response.status_code == 201
    assert EndUser.objects.get(external_id="u1").name == "Ann B."


def test_an_event_after_a_gap_appends_the_ended_streak_run(warm, queries, settings):
    settings.API_KEY_LAST_USED_RESOLUTION_SECONDS = 10 * 86400  # no key touch after days
    now = timezone.now()
    with time_machine.travel(now + timedelta(days=1)):  # a run of two days
        assert post(warm, {"user": {"id": "u1"}, "value": 1}).status_code == 201
    with (
        time_machine.travel(now + timedelta(days=4)),
        queries([AUTH, USER, *write(*DERIVED, "events_streakrun", USER_UPDATE)]),
    ):
        response = post(warm, {"user": {"id": "u1"}, "value": 2})

    assert response.status_code == 201
    assert response.json()["currentStreak"]["length"] == 1
    assert StreakRun.objects.get().length == 2


def test_a_late_event_recomputes_the_users_sequential_state_from_the_log(warm, queries):
    """An event older than the user's newest: the write marks the state stale, then the
    engine reads the user's events in order, replaces the effect rows and writes the
    state (engine.record._from_log), and the user is read back."""
    yesterday = (timezone.now() - timedelta(days=1)).isoformat()
    with queries(
        [
            AUTH,
            USER,
            *EVENT_WRITE,
            "DELETE events_streakrun",
            "SELECT events_event",
            USER_UPDATE,
            "SELECT events_enduser",
        ]
    ):
        response = post(warm, {"user": {"id": "u1"}, "value": 2, "timestamp": yesterday})

    assert response.status_code == 201
    streak = response.json()["currentStreak"]
    assert streak["length"] == 2 and streak["extended"] is True
    assert not EndUser.objects.get(external_id="u1").sequential_stale


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

    from events.engine import record_event
    from events.ids import uuid7
    from events.selectors.config import tenant_config

    user = EndUser.objects.get(tenant=owner.tenant, external_id="u1")
    now = datetime.now(UTC)
    event = Event(
        id=uuid7(),
        tenant=owner.tenant,
        user=user,
        metric=words,
        value=Decimal(1),
        attributes={"k": "x"},
        timestamp=now,
        local_date=now.date(),
        received_at=now,
        idempotency_key="x" * 256,  # a varchar(255)
    )
    before = (Event.objects.count(), list(DailyRollup.objects.values()))
    with pytest.raises(DataError), transaction.atomic():
        record_event(
            tenant=owner.tenant,
            config=tenant_config(owner.tenant),
            user=user,
            event=event,
            user_fields={},
        )
    assert (Event.objects.count(), list(DailyRollup.objects.values())) == before
