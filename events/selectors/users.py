"""Reads of end users."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta

from django.db.models import Sum

from ..db.prepared import PreparedQuery
from ..engine import local_date
from ..exceptions import NotFound
from ..models import DailyRollup, EndUser, Tenant

# Every read endpoint's first query (compiled once: see events/db/prepared.py).
USER_BY_ID = PreparedQuery(
    lambda tenant_id, external_id: EndUser.objects.filter(
        tenant_id=tenant_id, external_id=external_id
    ).order_by("pk")[:1],
    samples=[uuid.UUID(int=0), "sample"],
    fields=[EndUser._meta.get_field("tenant"), EndUser._meta.get_field("external_id")],
)


def user_get(*, tenant: Tenant, external_id: str) -> EndUser:
    """The tenant's user with this id, or NotFound (also for another tenant's user)."""
    found = USER_BY_ID.objects(tenant.pk, external_id)
    if not found:
        raise NotFound(f"User with id {external_id!r} not found.")
    user: EndUser = found[0]
    return user


def user_recent_activity(
    *, user: EndUser, days: int, now: datetime
) -> tuple[list[date], dict[date, int]]:
    """The `days` local dates ending on the user's today (its time zone, else its
    tenant's), and its number of events on each that had any. One query, served by the
    rollups' (user, local_date, metric) unique index."""
    last = local_date(now, user.tz or user.tenant.default_timezone)
    first = last - timedelta(days=days - 1)
    counts = dict(
        DailyRollup.objects.filter(
            tenant_id=user.tenant_id, user_id=user.pk, local_date__range=(first, last)
        )
        .order_by()
        .values("local_date")
        .annotate(events=Sum("event_count"))
        .values_list("local_date", "events")
    )
    return [first + timedelta(days=i) for i in range(days)], counts
