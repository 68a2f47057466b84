"""Admin API reads: active attributes, metrics and tenants, in creation order.

Archived (soft-deleted) objects are invisible here: not listed, and 404 by id. Lookups
are scoped to the tenant (attributes, metrics) or the organization (tenants), so another
tenant's object is a 404 like an unknown or malformed id.
"""

from __future__ import annotations

from typing import TypeVar

from django.db import models

from ..exceptions import NotFound
from ..ids import parse_uuid
from ..models import Attribute, Metric, Organization, Tenant
from ..models.tenancy import TenantStatus

M = TypeVar("M", bound=models.Model)


def attributes_active(*, tenant: Tenant) -> models.QuerySet[Attribute]:
    return Attribute.objects.active().filter(tenant=tenant).order_by("created", "id")


def metrics_active(*, tenant: Tenant) -> models.QuerySet[Metric]:
    return Metric.objects.active().filter(tenant=tenant).order_by("created", "id")


def tenants_active(*, organization: Organization) -> models.QuerySet[Tenant]:
    return Tenant.objects.filter(organization=organization, status=TenantStatus.ACTIVE).order_by(
        "created", "id"
    )


def _get(queryset: models.QuerySet[M], raw_id: str, what: str) -> M:
    parsed = parse_uuid(raw_id)
    obj = queryset.filter(pk=parsed).first() if parsed is not None else None
    if obj is None:
        raise NotFound(f"{what} with id {raw_id!r} not found.")
    return obj


def attribute_get(*, tenant: Tenant, attribute_id: str) -> Attribute:
    """The tenant's active attribute with this id, or NotFound."""
    return _get(attributes_active(tenant=tenant), attribute_id, "Attribute")


def metric_get(*, tenant: Tenant, metric_id: str) -> Metric:
    """The tenant's active metric with this id, or NotFound."""
    return _get(metrics_active(tenant=tenant), metric_id, "Metric")


def tenant_get(*, organization: Organization, tenant_id: str) -> Tenant:
    """The organization's active tenant with this id, or NotFound."""
    return _get(tenants_active(organization=organization), tenant_id, "Tenant")
