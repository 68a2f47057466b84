"""POST /v1/users, GET/PUT/PATCH /v1/users/{id}, GET/PATCH /v1/users/{id}/preferences"""

from __future__ import annotations

import pytest

from events.models import EndUser
from tests.factories import AttributeFactory, EndUserFactory

USER_KEYS = {
    "id",
    "email",
    "name",
    "tz",
    "deviceTokens",
    "subscribeToEmails",
    "attributes",
    "control",
    "created",
    "updated",
}


def test_create_returns_201_with_every_user_field(api, owner):
    AttributeFactory(tenant=owner.tenant, key="plan", type="user")
    response = api.post(
        "/v1/users",
        {
            "id": "u1",
            "email": "ann@example.com",
            "name": "Ann",
            "tz": "Europe/London",
            "deviceTokens": ["t1"],
            "attributes": {"plan": "pro"},
        },
        format="json",
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert set(body) == USER_KEYS
    assert (
        body["id"] == "u1" and body["email"] == "ann@example.com" and body["tz"] == "Europe/London"
    )
    assert body["subscribeToEmails"] is True and body["control"] is False
    assert body["attributes"] == {"plan": "pro"} and body["deviceTokens"] == ["t1"]
    assert EndUser.objects.get(tenant=owner.tenant, external_id="u1").name == "Ann"


def test_create_an_existing_id_is_422_and_changes_nothing(api, owner):
    EndUserFactory(tenant=owner.tenant, external_id="u1", name="Old")
    response = api.post("/v1/users", {"id": "u1", "name": "New"}, format="json")
    assert response.status_code == 422 and "already exists" in response.json()["error"]
    assert EndUser.objects.get(external_id="u1").name == "Old"


def test_get_returns_the_user_and_404_for_unknown_or_other_tenant(api, owner, outsider):
    EndUserFactory(tenant=owner.tenant, external_id="u1", email="a@x.io")
    assert api.get("/v1/users/u1").json()["email"] == "a@x.io"
    assert api.get("/v1/users/nobody").status_code == 404
    assert outsider.client().get("/v1/users/u1").status_code == 404


def test_identify_creates_then_updates_only_fields_sent(api):
    created = api.put("/v1/users/u1", {"name": "Ann", "tz": "Asia/Tokyo"}, format="json")
    updated = api.put("/v1/users/u1", {"name": "Anna"}, format="json")

    assert created.status_code == 200 and updated.status_code == 200
    assert updated.json()["name"] == "Anna" and updated.json()["tz"] == "Asia/Tokyo"
    assert EndUser.objects.count() == 1


def test_patch_updates_fields_and_null_clears_nullable_ones(api, owner):
    EndUserFactory(tenant=owner.tenant, external_id="u1", tz="Europe/Paris", device_tokens=["a"])
    response = api.patch("/v1/users/u1", {"tz": None, "deviceTokens": None}, format="json")
    assert response.status_code == 200
    assert response.json()["tz"] is None and response.json()["deviceTokens"] is None


def test_patch_unknown_user_is_404_and_creates_nothing(api):
    assert api.patch("/v1/users/ghost", {"name": "x"}, format="json").status_code == 404
    assert EndUser.objects.count() == 0


def test_attributes_are_merged_not_replaced(api, owner):
    for key in ("plan", "team"):
        AttributeFactory(tenant=owner.tenant, key=key, type="user")
    api.put("/v1/users/u1", {"attributes": {"plan": "free"}}, format="json")
    body = api.patch("/v1/users/u1", {"attributes": {"team": "red"}}, format="json").json()
    assert body["attributes"] == {"plan": "free", "team": "red"}


def test_opting_out_of_emails_drops_the_stored_email(api):
    api.put("/v1/users/u1", {"email": "a@x.io"}, format="json")
    body = api.patch("/v1/users/u1", {"subscribeToEmails": False}, format="json").json()
    assert body["subscribeToEmails"] is False and body["email"] is None


def test_subscribed_to_emails_alias_is_accepted(api):
    body = api.put(
        "/v1/users/u1", {"email": "a@x.io", "subscribedToEmails": False}, format="json"
    ).json()
    assert body["subscribeToEmails"] is False


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"tz": "Nowhere/City"}, "tz"),
        ({"name": 5}, "name"),
        ({"deviceTokens": "abc"}, "deviceTokens"),
        ({"subscribeToEmails": "yes"}, "subscribeToEmails"),
        ({"attributes": {"undeclared": "x"}}, "Invalid attribute keys: undeclared"),
        ({"attributes": ["x"]}, "attributes"),
        ({"subscribeToEmails": True}, "subscribeToEmails"),
    ],
)
def test_bad_user_input_is_400_and_changes_nothing(api, owner, body, fragment):
    EndUserFactory(tenant=owner.tenant, external_id="u1", name="Same")
    response = api.put("/v1/users/u1", body, format="json")
    assert response.status_code == 400, response.json()
    assert fragment in response.json()["error"]
    user = EndUser.objects.get(external_id="u1")
    assert (user.name, user.tz, user.attributes) == ("Same", None, {})


def test_create_requires_a_string_id(api):
    for body in ({}, {"id": 7}, {"id": ""}):
        response = api.post("/v1/users", body, format="json")
        assert response.status_code == 400 and "id" in response.json()["error"]
    assert EndUser.objects.count() == 0


def test_users_are_isolated_between_tenants_of_one_organization(owner):
    from events.models import Tenant

    Tenant.objects.create(organization=owner.organization, customer_id="acme-eu", name="EU")
    eu = owner.client(tenant_id="acme-eu")
    assert eu.put("/v1/users/u1", {"name": "EU user"}, format="json").status_code == 200
    assert owner.client().get("/v1/users/u1").status_code == 404
    assert eu.get("/v1/users/u1").json()["name"] == "EU user"
    assert owner.client(tenant_id="missing").get("/v1/users/u1").status_code == 404


def test_preferences_default_to_empty_and_patch_replaces_only_types_sent(api, owner):
    EndUserFactory(tenant=owner.tenant, external_id="u1")
    assert api.get("/v1/users/u1/preferences").json() == {
        "notifications": {},
        "streak": {"enabled": True},
    }
    api.patch(
        "/v1/users/u1/preferences",
        {"notifications": {"recap": ["email"], "streak_reminder": ["push"]}},
        format="json",
    )
    body = api.patch(
        "/v1/users/u1/preferences", {"notifications": {"recap": []}}, format="json"
    ).json()
    assert body["notifications"] == {"recap": [], "streak_reminder": ["push"]}


def test_disabling_streaks_in_preferences_zeroes_the_streak(api, owner, words):
    api.post("/v1/metrics/words/event", {"user": {"id": "u1"}, "value": 1}, format="json")
    api.patch("/v1/users/u1/preferences", {"streak": {"enabled": False}}, format="json")
    streak = api.post(
        "/v1/metrics/words/event", {"user": {"id": "u1"}, "value": 1}, format="json"
    ).json()["currentStreak"]
    assert streak["length"] == 0 and streak["extended"] is False


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"notifications": {"recap": ["sms"]}}, 400),
        ({"notifications": {"weekly_digest": ["email"]}}, 400),
        ({"notifications": "email"}, 400),
        ({"streak": {"evaluationMode": "AND"}}, 403),
    ],
)
def test_bad_preferences_are_rejected_and_change_nothing(api, owner, body, status):
    EndUserFactory(tenant=owner.tenant, external_id="u1")
    response = api.patch("/v1/users/u1/preferences", body, format="json")
    assert response.status_code == status and "error" in response.json()
    assert EndUser.objects.get(external_id="u1").notification_preferences == {}


def test_preferences_of_unknown_or_other_tenants_user_are_404(api, owner, outsider):
    EndUserFactory(tenant=owner.tenant, external_id="u1")
    assert api.get("/v1/users/ghost/preferences").status_code == 404
    assert outsider.client().get("/v1/users/u1/preferences").status_code == 404
    response = outsider.client().patch(
        "/v1/users/u1/preferences", {"notifications": {"recap": []}}, format="json"
    )
    assert response.status_code == 404
