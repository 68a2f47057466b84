"""Admin API writes: attributes, metrics and tenants, with Trophy's bulk conventions.

Every service takes a list of already-parsed items and applies each one on its own: a
bad item becomes an `Issue` (severity `error`, located by `index` on create or `id` on
update/delete) and the others are still applied (SEMANTICS §10.1). One transaction per
call. Services that change metrics or attributes bump the tenant's config version in
that transaction, so every process's configuration cache sees the change at once.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from django.db import IntegrityError, models, transaction
from django.utils import timezone

from ..ids import parse_uuid
from ..models import Attribute, Metric, Organization, Tenant
from ..models.config import ConfigStatus, UnitType
from ..models.tenancy import DEFAULT_TENANT_CUSTOMER_ID, TenantStatus

T = TypeVar("T")
M = TypeVar("M", bound=models.Model)

KEY_IN_USE = "Key already in use"
CUSTOMER_ID_IN_USE = "Customer ID already in use"
CURRENCY_CODE = re.compile(r"^[A-Z]{3}$")


@dataclass(frozen=True)
class Issue:
    """Trophy's `AdminIssue`: why one item was not (or not fully) applied."""

    message: str
    severity: str = "error"
    index: int | None = None
    id: str | None = None


@dataclass
class BulkResult(Generic[T]):
    """What a bulk service did: the objects it created/updated/deleted, and the issues."""

    done: list[T] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)


@dataclass(frozen=True)
class NewAttribute:
    index: int
    key: str
    name: str
    type: str


@dataclass(frozen=True)
class NewMetric:
    index: int
    key: str
    name: str
    unit_type: str = UnitType.NUMBER
    units: str | None = None


@dataclass(frozen=True)
class NewTenant:
    index: int
    customer_id: str
    name: str


@dataclass(frozen=True)
class Change:
    """An update item: the raw `id` as sent and the model fields to set."""

    id: str
    fields: dict[str, Any]


def units_problem(unit_type: str, units: str) -> str | None:
    if unit_type == UnitType.CURRENCY and not CURRENCY_CODE.match(units):
        return "units: a currency metric needs a 3-letter ISO 4217 currency code such as USD."
    return None


def _insert(obj: models.Model) -> bool:
    """Save `obj` in a savepoint; False when a unique constraint refused it (a concurrent
    request took the key between our check and our insert)."""
    try:
        with transaction.atomic():
            obj.save(force_insert=True)
    except IntegrityError:
        return False
    return True


def _update_each(
    queryset: models.QuerySet[M],
    items: Sequence[Change],
    apply: Callable[[M, dict[str, Any]], str | None],
) -> BulkResult[M]:
    """Apply each change to the object of `queryset` with its id; `apply` returns an error
    message instead of changing the object when the change is refused."""
    result: BulkResult[M] = BulkResult()
    ids = [parsed for item in items if (parsed := parse_uuid(item.id)) is not None]
    # Lock the rows: two concurrent updates of one object must not interleave their checks.
    found = {obj.pk: obj for obj in queryset.select_for_update().filter(pk__in=ids)}
    for item in items:
        parsed = parse_uuid(item.id)
        if parsed is None:
            result.issues.append(Issue(f"Invalid id {item.id!r}: not a UUID.", id=item.id))
            continue
        obj = found.get(parsed)
        if obj is None:
            result.issues.append(Issue("Not found.", id=item.id))
            continue
        problem = apply(obj, item.fields)
        if problem is not None:
            result.issues.append(Issue(problem, id=item.id))
            continue
        try:
            with transaction.atomic():
                obj.save()
        except IntegrityError:
            obj.refresh_from_db()
            result.issues.append(Issue("Conflicts with another item.", id=item.id))
            continue
        if obj not in result.done:
            result.done.append(obj)
    return result


def _archive_each(
    queryset: models.QuerySet[M],
    ids: Sequence[str],
    refuse: Callable[[M], str | None] = lambda obj: None,
) -> BulkResult[str]:
    """Soft-delete (status `archived`) the objects of `queryset` with these ids."""
    result: BulkResult[str] = BulkResult()
    parsed_ids = [parsed for raw in ids if (parsed := parse_uuid(raw)) is not None]
    found = {obj.pk: obj for obj in queryset.select_for_update().filter(pk__in=parsed_ids)}
    archived: set[uuid.UUID] = set()
    for raw in dict.fromkeys(ids):  # a repeated id is deleted (and reported) once
        parsed = parse_uuid(raw)
        if parsed is None:
            result.issues.append(Issue(f"Invalid id {raw!r}: not a UUID.", id=raw))
            continue
        obj = found.get(parsed)
        if obj is None or parsed in archived:
            if obj is None:
                result.issues.append(Issue("Not found.", id=raw))
            continue
        problem = refuse(obj)
        if problem is not None:
            result.issues.append(Issue(problem, id=raw))
            continue
        archived.add(parsed)
        result.done.append(str(obj.pk))
    if archived:
        queryset.model._default_manager.filter(pk__in=archived).update(
            status=ConfigStatus.ARCHIVED, updated=timezone.now()
        )
    return result


# Attributes -------------------------------------------------------------------------


@transaction.atomic
def attributes_create(*, tenant: Tenant, items: Sequence[NewAttribute]) -> BulkResult[Attribute]:
    """Create attributes; a key already used by an active attribute of the same type
    (or earlier in the same request) is refused. Returns the created attributes."""
    result: BulkResult[Attribute] = BulkResult()
    taken = set(Attribute.objects.active().filter(tenant=tenant).values_list("type", "key"))
    for item in items:
        if (item.type, item.key) in taken:
            result.issues.append(Issue(KEY_IN_USE, index=item.index))
            continue
        attribute = Attribute(tenant=tenant, key=item.key, name=item.name, type=item.type)
        if not _insert(attribute):
            result.issues.append(Issue(KEY_IN_USE, index=item.index))
            continue
        taken.add((item.type, item.key))
        result.done.append(attribute)
    if result.done:
        tenant.bump_config_version()
    return result


def _set_fields(obj: models.Model, fields: dict[str, Any]) -> None:
    for name, value in fields.items():
        setattr(obj, name, value)


@transaction.atomic
def attributes_update(*, tenant: Tenant, items: Sequence[Change]) -> BulkResult[Attribute]:
    """Rename attributes (key and type are immutable). Returns the updated attributes."""

    def apply(attribute: Attribute, fields: dict[str, Any]) -> str | None:
        _set_fields(attribute, fields)
        return None

    result = _update_each(Attribute.objects.active().filter(tenant=tenant), items, apply)
    if result.done:
        tenant.bump_config_version()
    return result


@transaction.atomic
def attributes_delete(*, tenant: Tenant, ids: Sequence[str]) -> BulkResult[str]:
    """Archive attributes. Returns the ids archived."""
    result = _archive_each(Attribute.objects.active().filter(tenant=tenant), ids)
    if result.done:
        tenant.bump_config_version()
    return result


# Metrics ----------------------------------------------------------------------------


@transaction.atomic
def metrics_create(*, tenant: Tenant, items: Sequence[NewMetric]) -> BulkResult[Metric]:
    """Create metrics; a key already used by an active metric (or earlier in the same
    request) is refused. Returns the created metrics."""
    result: BulkResult[Metric] = BulkResult()
    taken = set(Metric.objects.active().filter(tenant=tenant).values_list("key", flat=True))
    for item in items:
        units = item.units or ""
        problem = units_problem(item.unit_type, units)
        if problem is not None:
            result.issues.append(Issue(problem, index=item.index))
            continue
        if item.key in taken:
            result.issues.append(Issue(KEY_IN_USE, index=item.index))
            continue
        metric = Metric(
            tenant=tenant, key=item.key, name=item.name, unit_type=item.unit_type, units=units
        )
        if not _insert(metric):
            result.issues.append(Issue(KEY_IN_USE, index=item.index))
            continue
        taken.add(item.key)
        result.done.append(metric)
    if result.done:
        tenant.bump_config_version()
    return result


@transaction.atomic
def metrics_update(*, tenant: Tenant, items: Sequence[Change]) -> BulkResult[Metric]:
    """Change metrics' name, unit type and units (the key is immutable). Returns the
    updated metrics."""

    def apply(metric: Metric, fields: dict[str, Any]) -> str | None:
        unit_type = fields.get("unit_type", metric.unit_type)
        units = fields.get("units", metric.units)
        if "unit_type" in fields and "units" not in fields and unit_type != metric.unit_type:
            # Free-form number labels mean nothing as a currency, and vice versa.
            units = ""
        problem = units_problem(unit_type, units)
        if problem is not None:
            return problem
        _set_fields(metric, {**fields, "unit_type": unit_type, "units": units})
        return None

    result = _update_each(Metric.objects.active().filter(tenant=tenant), items, apply)
    if result.done:
        tenant.bump_config_version()
    return result


@transaction.atomic
def metrics_delete(*, tenant: Tenant, ids: Sequence[str]) -> BulkResult[str]:
    """Archive metrics: their events and totals stay, new events for them are refused.
    Returns the ids archived."""
    result = _archive_each(Metric.objects.active().filter(tenant=tenant), ids)
    if result.done:
        tenant.bump_config_version()
    return result


# Tenants ----------------------------------------------------------------------------


@transaction.atomic
def tenants_create(*, organization: Organization, items: Sequence[NewTenant]) -> BulkResult[Tenant]:
    """Create tenants of `organization`; `customerId` is unique per organization (also
    among archived tenants, whose id stays reserved). Returns the created tenants."""
    result: BulkResult[Tenant] = BulkResult()
    taken = set(
        Tenant.objects.filter(organization=organization).values_list("customer_id", flat=True)
    )
    default = organization.default_tenant
    timezone_name = default.default_timezone if default is not None else "UTC"
    for item in items:
        if item.customer_id in taken:
            result.issues.append(Issue(CUSTOMER_ID_IN_USE, index=item.index))
            continue
        tenant = Tenant(
            organization=organization,
            customer_id=item.customer_id,
            name=item.name,
            default_timezone=timezone_name,
        )
        if not _insert(tenant):
            result.issues.append(Issue(CUSTOMER_ID_IN_USE, index=item.index))
            continue
        taken.add(item.customer_id)
        result.done.append(tenant)
    return result


@transaction.atomic
def tenants_update(*, organization: Organization, items: Sequence[Change]) -> BulkResult[Tenant]:
    """Change tenants' name and customerId. Returns the updated tenants."""
    taken = set(
        Tenant.objects.filter(organization=organization).values_list("customer_id", flat=True)
    )

    def apply(tenant: Tenant, fields: dict[str, Any]) -> str | None:
        new_id = fields.get("customer_id", tenant.customer_id)
        if new_id != tenant.customer_id:
            if tenant.pk == organization.default_tenant_id:
                return "The customerId of the default tenant cannot be changed."
            if new_id in taken:
                return CUSTOMER_ID_IN_USE
            taken.discard(tenant.customer_id)
            taken.add(new_id)
        _set_fields(tenant, fields)
        return None

    active = Tenant.objects.filter(organization=organization, status=TenantStatus.ACTIVE)
    return _update_each(active, items, apply)


@transaction.atomic
def tenants_delete(*, organization: Organization, ids: Sequence[str]) -> BulkResult[str]:
    """Archive tenants (not the organization's default tenant). Returns the ids archived."""

    def refuse(tenant: Tenant) -> str | None:
        if tenant.pk == organization.default_tenant_id:
            return f"The default tenant ({DEFAULT_TENANT_CUSTOMER_ID!r}) cannot be deleted."
        return None

    active = Tenant.objects.filter(organization=organization, status=TenantStatus.ACTIVE)
    return _archive_each(active, ids, refuse)
