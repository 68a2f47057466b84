"""The schema helper itself: it must reject what Trophy's spec rejects, or every contract
test that relies on it would pass vacuously."""

from __future__ import annotations

from typing import Any

import pytest

from .trophy_schema import assert_component, assert_response_conforms, response_schema

USER: dict[str, Any] = {
    "id": "u1",
    "email": None,
    "name": "Ann",
    "tz": None,
    "deviceTokens": None,
    "subscribeToEmails": True,
    "attributes": {},
    "control": False,
    "created": "2026-01-31T09:00:00Z",
    "updated": "2026-01-31T09:00:00.123456+01:00",
}


def test_a_valid_user_passes():
    assert_component(USER, "User")


@pytest.mark.parametrize(
    "change",
    [
        {"control": None},
        {"attributes": {"plan": 1}},
        {"created": "2026-01-31 09:00"},
        {"updated": "2026-01-31T09:00:00"},  # no offset
    ],
)
def test_a_user_with_a_wrong_field_fails(change):
    with pytest.raises(AssertionError, match="not a valid User"):
        assert_component({**USER, **change}, "User")


def test_a_user_missing_a_required_field_fails():
    body = {k: v for k, v in USER.items() if k != "control"}
    with pytest.raises(AssertionError, match="'control' is a required property"):
        assert_component(body, "User")


def test_nested_refs_resolve_inside_the_spec_document():
    streak = {
        "length": 1,
        "frequency": "daily",
        "started": "2026-1-31",
        "periodStart": "2026-01-31",
        "periodEnd": "2026-01-31",
        "expires": "2026-02-01",
        "extended": True,
    }
    body = {
        "eventId": "e",
        "metricId": "m",
        "total": 1,
        "achievements": [],
        "currentStreak": streak,
        "points": {},
        "leaderboards": {},
    }
    with pytest.raises(AssertionError, match="currentStreak/started"):
        assert_component(body, "EventResponse")


def test_undocumented_error_status_uses_the_error_body_and_replay_the_event_response():
    assert response_schema("application", "GET", "/users/u1", 404) == {
        "$ref": "#/components/schemas/ErrorBody"
    }
    assert response_schema("application", "POST", "/metrics/words/event", 202) == {
        "$ref": "#/components/schemas/EventResponse"
    }
    with pytest.raises(AssertionError, match="does not document"):
        response_schema("application", "GET", "/users/u1", 201)


def test_response_conformance_checks_error_bodies_and_literal_admin_paths():
    assert_response_conforms("GET", "/v1/users/u1", 404, {"error": "Not found"})
    with pytest.raises(AssertionError):
        assert_response_conforms("GET", "/v1/users/u1", 404, {"detail": "Not found"})
    # /metrics/events is the batch endpoint, not GET-able /metrics/{id}.
    assert_response_conforms("POST", "/admin-api/v1/metrics/events", 202, {"accepted": 3})
