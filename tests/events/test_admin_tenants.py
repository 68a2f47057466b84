"""Admin API: /admin-api/v1/tenants and /admin-api/v1/tenants/{id} (organization level)"""

from __future__ import annotations

import uuid

import pytest
from rest_framework.test import APIClient

from events.models import Tenant

URL = "/admin-api/v1/tenants"


def create(client, *items):
    return client.post(URL, list(items), format="json")


@pytest.mark.parametrize(
    ("method", "path"),
    [("get", URL), ("post", URL), ("patch", URL), ("delete", URL + "?ids=x"), ("get", URL + "/x")],
)
def test_requests_without_a_valid_key_get_401(owner, method, path):
    body = [{"customerId": "c1", "name": "C1"}] if method in ("post", "patch") else None

    response = getattr(APIClient(), method)(path, body, format="json")

    assert response.status_code == 401
    assert set(response.json()) == {"error"}
    assert Tenant.objects.count() == 1


def test_create_returns_201_with_trophys_admin_tenant(api, owner):
    response = create(api, {"customerId": "acme-1", "name": "Acme One"})

    assert response.status_code == 201, response.json()
    tenant = Tenant.objects.get(customer_id="acme-1")
    assert tenant.organization == owner.organization
    created = response.json()["created"][0]
    assert created["id"] == str(tenant.id)
    assert (created["customerId"], created["name"], created["status"]) == (
        "acme-1",
        "Acme One",
        "active",
    )
    assert created["created"].endswith("Z") and created["updated"].endswith("Z")
    assert response.json()["issues"] == []


def test_customer_ids_are_unique_per_organization_only(api, owner, outsider):
    create(outsider.client(), {"customerId": "shared", "name": "Theirs"})

    response = create(
        api,
        {"customerId": "shared", "name": "Mine"},
        {"customerId": "shared", "name": "Mine again"},
        {"customerId": "default", "name": "Clash with the default tenant"},
        {"name": "no customer id"},
        {"customerId": "x" * 256, "name": "too long"},
    )

    assert response.status_code == 201
    body = response.json()
    assert [t["name"] for t in body["created"]] == ["Mine"]
    assert [(i["index"], i["message"]) for i in body["issues"][:2]] == [
        (1, "Customer ID already in use"),
        (2, "Customer ID already in use"),
    ]
    assert [i["index"] for i in body["issues"][2:]] == [3, 4]
    assert Tenant.objects.filter(customer_id="shared").count() == 2


def test_list_includes_the_default_tenant_and_ignores_the_tenant_id_header(owner, outsider):
    create(owner.client(), {"customerId": "c1", "name": "C1"})
    create(outsider.client(), {"customerId": "c2", "name": "C2"})

    for client in (owner.client(), owner.client(tenant_id="c1"), owner.client(tenant_id="nope")):
        response = client.get(URL)
        assert response.status_code == 200
        assert [t["customerId"] for t in response.json()] == ["default", "c1"]
    assert [t["customerId"] for t in owner.client().get(URL, {"skip": 1}).json()] == ["c1"]
    assert owner.client().get(URL, {"skip": "-3"}).status_code == 422
    # Beyond what the database's OFFSET takes: refused, not a 500.
    huge = owner.client().get(URL, {"skip": str(2**63)})
    assert huge.status_code == 422 and "skip" in huge.json()["error"]


def test_get_by_id_and_404_for_unknown_malformed_foreign_or_archived(api, owner, outsider):
    mine = create(api, {"customerId": "c1", "name": "C1"}).json()["created"][0]
    theirs = outsider.tenant
    gone = Tenant.objects.create(
        organization=owner.organization, customer_id="gone", name="Gone", status="archived"
    )

    assert api.get(f"{URL}/{mine['id']}").json() == mine
    assert api.get(f"{URL}/{owner.tenant.id}").json()["customerId"] == "default"
    for tenant_id in (uuid.uuid4(), "garbage", theirs.id, gone.id):
        response = api.get(f"{URL}/{tenant_id}")
        assert response.status_code == 404
        assert set(response.json()) == {"error"}


def test_update_renames_and_changes_customer_id(api, owner, outsider):
    c1 = create(api, {"customerId": "c1", "name": "C1"}).json()["created"][0]
    create(api, {"customerId": "c2", "name": "C2"})

    response = api.patch(
        URL,
        [
            {"id": c1["id"], "name": "Renamed", "customerId": "c1-new"},
            {"id": c1["id"], "customerId": "c2"},
            {"id": str(owner.tenant.id), "customerId": "not-default"},
            {"id": str(outsider.tenant.id), "name": "Hijack"},
        ],
        format="json",
    )

    assert response.status_code == 200
    body = response.json()
    assert [(t["customerId"], t["name"]) for t in body["updated"]] == [("c1-new", "Renamed")]
    assert [i["id"] for i in body["issues"]] == [
        c1["id"],
        str(owner.tenant.id),
        str(outsider.tenant.id),
    ]
    assert body["issues"][0]["message"] == "Customer ID already in use"
    assert owner.client(tenant_id="c1-new").get("/admin-api/v1/metrics").status_code == 200
    assert owner.client(tenant_id="c1").get("/admin-api/v1/metrics").status_code == 404
    outsider.tenant.refresh_from_db()
    assert outsider.tenant.name != "Hijack"


def test_an_update_item_with_only_an_id_is_an_issue_not_an_update(api, owner):
    c1 = create(api, {"customerId": "c1", "name": "C1"}).json()["created"][0]

    response = api.patch(URL, [{"id": c1["id"]}, {"id": c1["id"], "name": "C2"}], format="json")

    assert response.status_code == 200
    body = response.json()
    assert [t["name"] for t in body["updated"]] == ["C2"]
    assert body["issues"] == [
        {
            "severity": "error",
            "message": "give customerId or name (or both) to update.",
            "id": c1["id"],
        }
    ]


def test_update_with_a_non_array_body_is_400_and_changes_nothing(api, owner):
    response = api.patch(URL, {"id": str(owner.tenant.id), "name": "x"}, format="json")

    assert response.status_code == 400
    owner.tenant.refresh_from_db()
    assert owner.tenant.name == "Acme"


def test_delete_archives_but_refuses_the_default_tenant(api, owner):
    c1 = create(api, {"customerId": "c1", "name": "C1"}).json()["created"][0]

    response = api.delete(f"{URL}?ids={c1['id']},{owner.tenant.id}&ids=bad")

    assert response.status_code == 200
    body = response.json()
    assert body["deleted"] == [{"id": c1["id"]}]
    assert [i["id"] for i in body["issues"]] == [str(owner.tenant.id), "bad"]
    assert "default" in body["issues"][0]["message"]
    assert Tenant.objects.get(pk=c1["id"]).status == "archived"
    assert owner.tenant.status == "active"
    assert api.get(f"{URL}/{c1['id']}").status_code == 404
    assert [t["customerId"] for t in api.get(URL).json()] == ["default"]
    # an archived tenant can no longer be selected
    assert owner.client(tenant_id="c1").get("/admin-api/v1/metrics").status_code == 404


def test_another_organizations_tenant_cannot_be_deleted(api, outsider):
    response = api.delete(f"{URL}?ids={outsider.tenant.id}")

    assert response.status_code == 200
    assert response.json()["deleted"] == []
    outsider.tenant.refresh_from_db()
    assert outsider.tenant.status == "active"


def test_delete_with_no_ids_is_a_422(api):
    response = api.delete(URL)

    assert response.status_code == 422
    assert set(response.json()) == {"error"}
