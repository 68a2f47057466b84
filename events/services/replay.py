"""Rebuilding derived state from the event log (`python manage.py replay`).

The event log is the source of truth (DESIGN.md): totals, daily rollups and attribute
rollups are deleted for the scope and recomputed by streaming the events through
`apply_contributions`, the same function incremental ingestion uses, so a replay of an
unchanged log yields exactly the rows it found.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from itertools import islice
from typing import Any

from django.db import connection, transaction

from ..models import DailyAttributeRollup, DailyRollup, EndUser, Event, MetricTotal, Tenant
from .derived import Contribution, apply_contributions

CHUNK_SIZE = 10_000


@dataclass(frozen=True)
class ReplayResult:
    events: int
    deleted: int
    totals: int
    daily: int
    by_attribute: int


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
        if connection.vendor == "postgresql":
            # Keep new events out while the rows are rebuilt: an event committed between
            # the delete and the read below would otherwise be counted twice (its own
            # upsert, then the replay). Reads go on; writers wait for the commit. SQLite
            # transactions already exclude each other.
            with connection.cursor() as cursor:
                cursor.execute(
                    f"LOCK TABLE {connection.ops.quote_name(Event._meta.db_table)} IN SHARE MODE"
                )
        deleted = 0
        for model in (MetricTotal, DailyRollup, DailyAttributeRollup):
            deleted += model.objects.filter(**scope).delete()[0]
        # Per user, in the order the events happened: the order the index on
        # (tenant, user, timestamp) reads, and the one stateful derivations (streaks,
        # points) will need.
        events = (
            Event.objects.filter(**scope)
            .order_by("user_id", "timestamp", "id")
            .values_list("user_id", "metric_id", "local_date", "value", "attributes")
            .iterator(chunk_size=chunk_size)
        )
        replayed = 0
        while True:
            chunk: list[Contribution] = list(islice(events, chunk_size))
            if not chunk:
                break
            apply_contributions(tenant.pk, chunk)
            replayed += len(chunk)
            if progress is not None:
                progress(len(chunk))
        return ReplayResult(
            events=replayed,
            deleted=deleted,
            totals=MetricTotal.objects.filter(**scope).count(),
            daily=DailyRollup.objects.filter(**scope).count(),
            by_attribute=DailyAttributeRollup.objects.filter(**scope).count(),
        )
