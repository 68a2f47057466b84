"""Reads of end users."""

from __future__ import annotations

from ..exceptions import NotFound
from ..models import EndUser, Tenant


def user_get(*, tenant: Tenant, external_id: str) -> EndUser:
    """The tenant's user with this id, or NotFound (also for another tenant's user)."""
    try:
        return EndUser.objects.get(tenant=tenant, external_id=external_id)
    except EndUser.DoesNotExist:
        raise NotFound(f"User with id {external_id!r} not found.") from None
