"""API-key authentication and tenant resolution.

`X-API-KEY: {prefix}.{body}`. One query loads the key with its organization and the
organization's default tenant; a `Tenant-ID` header costs one more. The tenant is
resolved lazily, so organization-level endpoints (`/tenants`) ignore the header.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.utils import timezone
from rest_framework import authentication, exceptions, permissions
from rest_framework.request import Request

from ..db.prepared import PreparedQuery
from ..exceptions import NotFound
from ..models import ApiKey, Organization, Tenant
from ..models.tenancy import KEY_PREFIX_LENGTH, TenantStatus

API_KEY_HEADER = "HTTP_X_API_KEY"
KEY_BY_PREFIX = PreparedQuery(
    lambda prefix: ApiKey.objects.select_related("organization__default_tenant").filter(
        prefix=prefix
    ),
    samples=["a" * KEY_PREFIX_LENGTH],
    fields=[ApiKey._meta.get_field("prefix")],
)
TENANT_HEADER = "HTTP_TENANT_ID"


@dataclass
class ApiContext:
    """What an authenticated request acts as: `request.user` and `request.auth`."""

    api_key: ApiKey
    organization: Organization
    tenant_header: str | None
    _tenant: Tenant | None = field(default=None, repr=False)

    is_authenticated = True

    @property
    def tenant(self) -> Tenant:
        if self._tenant is None:
            self._tenant = resolve_tenant(self.organization, self.tenant_header)
        return self._tenant


def resolve_tenant(organization: Organization, customer_id: str | None) -> Tenant:
    if customer_id is None or customer_id == "":
        tenant = organization.default_tenant
        if tenant is None:  # pragma: no cover - create_organization always sets one
            raise NotFound("This organization has no default tenant.")
        return tenant
    try:
        return Tenant.objects.get(
            organization=organization, customer_id=customer_id, status=TenantStatus.ACTIVE
        )
    except Tenant.DoesNotExist:
        raise NotFound(f"Tenant-ID {customer_id!r} does not match any tenant.") from None


def authenticate_key(raw: str | None) -> ApiKey:
    if not raw:
        raise exceptions.NotAuthenticated("Missing API key: send it in the X-API-KEY header.")
    prefix, sep, body = raw.strip().partition(".")
    if not sep or len(prefix) != KEY_PREFIX_LENGTH or not body:
        raise exceptions.AuthenticationFailed("Invalid API key.")
    key = next(iter(KEY_BY_PREFIX.objects(prefix)), None)
    # Compare even when the prefix is unknown, so timing does not reveal which prefixes exist.
    if key is None:
        ApiKey(body_hash="0" * 64).matches(body)
        raise exceptions.AuthenticationFailed("Invalid API key.")
    if not key.matches(body):
        raise exceptions.AuthenticationFailed("Invalid API key.")
    if not key.is_active:
        raise exceptions.AuthenticationFailed("This API key has been revoked.")
    now = timezone.now()
    if key.expired(now):
        raise exceptions.AuthenticationFailed("This API key has expired.")
    if key.needs_last_used_touch(now, settings.API_KEY_LAST_USED_RESOLUTION_SECONDS):
        ApiKey.objects.filter(pk=key.pk).update(last_used=now)
        key.last_used = now
    return key


class ApiKeyAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[ApiContext, ApiContext]:
        key = authenticate_key(request.META.get(API_KEY_HEADER))
        context = ApiContext(
            api_key=key,
            organization=key.organization,
            tenant_header=request.META.get(TENANT_HEADER),
        )
        return context, context

    def authenticate_header(self, request: Request) -> str:
        # Any value makes DRF answer 401 (not 403) for a missing key.
        return "X-API-KEY"


class HasApiKey(permissions.BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        return isinstance(request.auth, ApiContext)


def tenant_of(request: Request) -> Tenant:
    """The tenant an authenticated request acts in (404 for an unknown Tenant-ID)."""
    auth = request.auth
    assert isinstance(auth, ApiContext)
    return auth.tenant
