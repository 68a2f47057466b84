"""Rebuilding derived state from the event log (`python manage.py replay`).

The event log is the source of truth (DESIGN.md): totals and daily rollups (with their
sums per attribute value) are deleted for the scope and recomputed by streaming the
events through `apply_contributions`, the same function incremental ingestion uses, so a replay of an
unchanged log yields exactly the rows it found.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from itertools import islice
from typing import Any

from django.db import transaction

from ..models import DailyRollup, EndUser, Event, MetricTotal, Tenant
from .derived import apply_contributions

CHUNK_SIZE = 10_000
# Users whose rows are deleted and rebuilt per step (bounds the IN lists).
USERS_PER_STEP = 1_000


@dataclass(frozen=True)
class ReplayResult:
    events: int
    deleted: int
    totals: int
    daily: int


def derived_state_replay(
    *,
    tenant: Tenant,
    user: EndUser | None = None,
    chunk_size: int = CHUNK_SIZE,
    progress: Callable[[int], None] | None = None,
) -> ReplayResult:
    """Delete and recompute the derived rows of `tenant` (or of one of its users) from the
    event log, in one transaction. Returns how many events were replayed, how many
    derived rows were deleted and how many of each kind exist afterwards. `progress` is
    called with the number of events of each chunk applied."""
    if user is not None and user.tenant_id != tenant.pk:
        raise ValueError("user belongs to another tenant")
    scope: dict[str, Any] = {"tenant": tenant} if user is None else {"tenant": tenant, "user": user}
    with transaction.atomic():
        # Lock the users in scope, in id order. Every event of a user locks that user's
        # row first (event_record, import_events), so while we hold the locks no event of
        # theirs can commit between our delete and our read: none is counted twice, and
        # other users and tenants keep ingesting. A user created after this point is not
        # in scope; its rows come from its own ingestion. (SQLite has no row locks, but
        # its write transactions exclude each other.)
        user_ids = list(
            EndUser.objects.select_for_update()
            .filter(**({"tenant": tenant} if user is None else {"pk": user.pk}))
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        deleted = replayed = 0
        for start in range(0, len(user_ids), USERS_PER_STEP):
            ids = user_ids[start : start + USERS_PER_STEP]
            for model in (MetricTotal, DailyRollup):
                deleted += model.objects.filter(tenant=tenant, user_id__in=ids).delete()[0]
            # Per user, in the order the events happened: the order the index on
            # (user, timestamp) reads, and the one stateful derivations (streaks,
            # points) will need.
            events = (
                Event.objects.filter(tenant=tenant, user_id__in=ids)
                .order_by("user_id", "timestamp", "id")
                .values_list("user_id", "metric_id", "local_date", "value", "attributes")
                .iterator(chunk_size=chunk_size)
            )
            while chunk := list(islice(events, chunk_size)):
                apply_contributions(tenant.pk, chunk)
                replayed += len(chunk)
                if progress is not None:
                    progress(len(chunk))
        return ReplayResult(
            events=replayed,
            deleted=deleted,
            totals=MetricTotal.objects.filter(**scope).count(),
            daily=DailyRollup.objects.filter(**scope).count(),
        )
