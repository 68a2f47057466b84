"""Operator edits of tenant configuration made in the Django admin.

Every change to a metric or an attribute must move `Tenant.config_version` in the same
transaction, or web processes keep serving their cached configuration
(events/selectors/config.py). The admin calls these instead of saving models itself.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from ..models import Attribute, Metric, Tenant
from ..models.config import ConfigStatus


def _bump(tenant_ids: Iterable[uuid.UUID]) -> None:
    # Sorted, so two operators touching the same tenants lock their rows in one order.
    for tenant in Tenant.objects.filter(pk__in=set(tenant_ids)).order_by("pk"):
        tenant.bump_config_version()


@transaction.atomic
def config_item_save(*, item: Metric | Attribute) -> Metric | Attribute:
    """Save a metric or attribute as edited (created or changed) and invalidate its
    tenant's cached configuration. Returns the saved item. (The admin never moves an item
    to another tenant: its events would follow it.)"""
    item.save()
    _bump([item.tenant_id])
    return item


@transaction.atomic
def config_items_archive(*, items: QuerySet[Metric] | QuerySet[Attribute]) -> int:
    """Archive (soft-delete) the given metrics or attributes, as the Admin API's delete
    does. Returns how many were active before."""
    tenant_ids = list(items.values_list("tenant_id", flat=True).distinct())
    archived = items.filter(status=ConfigStatus.ACTIVE).update(
        status=ConfigStatus.ARCHIVED, updated=timezone.now()
    )
    if archived:
        _bump(tenant_ids)
    return archived
