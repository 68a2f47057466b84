"""GET /v1/users/{id}/metrics, /metrics/{key}, /metrics/{key}/event-summary"""

from __future__ import annotations

import pytest

from events.models import Metric
from tests.factories import EndUserFactory, MetricFactory


def send(api, value, when, user="u1", key="words", tz=None):
    user_body = {"id": user} | ({"tz": tz} if tz else {})
    response = api.post(
        f"/v1/metrics/{key}/event",
        {"user": user_body, "value": value, "timestamp": when},
        format="json",
    )
    assert response.status_code == 201, response.json()


def test_metrics_list_has_every_active_metric_with_the_users_total(api, owner, words):
    lessons = Metric.objects.create(tenant=owner.tenant, key="lessons", name="Lessons")
    MetricFactory(tenant=owner.tenant, key="old", status="archived")
    send(api, 3, "2026-01-05T10:00:00Z")
    send(api, 4.5, "2026-01-06T10:00:00Z")

    body = api.get("/v1/users/u1/metrics").json()

    assert body == [
        {
            "id": str(words.id),
            "key": "words",
            "name": "Words written",
            "status": "active",
            "current": 7.5,
            "achievements": [],
        },
        {
            "id": str(lessons.id),
            "key": "lessons",
            "name": "Lessons",
            "status": "active",
            "current": 0,
            "achievements": [],
        },
    ]


def test_one_metric_and_404s(api, owner, outsider, words):
    send(api, 2, "2026-01-05T10:00:00Z")
    assert api.get("/v1/users/u1/metrics/words").json()["current"] == 2
    assert api.get("/v1/users/u1/metrics/nope").status_code == 404
    assert api.get("/v1/users/ghost/metrics/words").status_code == 404
    assert api.get("/v1/users/ghost/metrics").status_code == 404
    assert outsider.client().get("/v1/users/u1/metrics").status_code == 404


def summary(api, aggregation, start, end, key="words", user="u1"):
    return api.get(
        f"/v1/users/{user}/metrics/{key}/event-summary",
        {"aggregation": aggregation, "startDate": start, "endDate": end},
    )


@pytest.fixture
def history(api, words):
    send(api, 100, "2025-12-30T12:00:00Z")  # before the ranges below
    send(api, 200, "2026-01-02T12:00:00Z")  # Friday, ISO week starting 2025-12-29
    send(api, 300, "2026-01-05T12:00:00Z")  # Monday
    send(api, -50, "2026-02-01T12:00:00Z")


def test_daily_summary_emits_every_day_with_running_totals(api, history):
    body = summary(api, "daily", "2026-01-01", "2026-01-05").json()
    assert body == [
        {"date": "2026-01-01", "total": 100, "change": 0},
        {"date": "2026-01-02", "total": 300, "change": 200},
        {"date": "2026-01-03", "total": 300, "change": 0},
        {"date": "2026-01-04", "total": 300, "change": 0},
        {"date": "2026-01-05", "total": 600, "change": 300},
    ]


def test_weekly_summary_uses_iso_weeks_starting_monday(api, history):
    body = summary(api, "weekly", "2026-01-01", "2026-01-12").json()
    assert body == [
        {"date": "2025-12-29", "total": 300, "change": 300},
        {"date": "2026-01-05", "total": 600, "change": 300},
        {"date": "2026-01-12", "total": 600, "change": 0},
    ]


def test_monthly_summary(api, history):
    body = summary(api, "monthly", "2025-12-15", "2026-02-10").json()
    assert body == [
        {"date": "2025-12-01", "total": 100, "change": 100},
        {"date": "2026-01-01", "total": 600, "change": 500},
        {"date": "2026-02-01", "total": 550, "change": -50},
    ]


def test_summary_buckets_use_the_users_local_date(api, words):
    # 23:30 UTC on Jan 1 is already Jan 2 in Tokyo.
    send(api, 5, "2026-01-01T23:30:00Z", tz="Asia/Tokyo")
    body = summary(api, "daily", "2026-01-01", "2026-01-02").json()
    assert [b["change"] for b in body] == [0, 5]


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"aggregation": "hourly", "startDate": "2026-01-01", "endDate": "2026-01-02"}, 422),
        ({"aggregation": "daily", "startDate": "2026-01-02", "endDate": "2026-01-01"}, 422),
        ({"aggregation": "daily", "startDate": "2026-01-01", "endDate": "2026-01-01"}, 422),
        ({"aggregation": "daily", "startDate": "2024-01-01", "endDate": "2026-01-01"}, 422),
        ({"aggregation": "daily", "startDate": "01/01/2026", "endDate": "2026-01-02"}, 422),
        ({"aggregation": "daily", "startDate": "2026-01-01"}, 422),
    ],
)
def test_bad_summary_parameters_are_422(api, owner, words, params, status):
    EndUserFactory(tenant=owner.tenant, external_id="u1")
    response = api.get("/v1/users/u1/metrics/words/event-summary", params)
    assert response.status_code == status and "error" in response.json()


def test_summary_for_unknown_user_or_metric_is_404(api, owner, outsider, words):
    EndUserFactory(tenant=owner.tenant, external_id="u1")
    assert summary(api, "daily", "2026-01-01", "2026-01-02", key="nope").status_code == 404
    assert summary(api, "daily", "2026-01-01", "2026-01-02", user="ghost").status_code == 404
    other = outsider.client()
    assert summary(other, "daily", "2026-01-01", "2026-01-02").status_code == 404
