"""POST /v1/metrics/{key}/event"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.db import IntegrityError, connection, transaction

from events.api.import_lines import import_lines
from events.models import DailyRollup, EndUser, Event, MetricTotal
from tests.derived import attribute_rows
from tests.factories import AttributeFactory

URL = "/v1/metrics/{}/event"


def post(client, key="words", body=None, **headers):
    return client.post(URL.format(key), body, format="json", **headers)


def test_first_event_creates_user_event_total_and_rollup(api, owner, words):
    response = post(api, body={"user": {"id": "u1", "name": "Ann"}, "value": 750})

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["total"] == 750 and isinstance(body["total"], int)
    assert body["metricId"] == str(words.id)
    assert body["achievements"] == [] and body["points"] == {} and body["leaderboards"] == {}
    assert "idempotencyKey" not in body and "idempotentReplayed" not in body
    event = Event.objects.get()
    assert str(event.id) == body["eventId"] and event.value == Decimal(750)
    user = EndUser.objects.get(tenant=owner.tenant, external_id="u1")
    assert user.name == "Ann"
    assert MetricTotal.objects.get(user=user, metric=words).total == 750
    rollup = DailyRollup.objects.get(user=user, metric=words)
    assert (rollup.total, rollup.event_count, rollup.local_date) == (750, 1, event.local_date)


def test_values_add_up_including_negative_and_fractional(api, words):
    for value in (10, -2.5, 0.25):
        response = post(api, body={"user": {"id": "u1"}, "value": value})
        assert response.status_code == 201
    assert response.json()["total"] == 7.75
    assert MetricTotal.objects.get().event_count == 3


@time_machine.travel(datetime(2026, 3, 10, 23, 30, tzinfo=UTC), tick=False)
def test_local_date_uses_the_users_timezone(api, words):
    post(api, body={"user": {"id": "tokyo", "tz": "Asia/Tokyo"}, "value": 1})
    post(api, body={"user": {"id": "utc"}, "value": 1})

    assert Event.objects.get(user__external_id="tokyo").local_date.isoformat() == "2026-03-11"
    assert Event.objects.get(user__external_id="utc").local_date.isoformat() == "2026-03-10"


@time_machine.travel(datetime(2026, 3, 10, 12, 0, tzinfo=UTC), tick=False)
def test_default_daily_streak_counts_consecutive_active_days(api, words):
    for day in (7, 8, 9):
        ts = datetime(2026, 3, day, 12, tzinfo=UTC).isoformat()
        post(api, body={"user": {"id": "u1"}, "value": 1, "timestamp": ts})

    first_today = post(api, body={"user": {"id": "u1"}, "value": 1}).json()["currentStreak"]
    second_today = post(api, body={"user": {"id": "u1"}, "value": 1}).json()["currentStreak"]

    assert first_today == {
        "length": 4,
        "frequency": "daily",
        "started": "2026-03-07",
        "periodStart": "2026-03-10",
        "periodEnd": "2026-03-10",
        "expires": "2026-03-11",
        "extended": True,
    }
    assert second_today["length"] == 4 and second_today["extended"] is False


@time_machine.travel(datetime(2026, 3, 10, 12, 0, tzinfo=UTC), tick=False)
def test_streak_not_extended_today_expires_tonight_and_breaks_after_a_gap(api, words):
    ts = datetime(2026, 3, 9, 12, tzinfo=UTC).isoformat()
    yesterday = post(api, body={"user": {"id": "u1"}, "value": 1, "timestamp": ts}).json()
    assert yesterday["currentStreak"]["length"] == 1
    assert yesterday["currentStreak"]["expires"] == "2026-03-10"
    assert yesterday["currentStreak"]["extended"] is True

    old = datetime(2026, 3, 1, 12, tzinfo=UTC).isoformat()
    gap = post(api, body={"user": {"id": "u2"}, "value": 1, "timestamp": old}).json()
    assert gap["currentStreak"]["length"] == 0
    assert gap["currentStreak"]["started"] is None and gap["currentStreak"]["expires"] is None
    assert gap["currentStreak"]["extended"] is False


def _active_days(owner, words, user_id, days):
    """One event on each day, recorded through the engine's bulk path (an import)."""
    lines = [
        json.dumps(
            {"key": words.key, "user": {"id": user_id}, "value": 1, "timestamp": f"{day}T12:00:00Z"}
        )
        for day in days
    ]
    assert import_lines(tenant=owner.tenant, lines=lines).imported == len(days)


@time_machine.travel(datetime(2026, 3, 10, 12, 0, tzinfo=UTC), tick=False)
def test_a_long_streak_is_carried_in_the_users_state(api, owner, words):
    """The streak is the sequential state the engine keeps, not a walk over active days:
    200 days imported, then one event today."""
    post(api, body={"user": {"id": "u1"}, "value": 1, "timestamp": "2025-01-01T12:00:00Z"})
    today = datetime(2026, 3, 10).date()
    _active_days(owner, words, "u1", [today - timedelta(days=n) for n in range(1, 201)])

    streak = post(api, body={"user": {"id": "u1"}, "value": 1}).json()["currentStreak"]

    assert streak["length"] == 201 and streak["extended"] is True
    assert streak["started"] == (today - timedelta(days=200)).isoformat()


@time_machine.travel(datetime(2026, 3, 10, 12, 0, tzinfo=UTC), tick=False)
def test_back_dated_event_older_than_the_first_page_joins_two_runs(api, owner, words):
    post(api, body={"user": {"id": "u1"}, "value": 1, "timestamp": "2025-01-01T12:00:00Z"})
    today = datetime(2026, 3, 10).date()
    # Active today and the 124 days before, not on day -125, active on days -126..-130.
    days = [today - timedelta(days=n) for n in [*range(0, 125), *range(126, 131)]]
    _active_days(owner, words, "u1", days)
    before = post(api, body={"user": {"id": "u1"}, "value": 1}).json()["currentStreak"]
    gap = (today - timedelta(days=125)).isoformat()

    filled = post(
        api, body={"user": {"id": "u1"}, "value": 1, "timestamp": f"{gap}T12:00:00Z"}
    ).json()["currentStreak"]
    again = post(
        api, body={"user": {"id": "u1"}, "value": 1, "timestamp": f"{gap}T13:00:00Z"}
    ).json()["currentStreak"]

    assert before["length"] == 125 and before["extended"] is False
    assert filled["length"] == 131 and filled["extended"] is True
    assert filled["started"] == (today - timedelta(days=130)).isoformat()
    assert again["length"] == 131 and again["extended"] is False


def test_idempotent_replay_returns_202_and_changes_nothing(api, words):
    first = post(api, body={"user": {"id": "u1"}, "value": 5}, HTTP_IDEMPOTENCY_KEY="k1")
    replay = post(api, body={"user": {"id": "u1"}, "value": 99}, HTTP_IDEMPOTENCY_KEY="k1")

    assert first.status_code == 201 and replay.status_code == 202
    assert first.json()["idempotentReplayed"] is False
    body = replay.json()
    assert body["idempotentReplayed"] is True and body["idempotencyKey"] == "k1"
    assert body["eventId"] == first.json()["eventId"]
    assert body["total"] == 5 and body["currentStreak"]["extended"] is False
    assert Event.objects.count() == 1 and MetricTotal.objects.get().total == 5


def test_an_idempotent_replay_changes_nothing_of_the_user_either(api, owner, words):
    """The user object sent with a repeat is not applied: a repeat changes nothing."""
    AttributeFactory(tenant=owner.tenant, key="plan", type="user")
    sent = {"id": "u1", "name": "Ann", "tz": "Europe/Paris", "attributes": {"plan": "free"}}
    assert post(api, body={"user": sent, "value": 5}, HTTP_IDEMPOTENCY_KEY="k1").status_code == 201
    user = EndUser.objects.get()
    before = (user.name, user.tz, user.attributes, user.updated, user.derived_stamp)
    changed = {"id": "u1", "name": "Bob", "tz": "Asia/Tokyo", "attributes": {"plan": "pro"}}

    replay = post(api, body={"user": changed, "value": 5}, HTTP_IDEMPOTENCY_KEY="k1")

    assert replay.status_code == 202
    user.refresh_from_db()
    assert (user.name, user.tz, user.attributes, user.updated, user.derived_stamp) == before
    # A new event with the same user object does change it.
    assert post(api, body={"user": changed, "value": 1}).status_code == 201
    user.refresh_from_db()
    assert (user.name, user.tz, user.attributes) == ("Bob", "Asia/Tokyo", {"plan": "pro"})


def test_idempotency_key_is_scoped_to_user_and_metric(api, owner, words):
    from tests.factories import MetricFactory

    MetricFactory(tenant=owner.tenant, key="lessons")
    assert (
        post(api, body={"user": {"id": "u1"}, "value": 1}, HTTP_IDEMPOTENCY_KEY="k").status_code
        == 201
    )
    assert (
        post(api, body={"user": {"id": "u2"}, "value": 1}, HTTP_IDEMPOTENCY_KEY="k").status_code
        == 201
    )
    assert (
        post(
            api, "lessons", {"user": {"id": "u1"}, "value": 1}, HTTP_IDEMPOTENCY_KEY="k"
        ).status_code
        == 201
    )
    assert Event.objects.count() == 3


def test_event_attributes_are_rolled_up_per_value(api, owner, words):
    AttributeFactory(tenant=owner.tenant, key="source", type="event")
    post(api, body={"user": {"id": "u1"}, "value": 3, "attributes": {"source": "mobile"}})
    post(api, body={"user": {"id": "u1"}, "value": 4, "attributes": {"source": "mobile"}})
    post(api, body={"user": {"id": "u1"}, "value": 5, "attributes": {"source": "web"}})

    rows = {item: (total, count) for _key, item, total, count in attribute_rows()}
    assert rows == {"mobile": (7, 2), "web": (5, 1)}


def test_event_updates_supplied_user_fields_only(api, owner, words):
    AttributeFactory(tenant=owner.tenant, key="plan", type="user")
    post(
        api, body={"user": {"id": "u1", "name": "Ann", "attributes": {"plan": "free"}}, "value": 1}
    )
    post(api, body={"user": {"id": "u1", "tz": "Europe/Paris"}, "value": 1})

    user = EndUser.objects.get(external_id="u1")
    assert (user.name, user.tz, user.attributes) == ("Ann", "Europe/Paris", {"plan": "free"})


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        ({"user": {"id": "u1"}, "value": "5"}, 400, "value"),
        ({"user": {"id": "u1"}, "value": True}, 400, "value"),
        ({"user": {"id": "u1"}}, 400, "value"),
        ({"value": 1}, 400, "user"),
        ({"user": {"id": 5}, "value": 1}, 400, "user.id"),
        ({"user": {"id": "u1", "tz": "Mars/Base"}, "value": 1}, 400, "user.tz"),
        ({"user": {"id": "u1"}, "value": 1e13}, 422, "value"),
        (
            {"user": {"id": "u1"}, "value": 1, "attributes": {"nope": "x"}},
            400,
            "Invalid attribute keys: nope",
        ),
        (
            {"user": {"id": "u1", "attributes": {"nope": "x"}}, "value": 1},
            400,
            "Invalid attribute keys",
        ),
        ({"user": {"id": "u1"}, "value": 1, "timestamp": "yesterday"}, 400, "timestamp"),
        ({"user": {"id": "u1", "subscribeToEmails": True}, "value": 1}, 400, "subscribeToEmails"),
        ([1, 2], 400, "Expected a dictionary, but got list."),
    ],
)
def test_bad_input_is_rejected_with_a_clear_error_and_changes_nothing(
    api, words, body, status, fragment
):
    response = post(api, body=body)

    assert response.status_code == status, response.json()
    assert fragment in response.json()["error"]
    assert Event.objects.count() == 0 and EndUser.objects.count() == 0


def test_malformed_json_and_nan_are_400(api, words):
    for raw in ('{"user": {"id": "u1"}, "value": NaN}', '{"user": '):
        response = api.post(URL.format("words"), raw, content_type="application/json")
        assert response.status_code == 400
        assert "error" in response.json()
    assert Event.objects.count() == 0


def test_timestamp_more_than_five_minutes_ahead_is_422(api, words):
    future = (datetime.now(UTC) + timedelta(minutes=6)).isoformat()
    response = post(api, body={"user": {"id": "u1"}, "value": 1, "timestamp": future})
    assert response.status_code == 422 and "timestamp" in response.json()["error"]
    assert Event.objects.count() == 0


def test_unknown_metric_is_404(api, words):
    response = post(api, "nope", {"user": {"id": "u1"}, "value": 1})
    assert response.status_code == 404 and "nope" in response.json()["error"]


def test_another_tenants_metric_is_404(outsider, words):
    response = post(outsider.client(), body={"user": {"id": "u1"}, "value": 1})
    assert response.status_code == 404
    assert Event.objects.count() == 0


def test_missing_or_invalid_key_is_401(client, words):
    assert client.post(URL.format("words"), {}, content_type="application/json").status_code == 401
    response = client.post(
        URL.format("words"), {}, content_type="application/json", HTTP_X_API_KEY="abcdefgh.nope"
    )
    assert response.status_code == 401 and response.json() == {"error": "Invalid API key."}


def test_timestamp_without_an_offset_is_400_and_an_offset_is_honoured(api, words):
    naive = post(api, body={"user": {"id": "u1"}, "value": 1, "timestamp": "2026-01-01T23:30:00"})
    assert naive.status_code == 400 and "timestamp" in naive.json()["error"]
    assert Event.objects.count() == 0

    # 23:30 at UTC-05:00 is 04:30 UTC the next day; a UTC user's local date is that day.
    ok = post(
        api, body={"user": {"id": "u1"}, "value": 1, "timestamp": "2026-01-01T23:30:00-05:00"}
    )
    assert ok.status_code == 201
    event = Event.objects.get()
    assert event.timestamp == datetime(2026, 1, 2, 4, 30, tzinfo=UTC)
    assert event.local_date.isoformat() == "2026-01-02"


def test_the_event_log_keeps_a_database_constraint_on_its_user(owner, words):
    """The log's tenant and metric have no database constraint (events/models/log.py);
    its user does: an event for a user that does not exist is refused."""
    now = datetime.now(UTC)
    with pytest.raises(IntegrityError), transaction.atomic():
        Event.objects.create(
            tenant=owner.tenant,
            user_id=987654321,
            metric=words,
            value=1,
            timestamp=now,
            local_date=now.date(),
            received_at=now,
        )
        connection.check_constraints(table_names=[Event._meta.db_table])


@pytest.mark.parametrize(
    "value",
    [
        "2026-01-17T12:21:55Z",
        "2026-01-17T12:21:55.250+05:30",
        "2026-01-17 12:21:55-08:00",
        "20260117T122155Z",
    ],
)
def test_timestamps_with_an_offset_parse_as_drf_would(value):
    """The event timestamp's direct parse of an ISO 8601 string with an offset gives what
    DRF's DateTimeField gives: the same instant, in UTC."""
    from rest_framework import serializers

    from events.api.serializers import OffsetDateTimeField

    ours = OffsetDateTimeField().run_validation(value)

    assert ours == serializers.DateTimeField().run_validation(value)
    assert ours.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    "value",
    [
        "2026-01-17T12:21:55",
        "2026-01-17",
        "2026-13-01T00:00:00Z",
        "yesterday",
        17,
        "0001-01-01T00:00:00+01:00",  # before year 1 in UTC
        "9999-12-31T23:59:59-01:00",  # after year 9999 in UTC
    ],
)
def test_timestamps_without_an_offset_invalid_or_out_of_range_are_refused(value):
    from rest_framework import serializers

    from events.api.serializers import OffsetDateTimeField

    with pytest.raises(serializers.ValidationError):
        OffsetDateTimeField().run_validation(value)


def test_an_out_of_range_timestamp_is_a_400_not_a_crash(api, words):
    body = {"user": {"id": "u1"}, "value": 1, "timestamp": "0001-01-01T00:00:00+01:00"}
    response = post(api, body=body)
    assert response.status_code == 400 and "timestamp" in response.json()["error"]
    assert not Event.objects.exists()
