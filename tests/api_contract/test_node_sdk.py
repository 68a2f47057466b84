"""The Application API (/v1/) driven through the official Node SDK `@trophyso/node` against
a live server, as test_application_sdk.py drives the Python SDK: a response must satisfy
both (SEMANTICS A6; /work/shared/spec/SDK-DIFFERENCES.md lists where they differ).

The SDK parses every response with its own runtime schemas: a missing required key, a
null or a wrong JSON type is a ParseError, which `NodeSdk.call` and `NodeSdk.error` turn
into a failure showing the SDK's text. Every raw body is also checked against Trophy's
OpenAPI files (node_sdk.NodeSdk.run). Values come back as the SDK returned them, in JSON:
camelCase keys, and dates (which the SDK parsed into `Date`s) as ISO strings.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from events.models import EndUser, Event, Metric, MetricTotal, Tenant
from tests.conftest import Account

from .node_sdk import NodeSdk, Outcome

pytestmark = pytest.mark.django_db(transaction=True)


def assert_sdk_error(outcome: Outcome, error_class: str, status: int) -> str:
    """The typed error the SDK raised, with Trophy's error body; returns its message."""
    assert (outcome.error_class, outcome.status_code) == (error_class, status), outcome.describe()
    assert isinstance(outcome.body, dict) and isinstance(outcome.body.get("error"), str), (
        outcome.describe()
    )
    return outcome.body["error"]


# --- POST /v1/metrics/{key}/event -------------------------------------------------------


def test_event_creates_the_user_and_returns_an_event_response(
    node: NodeSdk, owner, words, device_attribute
):
    response = node.call(
        "metrics.event",
        "words",
        {
            "user": {"id": "u1", "name": "Ann", "tz": "Europe/London"},
            "value": 750,
            "attributes": {"device": "mobile"},
        },
    )

    assert node.last.status == 201
    assert response["metricId"] == str(words.id) and response["total"] == 750
    assert response["achievements"] == [] and response["points"] == {}
    assert response["leaderboards"] == {}
    assert response["currentStreak"]["length"] == 1
    assert response["currentStreak"]["extended"] is True
    assert "idempotencyKey" not in response and "idempotentReplayed" not in response
    event = Event.objects.get()
    assert str(event.id) == response["eventId"] and event.value == Decimal(750)
    assert event.attributes == {"device": "mobile"}
    user = EndUser.objects.get(tenant=owner.tenant, external_id="u1")
    assert (user.name, user.tz) == ("Ann", "Europe/London")


def test_event_with_idempotency_key_is_created_once_and_replayed_with_202(node: NodeSdk, words):
    request = {"idempotencyKey": "key-1", "user": {"id": "u1"}, "value": 5}

    first, replay = node.run(
        ("metrics.event", "words", request), ("metrics.event", "words", request)
    )

    assert first.ok and replay.ok, first.describe() + "\n" + replay.describe()
    assert [e.status for e in first.exchanges + replay.exchanges] == [201, 202]
    assert (first.value["idempotencyKey"], first.value["idempotentReplayed"]) == ("key-1", False)
    assert (replay.value["idempotencyKey"], replay.value["idempotentReplayed"]) == ("key-1", True)
    assert replay.value["eventId"] == first.value["eventId"]
    assert replay.value["total"] == 5 and replay.value["currentStreak"]["extended"] is False
    assert Event.objects.count() == 1
    assert MetricTotal.objects.get().total == 5


def test_event_for_unknown_metric_is_404_as_the_sdks_base_error(node: NodeSdk):
    # metrics.event maps only 400/401/422 to typed errors; a 404 is its base TrophyApiError.
    outcome = node.error("metrics.event", "no-such-metric", {"user": {"id": "u1"}, "value": 1})

    assert_sdk_error(outcome, "TrophyApiError", 404)
    assert not EndUser.objects.exists()


def test_event_with_undeclared_attribute_raises_bad_request(node: NodeSdk, words):
    outcome = node.error(
        "metrics.event", "words", {"user": {"id": "u1"}, "value": 1, "attributes": {"nope": "x"}}
    )

    assert "nope" in assert_sdk_error(outcome, "BadRequestError", 400)
    assert not Event.objects.exists()


@pytest.mark.parametrize("value", [1e13, -1e13, 1e30])
def test_event_value_out_of_range_raises_unprocessable(node: NodeSdk, words, value):
    outcome = node.error("metrics.event", "words", {"user": {"id": "u1"}, "value": value})

    assert "value" in assert_sdk_error(outcome, "UnprocessableEntityError", 422)
    assert not Event.objects.exists()


# --- users ------------------------------------------------------------------------------


def test_create_user_returns_201_user(node: NodeSdk, owner, plan_attribute):
    user = node.call(
        "users.create",
        {
            "id": "u1",
            "email": "ann@example.com",
            "name": "Ann",
            "tz": "America/New_York",
            "deviceTokens": ["t1"],
            "subscribeToEmails": True,
            "attributes": {"plan": "pro"},
        },
    )

    assert node.last.status == 201
    assert (user["id"], user["email"], user["name"], user["tz"]) == (
        "u1",
        "ann@example.com",
        "Ann",
        "America/New_York",
    )
    assert user["deviceTokens"] == ["t1"] and user["attributes"] == {"plan": "pro"}
    assert user["subscribeToEmails"] is True and user["control"] is False
    # The SDK parsed both into Dates (serialized back as ISO strings here).
    assert datetime.fromisoformat(user["created"]) <= datetime.fromisoformat(user["updated"])
    stored = EndUser.objects.get(tenant=owner.tenant, external_id="u1")
    assert stored.email == "ann@example.com" and stored.attributes == {"plan": "pro"}


def test_create_existing_user_is_rejected_and_changes_nothing(node: NodeSdk):
    node.call("users.create", {"id": "u1", "name": "Ann"})

    outcome = node.error("users.create", {"id": "u1", "name": "Bob"})

    assert "already exists" in assert_sdk_error(outcome, "UnprocessableEntityError", 422)
    assert EndUser.objects.get(external_id="u1").name == "Ann"


def test_invalid_timezone_raises_bad_request(node: NodeSdk):
    outcome = node.error("users.create", {"id": "u1", "tz": "Mars/Olympus_Mons"})

    assert "tz" in assert_sdk_error(outcome, "BadRequestError", 400)
    assert not EndUser.objects.exists()


def test_get_user_returns_the_stored_user(node: NodeSdk):
    created, got = node.run(
        ("users.create", {"id": "u1", "name": "Ann", "attributes": {}}), ("users.get", "u1")
    )

    assert created.ok and got.ok, created.describe() + "\n" + got.describe()
    assert got.exchanges[-1].status == 200
    user = got.value
    assert (user["id"], user["name"], user["control"]) == ("u1", "Ann", False)
    assert user["created"] == created.value["created"]
    assert user["attributes"] == {} and user["subscribeToEmails"] is True


def test_identify_creates_then_updates_only_the_fields_sent(node: NodeSdk):
    created, updated = node.run(
        ("users.identify", "u1", {"name": "Ann", "tz": "Asia/Tokyo"}),
        ("users.identify", "u1", {"email": "ann@example.com"}),
    )

    assert created.ok and updated.ok, created.describe() + "\n" + updated.describe()
    assert [e.status for e in created.exchanges + updated.exchanges] == [200, 200]
    assert created.value["name"] == "Ann"
    assert (updated.value["name"], updated.value["tz"], updated.value["email"]) == (
        "Ann",
        "Asia/Tokyo",
        "ann@example.com",
    )
    assert EndUser.objects.count() == 1


def test_update_changes_an_existing_user(node: NodeSdk):
    node.call("users.create", {"id": "u1", "name": "Ann", "deviceTokens": ["a"]})

    user = node.call("users.update", "u1", {"name": "Annie", "deviceTokens": ["b", "c"]})

    assert node.last.status == 200
    assert user["name"] == "Annie" and user["deviceTokens"] == ["b", "c"]
    stored = EndUser.objects.get(external_id="u1")
    assert (stored.name, stored.device_tokens) == ("Annie", ["b", "c"])


# --- preferences ------------------------------------------------------------------------


def test_preferences_start_empty_and_patch_merges_notification_types(node: NodeSdk):
    node.call("users.create", {"id": "u1"})

    initial, _, merged, read = node.run(
        ("users.getPreferences", "u1"),
        (
            "users.updatePreferences",
            "u1",
            {"notifications": {"recap": ["email"], "streakReminder": ["push"]}},
        ),
        ("users.updatePreferences", "u1", {"notifications": {"recap": []}}),
        ("users.getPreferences", "u1"),
    )

    assert all(e.status == 200 for e in node.exchanges[1:])
    assert initial.ok and initial.value["notifications"].get("achievementCompleted") is None
    assert merged.ok, merged.describe()
    assert merged.value["notifications"]["recap"] == []
    assert merged.value["notifications"]["streakReminder"] == ["push"]
    assert read.value["notifications"] == merged.value["notifications"]
    stored = EndUser.objects.get(external_id="u1").notification_preferences
    assert stored["recap"] == [] and stored["streak_reminder"] == ["push"]


# --- user metrics -----------------------------------------------------------------------


def test_all_metrics_list_every_active_metric_with_status_and_the_users_total(
    node: NodeSdk, owner, words
):
    Metric.objects.create(tenant=owner.tenant, key="pages", name="Pages")
    Metric.objects.create(tenant=owner.tenant, key="old", name="Old", status="archived")
    node.call("metrics.event", "words", {"user": {"id": "u1"}, "value": 12.5})

    metrics = node.call("users.allMetrics", "u1")

    assert node.last.status == 200
    by_key = {m["key"]: m for m in metrics}
    assert set(by_key) == {"words", "pages"}
    assert by_key["words"]["current"] == 12.5 and by_key["words"]["id"] == str(words.id)
    assert by_key["pages"]["current"] == 0
    assert all(m["status"] == "active" and m["achievements"] == [] for m in metrics)


def test_single_metric_has_status_and_the_users_total(node: NodeSdk, words):
    node.call("metrics.event", "words", {"user": {"id": "u1"}, "value": 3})

    metric = node.call("users.singleMetric", "u1", "words")

    assert node.last.status == 200
    assert (metric["id"], metric["key"], metric["name"]) == (
        str(words.id),
        "words",
        "Words written",
    )
    assert (metric["status"], metric["current"], metric["achievements"]) == ("active", 3, [])


# --- event summary ----------------------------------------------------------------------


def test_event_summary_daily_weekly_monthly(node: NodeSdk, owner: Account, words):
    # The SDK sends no `timestamp` (a service extension; it strips unknown request keys),
    # so back-dated events go through the API directly.
    today = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    api = owner.client()
    for days_ago, value in [(40, 100), (40, 50), (10, 25)]:
        moment = (today - timedelta(days=days_ago)).isoformat()
        body = {"user": {"id": "u1"}, "value": value, "timestamp": moment}
        assert api.post("/v1/metrics/words/event", body, format="json").status_code == 201
    start, end = (today - timedelta(days=45)).date(), today.date()
    dates = {"startDate": start.isoformat(), "endDate": end.isoformat()}

    daily, weekly, monthly = node.run(
        *[
            ("users.metricEventSummary", "u1", "words", {"aggregation": aggregation, **dates})
            for aggregation in ("daily", "weekly", "monthly")
        ]
    )

    for outcome in (daily, weekly, monthly):
        assert outcome.ok and outcome.exchanges[-1].status == 200, outcome.describe()
    assert len(daily.value) == 46 and daily.value[0]["date"] == start.isoformat()
    forty = (today - timedelta(days=40)).date().isoformat()
    by_date = {d["date"]: d for d in daily.value}
    assert (by_date[forty]["change"], by_date[forty]["total"]) == (150, 150)
    assert daily.value[-1]["total"] == 175 and sum(d["change"] for d in daily.value) == 175
    assert all(date.fromisoformat(w["date"]).weekday() == 0 for w in weekly.value)
    assert weekly.value[-1]["total"] == 175 and sum(w["change"] for w in weekly.value) == 175
    assert all(m["date"].endswith("-01") for m in monthly.value)
    assert monthly.value[-1]["total"] == 175


def test_event_summary_bad_range_raises_unprocessable(node: NodeSdk, words):
    node.call("users.create", {"id": "u1"})

    outcome = node.error(
        "users.metricEventSummary",
        "u1",
        "words",
        {"aggregation": "daily", "startDate": "2026-02-01", "endDate": "2026-01-01"},
    )

    assert "startDate" in assert_sdk_error(outcome, "UnprocessableEntityError", 422)


# --- not found: unknown user, unknown metric, another organization's user ----------------

SUMMARY = {"aggregation": "daily", "startDate": "2026-01-01", "endDate": "2026-01-31"}


def test_unknown_user_is_404_on_every_user_operation(node: NodeSdk, words):
    get, *typed = node.run(
        ("users.get", "ghost"),
        ("users.update", "ghost", {"name": "Nobody"}),
        ("users.getPreferences", "ghost"),
        ("users.updatePreferences", "ghost", {"notifications": {"recap": []}}),
        ("users.allMetrics", "ghost"),
        ("users.singleMetric", "ghost", "words"),
        ("users.metricEventSummary", "ghost", "words", SUMMARY),
    )

    # users.get maps no 404 to a typed error: the SDK's base error carries the status.
    assert_sdk_error(get, "TrophyApiError", 404)
    for outcome in typed:
        assert_sdk_error(outcome, "NotFoundError", 404)
    assert not EndUser.objects.exists()


def test_unknown_metric_is_404(node: NodeSdk, words):
    node.call("users.create", {"id": "u1"})

    single, summary = node.run(
        ("users.singleMetric", "u1", "no-such-metric"),
        ("users.metricEventSummary", "u1", "no-such-metric", SUMMARY),
    )

    assert_sdk_error(single, "NotFoundError", 404)
    assert_sdk_error(summary, "NotFoundError", 404)


def test_another_organizations_user_is_not_visible(
    node: NodeSdk, node_factory, outsider: Account, words
):
    node.call("users.create", {"id": "u1", "name": "Ann"})
    node.call("metrics.event", "words", {"user": {"id": "u1"}, "value": 7})
    other = node_factory(outsider.key)

    get, update, preferences, metrics, event = other.run(
        ("users.get", "u1"),
        ("users.update", "u1", {"name": "Mallory"}),
        ("users.getPreferences", "u1"),
        ("users.allMetrics", "u1"),
        ("metrics.event", "words", {"user": {"id": "u1"}, "value": 1}),
    )

    assert_sdk_error(get, "TrophyApiError", 404)
    for outcome in (update, preferences, metrics):
        assert_sdk_error(outcome, "NotFoundError", 404)
    assert_sdk_error(event, "TrophyApiError", 404)  # the outsider has no "words" metric
    assert EndUser.objects.get(external_id="u1").name == "Ann"
    assert not EndUser.objects.filter(tenant=outsider.tenant).exists()
    assert Event.objects.count() == 1


# --- authentication and tenancy ---------------------------------------------------------


def test_wrong_api_key_raises_unauthorized_on_every_operation(node_factory, owner: Account, words):
    prefix = owner.key.split(".")[0]
    bad = node_factory(prefix + ".not-the-right-body-at-all-000000000000")

    outcomes = bad.run(
        ("metrics.event", "words", {"user": {"id": "u1"}, "value": 1}),
        ("users.create", {"id": "u1"}),
        ("users.get", "u1"),
        ("users.identify", "u1", {"name": "x"}),
        ("users.update", "u1", {"name": "x"}),
        ("users.getPreferences", "u1"),
        ("users.updatePreferences", "u1", {"notifications": {}}),
        ("users.allMetrics", "u1"),
        ("users.singleMetric", "u1", "words"),
        ("users.metricEventSummary", "u1", "words", SUMMARY),
    )

    # Unlike the Python SDK, the Node SDK maps 401 on users.get too.
    for outcome in outcomes:
        assert_sdk_error(outcome, "UnauthorizedError", 401)
    assert not EndUser.objects.exists()


def test_tenant_id_header_selects_the_tenant(node: NodeSdk, node_factory, owner: Account):
    # The Node SDK has no Tenant-ID option; the runner adds the header (node/run.mjs).
    eu = Tenant.objects.create(organization=owner.organization, customer_id="eu", name="EU")
    Metric.objects.create(tenant=eu, key="words", name="Words")
    in_eu = node_factory(owner.key, tenant_id="eu")

    event = in_eu.call("metrics.event", "words", {"user": {"id": "u1"}, "value": 2})
    missing = node.error("users.get", "u1")
    unknown = node_factory(owner.key, tenant_id="no-such-tenant").error("users.get", "u1")

    assert event["total"] == 2
    assert EndUser.objects.get(external_id="u1").tenant_id == eu.id
    assert_sdk_error(missing, "TrophyApiError", 404)
    assert "Tenant-ID" in assert_sdk_error(unknown, "TrophyApiError", 404)
