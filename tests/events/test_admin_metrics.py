"""Admin API: /admin-api/v1/metrics and /admin-api/v1/metrics/{id}"""

from __future__ import annotations

import uuid

import pytest
from rest_framework.test import APIClient

from events.models import Metric, Tenant
from events.services.admin_config import NewTenant, tenants_create
from tests.factories import MetricFactory

URL = "/admin-api/v1/metrics"


def version(tenant: Tenant) -> int:
    return Tenant.objects.get(pk=tenant.pk).config_version


@pytest.mark.parametrize(
    ("method", "path"),
    [("get", URL), ("post", URL), ("patch", URL), ("delete", URL + "?ids=x"), ("get", URL + "/x")],
)
def test_requests_without_a_valid_key_get_401(owner, method, path):
    for client in (APIClient(), owner.client()):
        client.credentials(HTTP_X_API_KEY="abcdefgh.not-the-body")
        body = [{"key": "k", "name": "K"}] if method in ("post", "patch") else None
        response = getattr(client, method)(path, body, format="json")
        assert response.status_code == 401
        assert set(response.json()) == {"error"}
    assert not Metric.objects.exists()


def test_create_defaults_to_number_units_and_returns_201(api, owner):
    before = version(owner.tenant)

    response = api.post(
        URL,
        [
            {"key": "words", "name": "Words"},
            {"key": "revenue", "name": "Revenue", "unitType": "currency", "units": "USD"},
            {"key": "km", "name": "Distance", "unitType": "number", "units": "km"},
        ],
        format="json",
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    words = Metric.objects.get(tenant=owner.tenant, key="words")
    assert body["created"][0] == {
        "id": str(words.id),
        "name": "Words",
        "key": "words",
        "unitType": "number",
        "units": "",
    }
    assert [(m["unitType"], m["units"]) for m in body["created"][1:]] == [
        ("currency", "USD"),
        ("number", "km"),
    ]
    assert body["issues"] == []
    assert version(owner.tenant) == before + 1


def test_create_reports_invalid_items_by_index_and_creates_the_rest(api, owner):
    MetricFactory.create(tenant=owner.tenant, key="taken")

    response = api.post(
        URL,
        [
            {"key": "taken", "name": "Again"},
            {"key": "fine", "name": "Fine"},
            {"key": "with space", "name": "Bad"},
            {"key": "money", "name": "Money", "unitType": "currency"},
            {"key": "money2", "name": "Money", "unitType": "currency", "units": "dollars"},
            {"key": "odd", "name": "Odd", "unitType": "weight"},
            {"key": "fine", "name": "Twice"},
            {"key": 5, "name": "Number key"},
        ],
        format="json",
    )

    assert response.status_code == 201
    body = response.json()
    assert [m["key"] for m in body["created"]] == ["fine"]
    assert [i["index"] for i in body["issues"]] == [0, 2, 3, 4, 5, 6, 7]
    messages = [i["message"] for i in body["issues"]]
    assert messages[0] == messages[5] == "Key already in use"
    assert "units" in messages[2] and "units" in messages[3]
    assert "unitType" in messages[4]
    assert Metric.objects.filter(tenant=owner.tenant).count() == 2


@pytest.mark.parametrize(
    ("body", "status"), [({"key": "k", "name": "K"}, 400), ([], 422), ([{}] * 101, 422)]
)
def test_a_body_that_is_not_an_array_of_1_to_100_items_is_rejected_whole(api, owner, body, status):
    before = version(owner.tenant)

    response = api.post(URL, body, format="json")

    assert response.status_code == status
    assert set(response.json()) == {"error"}
    assert not Metric.objects.exists()
    assert version(owner.tenant) == before


def test_create_with_nothing_created_returns_200(api):
    response = api.post(URL, [{"key": "k"}], format="json")

    assert response.status_code == 200
    assert response.json()["created"] == []
    assert response.json()["issues"] == [
        {"severity": "error", "message": "name: This field is required.", "index": 0}
    ]


def test_list_in_creation_order_hides_archived_and_other_tenants(api, owner, outsider):
    first = MetricFactory.create(tenant=owner.tenant, key="first")
    MetricFactory.create(tenant=owner.tenant, key="gone", status="archived")
    MetricFactory.create(tenant=outsider.tenant, key="theirs")
    MetricFactory.create(tenant=owner.tenant, key="second")

    response = api.get(URL)

    assert response.status_code == 200
    assert [m["key"] for m in response.json()] == ["first", "second"]
    assert response.json()[0] == {
        "id": str(first.id),
        "name": first.name,
        "key": "first",
        "unitType": "number",
        "units": "",
    }
    assert [m["key"] for m in api.get(URL, {"skip": 1, "limit": 1}).json()] == ["second"]
    assert api.get(URL, {"limit": 1000}).status_code == 422


def test_tenant_id_header_scopes_every_operation(owner):
    tenants_create(
        organization=owner.organization, items=[NewTenant(index=0, customer_id="c1", name="C1")]
    )
    mine = MetricFactory.create(tenant=owner.tenant, key="words")
    client = owner.client(tenant_id="c1")

    created = client.post(URL, [{"key": "words", "name": "Words"}], format="json")

    assert created.status_code == 201  # the key is only taken in the default tenant
    assert [m["key"] for m in client.get(URL).json()] == ["words"]
    assert client.get(f"{URL}/{mine.id}").status_code == 404
    renamed = client.patch(URL, [{"id": str(mine.id), "name": "x"}], format="json").json()
    assert renamed["updated"] == [] and renamed["issues"][0]["id"] == str(mine.id)
    deleted = client.delete(f"{URL}?ids={mine.id}").json()
    assert deleted["deleted"] == []
    mine.refresh_from_db()
    assert (mine.name, mine.status) != ("x", "archived")
    assert owner.client(tenant_id="unknown").get(URL).status_code == 404


@pytest.mark.parametrize("which", ["unknown", "malformed", "outsider", "archived"])
def test_get_by_id_is_404_for_unknown_malformed_foreign_or_archived_ids(
    api, owner, outsider, which
):
    metric_id = {
        "unknown": lambda: str(uuid.uuid4()),
        "malformed": lambda: "123",
        "outsider": lambda: str(MetricFactory.create(tenant=outsider.tenant).id),
        "archived": lambda: str(MetricFactory.create(tenant=owner.tenant, status="archived").id),
    }[which]()

    response = api.get(f"{URL}/{metric_id}")

    assert response.status_code == 404
    assert set(response.json()) == {"error"}


def test_get_by_id(api, owner):
    metric = MetricFactory.create(
        tenant=owner.tenant, key="revenue", unit_type="currency", units="EUR"
    )

    response = api.get(f"{URL}/{metric.id}")

    assert response.status_code == 200
    assert response.json()["unitType"] == "currency" and response.json()["units"] == "EUR"


def test_update_changes_name_and_units_but_never_the_key(api, owner):
    metric = MetricFactory.create(tenant=owner.tenant, key="sales", name="Sales", units="items")
    before = version(owner.tenant)

    response = api.patch(
        URL,
        [
            {"id": str(metric.id), "name": "Revenue", "unitType": "currency", "units": "GBP"},
            {"id": str(metric.id), "key": "revenue"},
            {"id": str(metric.id), "unitType": "currency", "units": "pounds"},
        ],
        format="json",
    )

    assert response.status_code == 200
    body = response.json()
    assert body["updated"] == [
        {
            "id": str(metric.id),
            "name": "Revenue",
            "key": "sales",
            "unitType": "currency",
            "units": "GBP",
        }
    ]
    assert [i["id"] for i in body["issues"]] == [str(metric.id), str(metric.id)]
    assert "key" in body["issues"][0]["message"] and "units" in body["issues"][1]["message"]
    metric.refresh_from_db()
    assert (metric.key, metric.name, metric.unit_type, metric.units) == (
        "sales",
        "Revenue",
        "currency",
        "GBP",
    )
    assert version(owner.tenant) == before + 1


def test_switching_to_currency_without_a_code_is_refused(api, owner):
    metric = MetricFactory.create(tenant=owner.tenant, units="items")

    body = api.patch(URL, [{"id": str(metric.id), "unitType": "currency"}], format="json").json()

    assert body["updated"] == [] and "units" in body["issues"][0]["message"]
    metric.refresh_from_db()
    assert metric.unit_type == "number"


def test_update_of_unknown_and_malformed_ids_is_200_with_issues(api, owner):
    unknown = str(uuid.uuid4())

    response = api.patch(URL, [{"id": unknown}, {"id": "x"}, {"id": 7}, 3], format="json")

    assert response.status_code == 200
    issues = response.json()["issues"]
    assert [(i.get("id"), i.get("index")) for i in issues] == [
        (None, 2),
        (None, 3),
        (unknown, None),
        ("x", None),
    ]


def test_delete_archives_and_frees_the_key(api, owner):
    metric = MetricFactory.create(tenant=owner.tenant, key="words")
    before = version(owner.tenant)

    response = api.delete(f"{URL}?ids={metric.id}&ids={metric.id}")

    assert response.status_code == 200
    assert response.json() == {"deleted": [{"id": str(metric.id)}], "issues": []}
    metric.refresh_from_db()
    assert metric.status == "archived"
    assert api.get(f"{URL}/{metric.id}").status_code == 404
    assert api.get(URL).json() == []
    assert version(owner.tenant) == before + 1
    again = api.post(URL, [{"key": "words", "name": "Words"}], format="json")
    assert again.status_code == 201


def test_delete_reports_unknown_and_malformed_ids(api):
    unknown = str(uuid.uuid4())

    response = api.delete(f"{URL}?ids={unknown},not-a-uuid")

    assert response.status_code == 200
    assert response.json()["deleted"] == []
    assert [i["id"] for i in response.json()["issues"]] == [unknown, "not-a-uuid"]


def test_a_metric_created_through_the_admin_api_takes_events_at_once(api, owner):
    event = {"user": {"id": "u1"}, "value": 5}
    assert api.post("/v1/metrics/steps/event", event, format="json").status_code == 404

    api.post(URL, [{"key": "steps", "name": "Steps"}], format="json")
    response = api.post("/v1/metrics/steps/event", event, format="json")

    assert response.status_code == 201, response.json()
    assert response.json()["total"] == 5


def test_a_deleted_metric_refuses_events_at_once(api, owner):
    created = api.post(URL, [{"key": "steps", "name": "Steps"}], format="json").json()
    event = {"user": {"id": "u1"}, "value": 5}
    assert api.post("/v1/metrics/steps/event", event, format="json").status_code == 201

    api.delete(f"{URL}?ids={created['created'][0]['id']}")

    assert api.post("/v1/metrics/steps/event", event, format="json").status_code == 404
