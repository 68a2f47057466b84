"""Rebuilding derived state from the event log (`python manage.py rebuild`).

The event log is the source of truth (DESIGN.md): every registered derivation's rows
for the scope are deleted and computed again by the engine, the same code every arrival
path uses, so a rebuild of an unchanged log yields exactly the rows it found.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.db import transaction

from ..engine import REGISTRY, rebuild
from ..models import EndUser, Tenant
from ..selectors.config import tenant_config


@dataclass(frozen=True)
class RebuildResult:
    users: int
    events: int  # events read from the log
    deleted: int  # derived rows deleted
    rows: dict[str, int]  # rows of each registered table afterwards, by its plural name


def derived_state_rebuild(
    *,
    tenant: Tenant,
    user: EndUser | None = None,
    progress: Callable[[int], None] | None = None,
) -> RebuildResult:
    """Delete and recompute the derived state of `tenant` (or of one of its users) from
    the event log, in one transaction; returns how many users and events it covered, how
    many derived rows it deleted and how many each registered table has afterwards. `progress` is called with the number of events of
    each chunk applied.

    The users in scope are locked (in id order) for the whole transaction. Every event
    of a user locks that user's row first, so none can commit between the rebuild's
    delete and its read: none is counted twice, and other users and tenants keep
    ingesting. A user created after the lock is not in scope; its rows come from its
    own events."""
    if user is not None and user.tenant_id != tenant.pk:
        raise ValueError("user belongs to another tenant")
    users = EndUser.objects.filter(tenant=tenant)
    if user is not None:
        users = users.filter(pk=user.pk)
    with transaction.atomic():
        rebuilt = rebuild(
            tenant=tenant,
            config=tenant_config(tenant),
            user_ids=list(users.values_list("pk", flat=True)),
            progress=progress,
        )
    scope = {"tenant": tenant} if user is None else {"tenant": tenant, "user": user}
    rows = {
        str(table._meta.verbose_name_plural): table._default_manager.filter(**scope).count()
        for table in REGISTRY.tables()
    }
    return RebuildResult(rebuilt.users, rebuilt.events, rebuilt.deleted, rows)
