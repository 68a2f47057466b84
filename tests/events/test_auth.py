"""API keys, tenants and `create_organization`."""

from __future__ import annotations

import io
from datetime import timedelta

from django.core.management import call_command
from django.utils import timezone

from events.models import ApiKey, Organization, Tenant


def test_revoked_key_is_401(owner):
    ApiKey.objects.filter(organization=owner.organization).update(revoked_at=timezone.now())
    response = owner.client().get("/v1/users/u1")
    assert response.status_code == 401 and "revoked" in response.json()["error"]


def test_key_with_right_prefix_and_wrong_body_is_401(client, owner):
    prefix = owner.key.split(".")[0]
    response = client.get("/v1/users/u1", HTTP_X_API_KEY=f"{prefix}.wrong-body")
    assert response.status_code == 401


def test_malformed_keys_are_401(client, owner):
    for raw in ("nodot", ".body", "short.body", "x" * 8 + "."):
        assert client.get("/v1/users/u1", HTTP_X_API_KEY=raw).status_code == 401


def test_only_a_hash_of_the_key_body_is_stored(owner):
    prefix, body = owner.key.split(".")
    key = ApiKey.objects.get(prefix=prefix)
    assert len(body) >= 43  # 32 random bytes, url-safe base64
    assert body not in key.body_hash and key.matches(body)


def test_last_used_is_written_once_per_resolution_window(owner):
    client = owner.client()
    client.get("/v1/users/u1")
    first = ApiKey.objects.get(organization=owner.organization).last_used
    assert first is not None
    client.get("/v1/users/u1")
    assert ApiKey.objects.get(organization=owner.organization).last_used == first

    ApiKey.objects.update(last_used=timezone.now() - timedelta(minutes=5))
    client.get("/v1/users/u1")
    touched = ApiKey.objects.get(organization=owner.organization).last_used
    assert touched is not None and touched > first


def test_archived_tenant_is_404(owner):
    Tenant.objects.create(
        organization=owner.organization, customer_id="gone", name="Gone", status="archived"
    )
    assert owner.client(tenant_id="gone").get("/v1/users/u1").status_code == 404


def test_create_organization_prints_a_working_key_last(db, client):
    out = io.StringIO()
    call_command("create_organization", "Initech", stdout=out)

    key = out.getvalue().strip().splitlines()[-1]
    organization = Organization.objects.get(name="Initech")
    assert organization.default_tenant is not None
    assert organization.default_tenant.customer_id == "default"
    assert client.get("/v1/users/nobody", HTTP_X_API_KEY=key).status_code == 404


def test_an_expired_key_is_401_and_one_expiring_later_works(owner):
    key = ApiKey.objects.get(organization=owner.organization)
    key.expires_at = timezone.now() + timedelta(hours=1)
    key.save(update_fields=["expires_at"])
    assert owner.client().get("/v1/users/u1").status_code == 404  # authenticated: no such user

    ApiKey.objects.filter(pk=key.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    response = owner.client().get("/v1/users/u1")
    assert response.status_code == 401 and "expired" in response.json()["error"]
