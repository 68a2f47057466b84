"""The Admin API (/admin-api/v1/) driven through the official `trophy` SDK (`client.admin`)
against a live server; every raw body is also validated against Trophy's admin OpenAPI file
(see conftest.Recorder)."""

from __future__ import annotations

import pytest
from trophy import (
    CreateAttributeRequestItem,
    CreateMetricRequestItem,
    CreateTenantRequestItem,
    NotFoundError,
    UnauthorizedError,
    UpdateAttributeRequestItem,
    UpdateMetricRequestItem,
    UpdateTenantRequestItem,
    UpsertedUser,
)
from trophy.core.api_error import ApiError

from events.models import Attribute, EndUser, Event, Metric, Tenant
from events.services.organizations import organization_create

from .conftest import Recorder

pytestmark = pytest.mark.django_db(transaction=True)


# --- attributes -------------------------------------------------------------------------


def test_attributes_create_list_get_update_delete(trophy, recorder: Recorder, owner):
    created = trophy.admin.attributes.create(
        request=[
            CreateAttributeRequestItem(name="Plan", key="plan", type="user"),
            CreateAttributeRequestItem(name="Device", key="device", type="event"),
        ]
    )
    assert recorder.last.status == 201
    assert created.issues == [] and [a.key for a in created.created] == ["plan", "device"]
    plan = created.created[0]
    assert plan.type == "user"

    listed = trophy.admin.attributes.list()
    assert recorder.last.status == 200 and {a.key for a in listed} == {"plan", "device"}

    fetched = trophy.admin.attributes.get(plan.id)
    assert (fetched.id, fetched.key, fetched.name) == (plan.id, "plan", "Plan")

    updated = trophy.admin.attributes.update(
        request=[UpdateAttributeRequestItem(id=plan.id, name="Pricing plan")]
    )
    assert recorder.last.status == 200
    assert [a.name for a in updated.updated] == ["Pricing plan"] and updated.issues == []

    deleted = trophy.admin.attributes.delete(ids=[plan.id])
    assert recorder.last.status == 200
    assert [d.id for d in deleted.deleted] == [plan.id] and deleted.issues == []
    assert {a.key for a in trophy.admin.attributes.list()} == {"device"}
    assert not Attribute.objects.filter(tenant=owner.tenant, key="plan", status="active").exists()


def test_created_attribute_is_usable_on_the_application_api(trophy, words):
    trophy.admin.attributes.create(
        request=[CreateAttributeRequestItem(name="Device", key="device", type="event")]
    )

    trophy.metrics.event("words", user=UpsertedUser(id="u1"), value=1, attributes={"device": "ios"})

    assert Event.objects.get().attributes == {"device": "ios"}


def test_attribute_create_with_an_invalid_item_reports_an_issue_and_creates_the_rest(
    trophy, recorder: Recorder
):
    result = trophy.admin.attributes.create(
        request=[
            CreateAttributeRequestItem(name="Plan", key="plan", type="user"),
            CreateAttributeRequestItem(name="Bad", key="not a key!", type="user"),
        ]
    )

    assert recorder.last.status == 201
    assert [a.key for a in result.created] == ["plan"]
    assert len(result.issues) == 1 and result.issues[0].index == 1
    assert result.issues[0].severity == "error"


def test_attribute_create_with_only_invalid_items_is_200_with_issues(trophy, recorder: Recorder):
    result = trophy.admin.attributes.create(
        request=[CreateAttributeRequestItem(name="Bad", key="not a key!", type="user")]
    )

    assert recorder.last.status == 200
    assert result.created == [] and len(result.issues) == 1
    assert not Attribute.objects.exists()


def test_unknown_attribute_is_404(trophy):
    with pytest.raises(NotFoundError):
        trophy.admin.attributes.get("00000000-0000-0000-0000-000000000000")


# --- metrics ----------------------------------------------------------------------------


def test_metrics_create_list_get_update_delete(trophy, recorder: Recorder, owner):
    created = trophy.admin.metrics.create(
        request=[
            CreateMetricRequestItem(name="Words", key="words"),
            CreateMetricRequestItem(
                name="Revenue", key="revenue", unit_type="currency", units="USD"
            ),
        ]
    )
    assert recorder.last.status == 201 and created.issues == []
    words, revenue = created.created
    assert (words.unit_type, words.units) == ("number", "")
    assert (revenue.unit_type, revenue.units) == ("currency", "USD")

    assert {m.key for m in trophy.admin.metrics.list()} == {"words", "revenue"}
    assert trophy.admin.metrics.get(words.id).key == "words"

    updated = trophy.admin.metrics.update(
        request=[UpdateMetricRequestItem(id=words.id, name="Words written", units="words")]
    )
    assert [(m.name, m.units) for m in updated.updated] == [("Words written", "words")]

    deleted = trophy.admin.metrics.delete(ids=[revenue.id])
    assert [d.id for d in deleted.deleted] == [revenue.id]
    assert {m.key for m in trophy.admin.metrics.list()} == {"words"}
    assert set(Metric.objects.filter(tenant=owner.tenant).values_list("key", flat=True)) >= {
        "words"
    }


def test_created_metric_accepts_events_and_a_deleted_one_does_not(trophy):
    created = trophy.admin.metrics.create(
        request=[CreateMetricRequestItem(name="Pages", key="pages")]
    )
    assert trophy.metrics.event("pages", user=UpsertedUser(id="u1"), value=3).total == 3

    trophy.admin.metrics.delete(ids=[created.created[0].id])

    with pytest.raises(ApiError) as caught:
        trophy.metrics.event("pages", user=UpsertedUser(id="u1"), value=3)
    assert caught.value.status_code == 404


def test_unknown_metric_is_404(trophy):
    with pytest.raises(NotFoundError):
        trophy.admin.metrics.get("00000000-0000-0000-0000-000000000000")


# --- tenants ----------------------------------------------------------------------------


def test_tenants_create_list_get_update_delete(trophy, recorder: Recorder, owner):
    created = trophy.admin.tenants.create(
        request=[CreateTenantRequestItem(customer_id="cust-1", name="Customer One")]
    )
    assert recorder.last.status == 201 and created.issues == []
    tenant = created.created[0]
    assert (tenant.customer_id, tenant.name, tenant.status) == ("cust-1", "Customer One", "active")

    assert "cust-1" in {t.customer_id for t in trophy.admin.tenants.list()}
    assert trophy.admin.tenants.get(tenant.id).customer_id == "cust-1"

    updated = trophy.admin.tenants.update(
        request=[UpdateTenantRequestItem(id=tenant.id, name="Customer 1")]
    )
    assert [t.name for t in updated.updated] == ["Customer 1"]

    deleted = trophy.admin.tenants.delete(ids=[tenant.id])
    assert [d.id for d in deleted.deleted] == [tenant.id]
    assert "cust-1" not in {t.customer_id for t in trophy.admin.tenants.list()}


def test_tenant_id_header_scopes_the_application_api(trophy, sdk_factory, owner, words):
    trophy.admin.tenants.create(request=[CreateTenantRequestItem(customer_id="cust-1", name="C1")])
    scoped = sdk_factory(owner.key, tenant_id="cust-1")
    scoped.admin.metrics.create(request=[CreateMetricRequestItem(name="Words", key="words")])

    scoped.metrics.event("words", user=UpsertedUser(id="u1"), value=5)

    tenant = Tenant.objects.get(customer_id="cust-1")
    assert EndUser.objects.filter(tenant=tenant, external_id="u1").exists()
    assert not EndUser.objects.filter(tenant=owner.tenant).exists()
    with pytest.raises(ApiError) as caught:
        trophy.users.get("u1")
    assert caught.value.status_code == 404


def test_another_organizations_tenant_is_404(trophy, sdk_factory):
    created = trophy.admin.tenants.create(
        request=[CreateTenantRequestItem(customer_id="cust-1", name="C1")]
    )
    _, other_key = organization_create(name="Other Co")

    with pytest.raises(NotFoundError):
        sdk_factory(other_key).admin.tenants.get(created.created[0].id)


# --- authentication ---------------------------------------------------------------------


def test_admin_operations_without_a_valid_key_raise_unauthorized(sdk_factory, owner):
    prefix = owner.key.split(".")[0]
    bad = sdk_factory(prefix + ".not-the-right-body-at-all-000000000000")
    calls = [
        lambda: bad.admin.attributes.list(),
        lambda: bad.admin.attributes.create(
            request=[CreateAttributeRequestItem(name="P", key="p", type="user")]
        ),
        lambda: bad.admin.metrics.list(),
        lambda: bad.admin.metrics.create(request=[CreateMetricRequestItem(name="W", key="w")]),
        lambda: bad.admin.tenants.list(),
        lambda: bad.admin.tenants.create(
            request=[CreateTenantRequestItem(customer_id="c", name="C")]
        ),
    ]
    for call in calls:
        with pytest.raises(UnauthorizedError):
            call()
    assert not Attribute.objects.exists() and not Metric.objects.exists()
