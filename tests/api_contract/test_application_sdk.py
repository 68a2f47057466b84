"""The Application API (/v1/) driven through the official `trophy` SDK against a live server.

Every response is parsed by the SDK's own types and its raw body validated against
Trophy's OpenAPI files (see conftest.Recorder); tests add what the wire must say.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from trophy import (
    BadRequestError,
    NotFoundError,
    NotificationPreferences,
    StreakPreferences,
    UnauthorizedError,
    UnprocessableEntityError,
    UpsertedUser,
)
from trophy.core.api_error import ApiError

from events.models import EndUser, Event, MetricTotal
from events.services.organizations import organization_create

from .conftest import Recorder

pytestmark = pytest.mark.django_db(transaction=True)


# --- POST /v1/metrics/{key}/event -------------------------------------------------------


def test_event_through_sdk_creates_user_and_returns_event_response(
    trophy, recorder: Recorder, owner, words, device_attribute
):
    response = trophy.metrics.event(
        "words",
        user=UpsertedUser(id="u1", name="Ann", tz="Europe/London"),
        value=750,
        attributes={"device": "mobile"},
    )

    assert recorder.last.status == 201
    assert response.metric_id == str(words.id)
    assert response.total == 750
    assert response.achievements == [] and response.points == {} and response.leaderboards == {}
    assert response.current_streak.length == 1 and response.current_streak.extended is True
    assert response.idempotency_key is None and response.idempotent_replayed is None
    body = recorder.last.body
    assert isinstance(body, dict) and "idempotencyKey" not in body
    event = Event.objects.get()
    assert str(event.id) == response.event_id and event.value == Decimal(750)
    assert event.attributes == {"device": "mobile"}
    user = EndUser.objects.get(tenant=owner.tenant, external_id="u1")
    assert (user.name, user.tz) == ("Ann", "Europe/London")


def test_event_with_idempotency_key_is_created_once_and_replayed_with_202(
    trophy, recorder: Recorder, words
):
    first = trophy.metrics.event(
        "words", user=UpsertedUser(id="u1"), value=5, idempotency_key="key-1"
    )
    assert recorder.last.status == 201
    assert (first.idempotency_key, first.idempotent_replayed) == ("key-1", False)

    replay = trophy.metrics.event(
        "words", user=UpsertedUser(id="u1"), value=5, idempotency_key="key-1"
    )

    assert recorder.last.status == 202
    assert (replay.idempotency_key, replay.idempotent_replayed) == ("key-1", True)
    assert replay.event_id == first.event_id
    assert replay.total == 5 and replay.current_streak.extended is False
    assert replay.achievements == [] and replay.points == {} and replay.leaderboards == {}
    assert Event.objects.count() == 1
    assert MetricTotal.objects.get().total == 5


def test_same_idempotency_key_on_another_user_is_a_new_event(trophy, recorder: Recorder, words):
    trophy.metrics.event("words", user=UpsertedUser(id="u1"), value=1, idempotency_key="k")
    other = trophy.metrics.event("words", user=UpsertedUser(id="u2"), value=2, idempotency_key="k")

    assert recorder.last.status == 201 and other.idempotent_replayed is False
    assert other.total == 2 and Event.objects.count() == 2


def test_event_for_unknown_metric_raises_sdk_error_with_404(trophy, recorder: Recorder):
    # The SDK maps only 400/401/422 for this endpoint; a 404 arrives as its base ApiError.
    with pytest.raises(ApiError) as caught:
        trophy.metrics.event("no-such-metric", user=UpsertedUser(id="u1"), value=1)

    assert caught.value.status_code == 404
    assert "error" in caught.value.body
    assert not EndUser.objects.exists()


def test_event_with_undeclared_attribute_raises_bad_request(trophy, words):
    with pytest.raises(BadRequestError) as caught:
        trophy.metrics.event("words", user=UpsertedUser(id="u1"), value=1, attributes={"nope": "x"})

    assert "nope" in caught.value.body["error"]
    assert not Event.objects.exists()


@pytest.mark.parametrize("value", [2e12, -2e12, 1e30, 1.7976931348623157e308])
def test_event_value_out_of_range_raises_unprocessable(trophy, words, value):
    # 1e30 and up once overflowed Decimal quantization and answered 500 (schemathesis).
    with pytest.raises(UnprocessableEntityError) as caught:
        trophy.metrics.event("words", user=UpsertedUser(id="u1"), value=value)

    assert "value" in caught.value.body["error"]
    assert not Event.objects.exists()


# --- users ------------------------------------------------------------------------------


def test_create_user_returns_201_user(trophy, recorder: Recorder, owner, plan_attribute):
    user = trophy.users.create(
        id="u1",
        email="ann@example.com",
        name="Ann",
        tz="America/New_York",
        device_tokens=["t1"],
        subscribe_to_emails=True,
        attributes={"plan": "pro"},
    )

    assert recorder.last.status == 201
    assert (user.id, user.email, user.name, user.tz) == (
        "u1",
        "ann@example.com",
        "Ann",
        "America/New_York",
    )
    assert user.device_tokens == ["t1"] and user.attributes == {"plan": "pro"}
    assert user.subscribe_to_emails is True and user.control is False
    stored = EndUser.objects.get(tenant=owner.tenant, external_id="u1")
    assert stored.email == "ann@example.com" and stored.attributes == {"plan": "pro"}


def test_create_existing_user_is_rejected_and_changes_nothing(trophy, owner):
    trophy.users.create(id="u1", name="Ann")

    with pytest.raises((BadRequestError, UnprocessableEntityError)) as caught:
        trophy.users.create(id="u1", name="Bob")

    assert "error" in caught.value.body
    assert EndUser.objects.get(external_id="u1").name == "Ann"


def test_get_user_returns_the_stored_user(trophy, recorder: Recorder):
    trophy.users.create(id="u1", name="Ann")

    user = trophy.users.get("u1")

    assert recorder.last.status == 200
    assert user.id == "u1" and user.name == "Ann"
    assert user.created is not None and user.updated is not None


def test_get_unknown_user_is_404(trophy):
    with pytest.raises(ApiError) as caught:
        trophy.users.get("ghost")

    assert caught.value.status_code == 404 and "error" in caught.value.body


def test_identify_creates_then_updates_only_the_fields_sent(trophy, recorder: Recorder):
    created = trophy.users.identify("u1", name="Ann", tz="Asia/Tokyo")
    assert recorder.last.status == 200 and created.name == "Ann"

    updated = trophy.users.identify("u1", email="ann@example.com")

    assert recorder.last.status == 200
    assert (updated.name, updated.tz, updated.email) == ("Ann", "Asia/Tokyo", "ann@example.com")
    assert EndUser.objects.count() == 1


def test_update_changes_an_existing_user(trophy, recorder: Recorder):
    trophy.users.create(id="u1", name="Ann", device_tokens=["a"])

    user = trophy.users.update("u1", name="Annie", device_tokens=["b", "c"])

    assert recorder.last.status == 200
    assert user.name == "Annie" and user.device_tokens == ["b", "c"]
    assert EndUser.objects.get(external_id="u1").device_tokens == ["b", "c"]


def test_update_unknown_user_raises_not_found(trophy):
    with pytest.raises(NotFoundError):
        trophy.users.update("ghost", name="Nobody")

    assert not EndUser.objects.exists()


def test_invalid_timezone_raises_bad_request(trophy):
    with pytest.raises(BadRequestError) as caught:
        trophy.users.create(id="u1", tz="Mars/Olympus_Mons")

    assert "tz" in caught.value.body["error"]
    assert not EndUser.objects.exists()


# --- preferences ------------------------------------------------------------------------


def test_preferences_start_empty_and_patch_merges_notification_types(trophy, recorder: Recorder):
    trophy.users.create(id="u1")
    initial = trophy.users.get_preferences("u1")
    assert recorder.last.status == 200
    assert initial.notifications.achievement_completed is None

    trophy.users.update_preferences(
        "u1", notifications=NotificationPreferences(recap=["email"], streak_reminder=["push"])
    )
    result = trophy.users.update_preferences("u1", notifications=NotificationPreferences(recap=[]))

    assert recorder.last.status == 200
    assert result.notifications.recap == []
    assert result.notifications.streak_reminder == ["push"]
    assert trophy.users.get_preferences("u1").notifications.streak_reminder == ["push"]


def test_streak_enabled_preference_round_trips(trophy):
    trophy.users.create(id="u1")

    result = trophy.users.update_preferences("u1", streak=StreakPreferences(enabled=False))

    assert result.streak is not None and result.streak.enabled is False
    assert EndUser.objects.get(external_id="u1").streak_enabled is False


def test_preferences_of_unknown_user_raise_not_found(trophy):
    with pytest.raises(NotFoundError):
        trophy.users.get_preferences("ghost")
    with pytest.raises(NotFoundError):
        trophy.users.update_preferences("ghost", notifications=NotificationPreferences(recap=[]))


# --- user metrics -----------------------------------------------------------------------


def test_user_metrics_list_every_active_metric_with_the_users_total(
    trophy, recorder: Recorder, owner, words
):
    from events.models import Metric

    Metric.objects.create(tenant=owner.tenant, key="pages", name="Pages")
    trophy.metrics.event("words", user=UpsertedUser(id="u1"), value=12.5)

    metrics = trophy.users.all_metrics("u1")

    assert recorder.last.status == 200
    by_key = {m.key: m for m in metrics}
    assert set(by_key) == {"words", "pages"}
    assert by_key["words"].current == 12.5 and by_key["words"].id == str(words.id)
    assert by_key["pages"].current == 0
    assert all(m.achievements == [] for m in metrics)


def test_single_user_metric(trophy, recorder: Recorder, words):
    trophy.metrics.event("words", user=UpsertedUser(id="u1"), value=3)

    metric = trophy.users.single_metric("u1", "words")

    assert recorder.last.status == 200
    assert (metric.key, metric.name, metric.current) == ("words", "Words written", 3)


def test_user_metric_unknown_user_or_metric_raises_not_found(trophy, words):
    trophy.users.create(id="u1")
    with pytest.raises(NotFoundError):
        trophy.users.all_metrics("ghost")
    with pytest.raises(NotFoundError):
        trophy.users.single_metric("u1", "no-such-metric")
    with pytest.raises(NotFoundError):
        trophy.users.single_metric("ghost", "words")


# --- event summary ----------------------------------------------------------------------


def _backfill(trophy, days_and_values: list[tuple[datetime, float]]) -> None:
    """The SDK has no `timestamp` (a service extension): send it as an extra body field."""
    for moment, value in days_and_values:
        trophy.metrics.event(
            "words",
            user=UpsertedUser(id="u1"),
            value=value,
            request_options={"additional_body_parameters": {"timestamp": moment.isoformat()}},
        )


def test_event_summary_daily_weekly_monthly(trophy, recorder: Recorder, words):
    today = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    # Two events 40 days ago, one 10 days ago.
    _backfill(
        trophy,
        [
            (today - timedelta(days=40), 100),
            (today - timedelta(days=40), 50),
            (today - timedelta(days=10), 25),
        ],
    )
    start = (today - timedelta(days=45)).date()
    end = today.date()

    daily = trophy.users.metric_event_summary(
        "u1", "words", aggregation="daily", start_date=start.isoformat(), end_date=end.isoformat()
    )
    assert recorder.last.status == 200
    assert len(daily) == 46 and daily[0].date == start.isoformat()
    by_date = {d.date: d for d in daily}
    forty = (today - timedelta(days=40)).date().isoformat()
    assert (by_date[forty].change, by_date[forty].total) == (150, 150)
    assert daily[-1].total == 175 and sum(d.change for d in daily) == 175

    weekly = trophy.users.metric_event_summary(
        "u1", "words", aggregation="weekly", start_date=start.isoformat(), end_date=end.isoformat()
    )
    assert all(datetime.fromisoformat(w.date).weekday() == 0 for w in weekly)
    assert weekly[-1].total == 175 and sum(w.change for w in weekly) == 175

    monthly = trophy.users.metric_event_summary(
        "u1", "words", aggregation="monthly", start_date=start.isoformat(), end_date=end.isoformat()
    )
    assert all(m.date.endswith("-01") for m in monthly)
    assert monthly[-1].total == 175


def test_event_summary_bad_range_raises_unprocessable(trophy, words):
    trophy.users.create(id="u1")

    with pytest.raises(UnprocessableEntityError) as caught:
        trophy.users.metric_event_summary(
            "u1", "words", aggregation="daily", start_date="2026-02-01", end_date="2026-01-01"
        )

    assert "startDate" in caught.value.body["error"]


def test_event_summary_unknown_user_raises_not_found(trophy, words):
    with pytest.raises(NotFoundError):
        trophy.users.metric_event_summary(
            "ghost", "words", aggregation="daily", start_date="2026-01-01", end_date="2026-01-31"
        )


# --- authentication and tenancy ---------------------------------------------------------


def test_wrong_api_key_raises_unauthorized_on_every_operation(sdk_factory, owner, words):
    prefix = owner.key.split(".")[0]
    bad = sdk_factory(prefix + ".not-the-right-body-at-all-000000000000")
    calls = [
        lambda: bad.metrics.event("words", user=UpsertedUser(id="u1"), value=1),
        lambda: bad.users.create(id="u1"),
        lambda: bad.users.identify("u1", name="x"),
        lambda: bad.users.update("u1", name="x"),
        lambda: bad.users.get_preferences("u1"),
        lambda: bad.users.update_preferences("u1", notifications=NotificationPreferences()),
        lambda: bad.users.all_metrics("u1"),
        lambda: bad.users.single_metric("u1", "words"),
        lambda: bad.users.metric_event_summary(
            "u1", "words", aggregation="daily", start_date="2026-01-01", end_date="2026-01-02"
        ),
    ]
    for call in calls:
        with pytest.raises(UnauthorizedError) as caught:
            call()
        assert "error" in caught.value.body
    # GET /users/{id} maps no 401 in the SDK: its base error carries the status.
    with pytest.raises(ApiError) as caught_get:
        bad.users.get("u1")
    assert caught_get.value.status_code == 401
    assert not EndUser.objects.exists()


def test_unknown_tenant_id_is_404(sdk_factory, owner, words):
    client = sdk_factory(owner.key, tenant_id="no-such-tenant")

    with pytest.raises(ApiError) as caught:
        client.metrics.event("words", user=UpsertedUser(id="u1"), value=1)

    assert caught.value.status_code == 404 and "Tenant-ID" in caught.value.body["error"]


def test_another_organizations_user_is_not_visible(trophy, sdk_factory, words):
    trophy.users.create(id="u1", name="Ann")
    _, other_key = organization_create(name="Other Co")
    other = sdk_factory(other_key)

    with pytest.raises(ApiError) as caught:
        other.users.get("u1")
    assert caught.value.status_code == 404
    with pytest.raises(NotFoundError):
        other.users.update("u1", name="Mallory")
    assert EndUser.objects.get(external_id="u1").name == "Ann"
