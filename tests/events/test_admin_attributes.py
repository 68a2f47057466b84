"""Admin API: /admin-api/v1/attributes and /admin-api/v1/attributes/{id}"""

from __future__ import annotations

import uuid

import pytest
from rest_framework.test import APIClient

from events.models import Attribute, Tenant
from events.services.admin_config import NewTenant, tenants_create
from tests.factories import AttributeFactory

URL = "/admin-api/v1/attributes"


def item(key="plan", name="Plan", type="user"):
    return {"key": key, "name": name, "type": type}


def version(tenant: Tenant) -> int:
    return Tenant.objects.get(pk=tenant.pk).config_version


@pytest.mark.parametrize(
    ("method", "path"),
    [("get", URL), ("post", URL), ("patch", URL), ("delete", URL + "?ids=x"), ("get", URL + "/x")],
)
@pytest.mark.parametrize("key", [None, "nonsense", "abcdefgh.wrong-body"])
def test_requests_without_a_valid_key_get_401(owner, method, path, key):
    client = APIClient()
    if key is not None:
        client.credentials(HTTP_X_API_KEY=key)

    body = [item()] if method in ("post", "patch") else None
    response = getattr(client, method)(path, body, format="json")

    assert response.status_code == 401
    assert set(response.json()) == {"error"}
    assert not Attribute.objects.exists()


def test_create_returns_201_with_the_created_attributes_and_bumps_the_config_version(api, owner):
    before = version(owner.tenant)

    response = api.post(URL, [item(), item("source", "Source", "event")], format="json")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["issues"] == []
    created = {a["key"]: a for a in body["created"]}
    stored = Attribute.objects.get(tenant=owner.tenant, key="plan")
    assert created["plan"] == {"id": str(stored.id), "name": "Plan", "key": "plan", "type": "user"}
    assert created["source"]["type"] == "event"
    assert version(owner.tenant) == before + 1


def test_create_applies_valid_items_and_reports_the_others_by_index(api, owner):
    AttributeFactory.create(tenant=owner.tenant, key="taken", type="user")

    response = api.post(
        URL,
        [
            item("ok"),
            item("bad key!"),
            item("taken"),
            item("taken", type="event"),  # unique per type: allowed
            {"key": "no-name", "type": "user"},
            item("x", type="team"),
            "not an object",
            item("ok"),  # repeated within the request
        ],
        format="json",
    )

    assert response.status_code == 201
    body = response.json()
    assert [(a["key"], a["type"]) for a in body["created"]] == [("ok", "user"), ("taken", "event")]
    issues = body["issues"]
    assert [i["index"] for i in issues] == [1, 2, 4, 5, 6, 7]
    assert all(i["severity"] == "error" for i in issues)
    assert "key" in issues[0]["message"]
    assert issues[1]["message"] == "Key already in use"
    assert "name" in issues[2]["message"]
    assert "type" in issues[3]["message"]
    assert issues[5]["message"] == "Key already in use"
    assert Attribute.objects.filter(tenant=owner.tenant).count() == 3


def test_create_with_nothing_created_returns_200_and_keeps_the_config_version(api, owner):
    before = version(owner.tenant)

    response = api.post(URL, [item("bad key")], format="json")

    assert response.status_code == 200
    assert response.json()["created"] == []
    assert response.json()["issues"][0]["index"] == 0
    assert version(owner.tenant) == before


def test_an_archived_attributes_key_can_be_used_again(api, owner):
    AttributeFactory.create(tenant=owner.tenant, key="plan", type="user", status="archived")

    response = api.post(URL, [item("plan")], format="json")

    assert response.status_code == 201
    assert Attribute.objects.filter(key="plan").count() == 2


@pytest.mark.parametrize(
    ("body", "status"),
    [({"key": "plan"}, 400), ("plan", 400), (None, 400), ([], 422), ([item()] * 101, 422)],
)
def test_a_body_that_is_not_an_array_of_1_to_100_items_is_rejected_whole(api, body, status):
    response = api.post(URL, body, format="json")

    assert response.status_code == status
    assert set(response.json()) == {"error"}
    assert not Attribute.objects.exists()


def test_malformed_json_is_a_400(api):
    response = api.post(URL, "[{", content_type="application/json")

    assert response.status_code == 400 and "error" in response.json()


def test_list_is_in_creation_order_with_skip_and_limit(api, owner):
    for n in range(12):
        AttributeFactory.create(tenant=owner.tenant, key=f"a{n}")

    default = api.get(URL).json()
    second_page = api.get(URL, {"skip": 10, "limit": 5}).json()

    assert [a["key"] for a in default] == [f"a{n}" for n in range(10)]
    assert [a["key"] for a in second_page] == ["a10", "a11"]
    assert set(default[0]) == {"id", "name", "key", "type"}


@pytest.mark.parametrize(
    "query", [{"skip": -1}, {"limit": 0}, {"limit": 101}, {"limit": "ten"}, {"skip": "1.5"}]
)
def test_list_with_a_bad_skip_or_limit_is_a_422(api, query):
    response = api.get(URL, query)

    assert response.status_code == 422
    assert set(response.json()) == {"error"}


def test_list_hides_archived_attributes_and_other_tenants(api, owner, outsider):
    AttributeFactory.create(tenant=owner.tenant, key="mine")
    AttributeFactory.create(tenant=owner.tenant, key="gone", status="archived")
    AttributeFactory.create(tenant=outsider.tenant, key="theirs")

    assert [a["key"] for a in api.get(URL).json()] == ["mine"]


def test_tenant_id_header_selects_another_tenant(owner):
    other = tenants_create(
        organization=owner.organization, items=[NewTenant(index=0, customer_id="c1", name="C1")]
    ).done[0]
    client = owner.client(tenant_id="c1")

    created = client.post(URL, [item("plan")], format="json")

    assert created.status_code == 201
    assert Attribute.objects.get(key="plan").tenant == other
    assert [a["key"] for a in client.get(URL).json()] == ["plan"]
    assert owner.client().get(URL).json() == []
    attribute_id = created.json()["created"][0]["id"]
    assert owner.client().get(f"{URL}/{attribute_id}").status_code == 404


def test_an_unknown_tenant_id_is_a_404_and_changes_nothing(owner):
    response = owner.client(tenant_id="nope").post(URL, [item()], format="json")

    assert response.status_code == 404
    assert set(response.json()) == {"error"}
    assert not Attribute.objects.exists()


def test_get_by_id(api, owner):
    attribute = AttributeFactory.create(tenant=owner.tenant, key="plan", name="Plan", type="user")

    response = api.get(f"{URL}/{attribute.id}")

    assert response.status_code == 200
    assert response.json() == {
        "id": str(attribute.id),
        "name": "Plan",
        "key": "plan",
        "type": "user",
    }


@pytest.mark.parametrize("which", ["unknown", "malformed", "outsider", "archived"])
def test_get_by_id_is_404_for_unknown_malformed_foreign_or_archived_ids(
    api, owner, outsider, which
):
    attribute_id = {
        "unknown": lambda: str(uuid.uuid4()),
        "malformed": lambda: "not-a-uuid",
        "outsider": lambda: str(AttributeFactory.create(tenant=outsider.tenant).id),
        "archived": lambda: str(AttributeFactory.create(tenant=owner.tenant, status="archived").id),
    }[which]()

    response = api.get(f"{URL}/{attribute_id}")

    assert response.status_code == 404
    assert set(response.json()) == {"error"}


def test_update_renames_and_reports_refused_items_by_id(api, owner, outsider):
    mine = AttributeFactory.create(tenant=owner.tenant, key="plan", name="Plan", type="user")
    theirs = AttributeFactory.create(tenant=outsider.tenant, key="plan", name="Theirs")
    unknown = str(uuid.uuid4())
    before = version(owner.tenant)

    response = api.patch(
        URL,
        [
            {"id": str(mine.id), "name": "Subscription plan"},
            {"id": str(mine.id), "key": "other"},
            {"id": str(mine.id), "type": "event"},
            {"id": "not-a-uuid", "name": "x"},
            {"id": unknown, "name": "x"},
            {"id": str(theirs.id), "name": "Hijacked"},
            {"name": "no id"},
        ],
        format="json",
    )

    assert response.status_code == 200
    body = response.json()
    assert body["updated"] == [
        {"id": str(mine.id), "name": "Subscription plan", "key": "plan", "type": "user"}
    ]
    # items the request layer refused come first, then those the service refused
    located = [(i.get("id"), i.get("index")) for i in body["issues"]]
    assert located == [
        (str(mine.id), None),
        (str(mine.id), None),
        (None, 6),
        ("not-a-uuid", None),
        (unknown, None),
        (str(theirs.id), None),
    ]
    assert "key" in body["issues"][0]["message"] and "type" in body["issues"][1]["message"]
    assert all(i["severity"] == "error" for i in body["issues"])
    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert (mine.name, mine.key, mine.type) == ("Subscription plan", "plan", "user")
    assert theirs.name == "Theirs"
    assert version(owner.tenant) == before + 1


def test_update_where_every_item_fails_is_still_200(api):
    response = api.patch(URL, [{"id": "nope", "name": "x"}], format="json")

    assert response.status_code == 200
    assert response.json() == {
        "updated": [],
        "issues": [
            {"severity": "error", "message": "Invalid id 'nope': not a UUID.", "id": "nope"}
        ],
    }


def test_update_rejects_a_non_array_body_whole(api, owner):
    attribute = AttributeFactory.create(tenant=owner.tenant, name="Plan")

    response = api.patch(URL, {"id": str(attribute.id), "name": "x"}, format="json")

    assert response.status_code == 400
    attribute.refresh_from_db()
    assert attribute.name == "Plan"


def test_delete_archives_by_repeated_or_comma_separated_ids(api, owner, outsider):
    a, b, c = (AttributeFactory.create(tenant=owner.tenant) for _ in range(3))
    theirs = AttributeFactory.create(tenant=outsider.tenant)
    before = version(owner.tenant)

    response = api.delete(f"{URL}?ids={a.id}&ids={b.id},{theirs.id},bad")

    assert response.status_code == 200
    body = response.json()
    assert body["deleted"] == [{"id": str(a.id)}, {"id": str(b.id)}]
    assert [i["id"] for i in body["issues"]] == [str(theirs.id), "bad"]
    assert set(Attribute.objects.filter(status="archived").values_list("id", flat=True)) == {
        a.id,
        b.id,
    }
    assert api.get(f"{URL}/{a.id}").status_code == 404
    assert [x["id"] for x in api.get(URL).json()] == [str(c.id)]
    assert version(owner.tenant) == before + 1


def test_deleting_an_already_archived_attribute_is_an_issue(api, owner):
    gone = AttributeFactory.create(tenant=owner.tenant, status="archived")

    response = api.delete(f"{URL}?ids={gone.id}")

    assert response.status_code == 200
    assert response.json()["deleted"] == []
    assert response.json()["issues"][0]["id"] == str(gone.id)


@pytest.mark.parametrize(
    "query", ["", "?ids=", "?ids=" + ",".join(str(uuid.uuid4()) for _ in range(101))]
)
def test_delete_without_ids_or_with_more_than_100_is_a_422(api, owner, query):
    attribute = AttributeFactory.create(tenant=owner.tenant)

    response = api.delete(URL + query)

    assert response.status_code == 422
    assert set(response.json()) == {"error"}
    attribute.refresh_from_db()
    assert attribute.status == "active"


def test_an_attribute_created_through_the_admin_api_is_usable_at_once(api, owner, words):
    event = {"user": {"id": "u1"}, "value": 1, "attributes": {"source": "web"}}
    refused = api.post("/v1/metrics/words/event", event, format="json")  # warms the cache
    assert refused.status_code == 400

    api.post(URL, [item("source", "Source", "event")], format="json")
    accepted = api.post("/v1/metrics/words/event", event, format="json")

    assert accepted.status_code == 201, accepted.json()


def test_a_deleted_attribute_is_refused_at_once(api, owner, words):
    attribute = api.post(URL, [item("source", "Source", "event")], format="json").json()
    event = {"user": {"id": "u1"}, "value": 1, "attributes": {"source": "web"}}
    assert api.post("/v1/metrics/words/event", event, format="json").status_code == 201

    api.delete(f"{URL}?ids={attribute['created'][0]['id']}")

    assert api.post("/v1/metrics/words/event", event, format="json").status_code == 400
