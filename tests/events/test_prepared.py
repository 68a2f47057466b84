"""PreparedQuery returns what the queryset it was built from returns."""

from __future__ import annotations

import uuid

import pytest
from django.db import transaction

from events.api.auth import KEY_BY_PREFIX
from events.db.prepared import PreparedQuery
from events.models import ApiKey, EndUser
from events.services.users import USER_FOR_UPDATE
from tests.factories import EndUserFactory


def test_objects_match_the_queryset_including_select_related(owner):
    prefix = owner.key.split(".")[0]
    [key] = KEY_BY_PREFIX.objects(prefix)
    expected = ApiKey.objects.select_related("organization__default_tenant").get(prefix=prefix)

    assert key == expected and key.body_hash == expected.body_hash
    assert key.created == expected.created
    assert key.organization.name == "Acme"
    assert key.organization.default_tenant == owner.tenant
    assert key.organization.default_tenant.config_version == owner.tenant.config_version
    assert KEY_BY_PREFIX.objects("zzzzzzzz") == []


def test_parameters_bind_by_argument_not_by_sql_order(owner, outsider):
    # filter() orders keywords by name (external_id before tenant_id): values passed in
    # the build function's order must still land on the right columns.
    mine = EndUserFactory(tenant=owner.tenant, external_id="same", attributes={"a": "1"})
    EndUserFactory(tenant=outsider.tenant, external_id="same")
    with transaction.atomic():
        [user] = USER_FOR_UPDATE.objects(owner.tenant.pk, "same")
        assert USER_FOR_UPDATE.objects(uuid.uuid4(), "same") == []
    assert user == mine and user.attributes == {"a": "1"} and user.created == mine.created


def test_samples_that_cannot_be_told_apart_are_refused(db):
    query = PreparedQuery(
        lambda a, b: EndUser.objects.filter(external_id=a, email=b),
        samples=["x", "x"],
        fields=[EndUser._meta.get_field("external_id"), EndUser._meta.get_field("email")],
    )
    with pytest.raises(AssertionError, match="cannot match"):
        query.objects("a", "b")
