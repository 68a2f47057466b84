"""POST /admin-api/v1/metrics/events (batch events; processed eagerly without a broker)"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from rest_framework.test import APIClient

from events.models import (
    DailyRollup,
    EndUser,
    Event,
    EventBatch,
    MetricTotal,
)
from events.services.admin_config import NewTenant, tenants_create
from events.services.batches import batch_process
from tests.derived import attribute_rows
from tests.factories import AttributeFactory, MetricFactory

URL = "/admin-api/v1/metrics/events"
NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


@pytest.fixture
def send(django_capture_on_commit_callbacks):
    """POST a batch and run what the request enqueued after commit (eagerly, as with no
    broker configured)."""

    def send(client, items, **extra):
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(URL, items, format="json", **extra)

    return send


def event(user="u1", value=1, key="words", **extra):
    return {"key": key, "user": {"id": user}, "value": value, **extra}


def total(user: str, key: str = "words") -> Decimal | None:
    row = MetricTotal.objects.filter(user__external_id=user, metric__key=key).first()
    return None if row is None else row.total


def test_a_batch_is_accepted_with_202_and_processed_after_commit(api, owner, words, send):
    MetricFactory.create(tenant=owner.tenant, key="pages")
    items = [
        {"key": "words", "user": {"id": "u1", "name": "Ann", "tz": "Europe/Paris"}, "value": 10},
        event("u2", 5),
        event("u1", 2.5),
        event("u1", 3, key="pages"),
    ]

    response = send(api, items)

    assert response.status_code == 202, response.json()
    assert response.json() == {"accepted": 4}
    batch = EventBatch.objects.get()
    assert (batch.status, batch.processed, batch.error) == ("done", 4, "")
    assert batch.finished_at is not None
    assert Event.objects.count() == 4
    assert total("u1") == Decimal("12.5") and total("u2") == 5 and total("u1", "pages") == 3
    ann = EndUser.objects.get(tenant=owner.tenant, external_id="u1")
    assert (ann.name, ann.tz) == ("Ann", "Europe/Paris")
    assert DailyRollup.objects.get(user=ann, metric=words).event_count == 2


def test_items_mean_what_a_single_event_means(api, owner, words, send):
    AttributeFactory.create(tenant=owner.tenant, key="source", type="event")
    AttributeFactory.create(tenant=owner.tenant, key="plan", type="user")
    ts = "2026-01-05T23:30:00-05:00"

    send(
        api,
        [
            {
                "key": "words",
                "user": {"id": "u1", "attributes": {"plan": "pro"}},
                "value": 7,
                "attributes": {"source": "web"},
                "timestamp": ts,
            }
        ],
    )

    stored = Event.objects.get()
    assert stored.attributes == {"source": "web"}
    assert stored.timestamp == datetime(2026, 1, 6, 4, 30, tzinfo=UTC)
    assert stored.local_date.isoformat() == "2026-01-06"  # user tz: tenant default, UTC
    assert stored.user.attributes == {"plan": "pro"}
    assert attribute_rows() == [("source", "web", 7, 1)]


def test_idempotency_keys_count_once_inside_a_batch_across_batches_and_single_events(
    api, words, send
):
    send(api, [event(value=5, idempotencyKey="k1"), event(value=5, idempotencyKey="k1")])
    send(api, [event(value=5, idempotencyKey="k1"), event(value=1, idempotencyKey="k2")])
    single = api.post(
        "/v1/metrics/words/event",
        {"user": {"id": "u1"}, "value": 5},
        format="json",
        HTTP_IDEMPOTENCY_KEY="k2",
    )
    # the key is scoped per user: another user may use it
    send(api, [event("u2", value=3, idempotencyKey="k1")])

    assert single.status_code == 202
    assert total("u1") == 6 and total("u2") == 3
    assert Event.objects.count() == 3
    assert set(EventBatch.objects.values_list("status", flat=True)) == {"done"}


@time_machine.travel(NOW, tick=False)
def test_events_without_a_timestamp_get_the_time_the_batch_was_accepted(
    api, words, django_capture_on_commit_callbacks
):
    future = (NOW + timedelta(minutes=4)).isoformat()
    with django_capture_on_commit_callbacks(execute=False):
        response = api.post(URL, [event(), event(value=2, timestamp=future)], format="json")
    assert response.status_code == 202
    batch = EventBatch.objects.get()
    assert Event.objects.count() == 0  # nothing applied before the task runs

    with time_machine.travel(NOW + timedelta(hours=2), tick=False):
        batch_process(batch_id=batch.id)

    first, second = Event.objects.order_by("value")
    assert first.timestamp == NOW and first.received_at == NOW
    # judged against the time of acceptance, a timestamp 4 minutes ahead is still fine
    assert second.timestamp == NOW + timedelta(minutes=4)


BAD_ITEMS = [
    pytest.param(event(value="7"), 400, "[2].value", id="value-not-a-number"),
    pytest.param(event(value=1e13), 422, "[2].value", id="value-out-of-range"),
    pytest.param({"key": "words", "value": 1}, 400, "[2].user", id="no-user"),
    pytest.param(event(user=""), 400, "[2].user.id", id="empty-user-id"),
    pytest.param(
        {"key": "words", "user": {"id": "u9", "tz": "Mars/Olympus"}, "value": 1},
        400,
        "[2].user.tz",
        id="bad-tz",
    ),
    pytest.param({"user": {"id": "u9"}, "value": 1}, 400, "[2].key", id="no-key"),
    pytest.param(event(key="nope"), 404, "'nope'", id="unknown-metric"),
    pytest.param(event(attributes={"color": "red"}), 400, "color", id="undeclared-attribute"),
    pytest.param(
        {"key": "words", "user": {"id": "u9", "attributes": {"plan": "x"}}, "value": 1},
        400,
        "plan",
        id="undeclared-user-attribute",
    ),
    pytest.param(event(timestamp="2999-01-01T00:00:00Z"), 422, "[2]: timestamp", id="future"),
    pytest.param(
        event(timestamp="0001-01-01T00:00:00Z"), 422, "[2].timestamp", id="before-the-calendar"
    ),
    pytest.param(event(value=0.0000001), 422, "[2].value", id="too-many-decimal-places"),
    pytest.param(
        {"key": "words", "user": {"id": "u9", "subscribeToEmails": True}, "value": 1},
        400,
        "[2]: user: subscribeToEmails",
        id="subscribed-without-email",
    ),
    pytest.param(event(idempotencyKey=5), 400, "[2].idempotencyKey", id="numeric-key"),
    # the same rule as an import_events line: one serializer serves both
    pytest.param(event(idempotencyKey=""), 400, "[2].idempotencyKey", id="empty-key"),
    pytest.param("event", 400, "[2]", id="not-an-object"),
]


@pytest.mark.parametrize(("bad", "status", "named"), BAD_ITEMS)
def test_one_bad_item_rejects_the_whole_batch_and_changes_nothing(
    api, words, send, bad, status, named
):
    response = send(api, [event("ok1"), event("ok2"), bad, event("ok3")])

    assert response.status_code == status, response.json()
    assert set(response.json()) == {"error"}
    assert named in response.json()["error"]
    if status == 404:
        assert response.json()["error"].startswith("[2]: Metric")
    assert not EventBatch.objects.exists()
    assert not Event.objects.exists() and not EndUser.objects.exists()


def test_a_subscription_is_judged_with_the_email_an_earlier_item_set(api, owner, words, send):
    """Items are validated as single events sent in the batch's order would be."""
    items = [
        {"key": "words", "user": {"id": "ann", "email": "ann@example.com"}, "value": 1},
        {"key": "words", "user": {"id": "ann", "subscribeToEmails": True}, "value": 1},
        {"key": "words", "user": {"id": "bob", "subscribeToEmails": False}, "value": 1},
        {"key": "words", "user": {"id": "bob", "email": "bob@example.com"}, "value": 1},
        {"key": "words", "user": {"id": "bob", "subscribeToEmails": True}, "value": 1},
    ]
    refused = send(api, items)
    assert refused.status_code == 400 and refused.json()["error"].startswith("[4]: user:")

    accepted = send(api, items[:4])

    assert accepted.status_code == 202
    ann = EndUser.objects.get(external_id="ann")
    assert (ann.email, ann.subscribe_to_emails) == ("ann@example.com", True)
    # Trophy keeps no email of a user who opted out: bob's stays unset.
    assert EndUser.objects.get(external_id="bob").email is None


def test_a_repeated_item_lends_no_email_to_a_later_one(api, owner, words, send):
    """A repeat (its key already in the log, or earlier in the batch) changes nothing at
    processing time, so validating the items after it must not count its fields."""
    first = {"key": "words", "user": {"id": "ann"}, "value": 1, "idempotencyKey": "k"}
    assert send(api, [first]).status_code == 202
    subscribe = {"key": "words", "user": {"id": "ann", "subscribeToEmails": True}, "value": 1}
    with_email = {**first, "user": {"id": "ann", "email": "ann@example.com"}}

    refused = send(api, [with_email, subscribe])
    in_batch = send(
        api, [{**first, "idempotencyKey": "k2"}, {**with_email, "idempotencyKey": "k2"}, subscribe]
    )

    assert refused.status_code == 400 and refused.json()["error"].startswith("[1]: user:")
    assert in_batch.status_code == 400 and in_batch.json()["error"].startswith("[2]: user:")
    assert EndUser.objects.get(external_id="ann").email is None


def test_a_duplicate_item_changes_nothing_of_its_user(api, owner, words, send):
    first = {
        "key": "words",
        "user": {"id": "ann", "name": "Ann"},
        "value": 1,
        "idempotencyKey": "k",
    }
    repeat = {**first, "user": {"id": "ann", "name": "Changed", "tz": "Asia/Tokyo"}}

    assert send(api, [first, repeat]).status_code == 202
    assert send(api, [repeat]).status_code == 202

    user = EndUser.objects.get(external_id="ann")
    assert (user.name, user.tz) == ("Ann", None)
    assert Event.objects.count() == 1


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (event(), 400),
        ("words", 400),
        (None, 400),
        ([], 422),
        ([event(f"u{n}") for n in range(1001)], 422),
    ],
)
def test_a_body_that_is_not_an_array_of_1_to_1000_items_is_rejected(api, words, send, body, status):
    response = send(api, body)

    assert response.status_code == status
    assert set(response.json()) == {"error"}
    assert not EventBatch.objects.exists() and not Event.objects.exists()


def test_a_batch_of_1000_items_is_accepted(api, words, send):
    response = send(api, [event(f"u{n % 10}") for n in range(1000)])

    assert response.status_code == 202
    assert response.json() == {"accepted": 1000}
    assert Event.objects.count() == 1000
    assert MetricTotal.objects.get(user__external_id="u3").total == 100


@pytest.mark.parametrize("key", [None, "abcdefgh.wrong"])
def test_without_a_valid_key_it_is_a_401(words, send, key):
    client = APIClient()
    if key:
        client.credentials(HTTP_X_API_KEY=key)

    response = send(client, [event()])

    assert response.status_code == 401
    assert set(response.json()) == {"error"}
    assert not EventBatch.objects.exists()


def test_tenant_id_selects_the_tenant_and_its_metrics(owner, outsider, words, send):
    other = tenants_create(
        organization=owner.organization, items=[NewTenant(index=0, customer_id="c1", name="C1")]
    ).done[0]
    MetricFactory.create(tenant=other, key="words")
    MetricFactory.create(tenant=outsider.tenant, key="theirs")

    accepted = send(owner.client(tenant_id="c1"), [event(value=4)])
    foreign = send(owner.client(), [event(key="theirs")])
    unknown = send(owner.client(tenant_id="nope"), [event()])

    assert accepted.status_code == 202
    stored = Event.objects.get()
    assert stored.tenant == other and stored.user.tenant == other
    assert foreign.status_code == 404 and unknown.status_code == 404
    assert EventBatch.objects.count() == 1


def test_a_metric_created_through_the_admin_api_takes_batch_events_at_once(api, send):
    api.post("/admin-api/v1/metrics", [{"key": "steps", "name": "Steps"}], format="json")

    response = send(api, [event(key="steps", value=3)])

    assert response.status_code == 202
    assert total("u1", "steps") == 3


def test_get_is_not_allowed_and_answers_with_an_error_body(api):
    response = api.get(URL)

    assert response.status_code == 405
    assert set(response.json()) == {"error"}
