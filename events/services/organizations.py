"""Creating organizations, their default tenant and admin API keys."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction

from ..models import ApiKey, Organization, Tenant
from ..models.tenancy import DEFAULT_TENANT_CUSTOMER_ID, hash_key_body


def api_key_create(
    *, organization: Organization, name: str = "", expires_at: datetime | None = None
) -> tuple[ApiKey, str]:
    """Create an admin API key (valid until `expires_at`, if given). Returns (key, the full
    `prefix.body` secret); the secret is not stored and cannot be shown again."""
    prefix, body = ApiKey.generate_secret()
    key = ApiKey.objects.create(
        organization=organization,
        name=name,
        prefix=prefix,
        body_hash=hash_key_body(body),
        expires_at=expires_at,
    )
    return key, f"{prefix}.{body}"


@transaction.atomic
def organization_create(
    *, name: str, default_timezone: str = "UTC", key_name: str = "default"
) -> tuple[Organization, str]:
    """Create an organization with its default tenant and one admin API key.
    Returns (organization, the key's secret)."""
    organization = Organization.objects.create(name=name)
    tenant = Tenant.objects.create(
        organization=organization,
        customer_id=DEFAULT_TENANT_CUSTOMER_ID,
        name=name,
        default_timezone=default_timezone,
    )
    organization.default_tenant = tenant
    organization.save(update_fields=["default_tenant"])
    _key, secret = api_key_create(organization=organization, name=key_name)
    return organization, secret
