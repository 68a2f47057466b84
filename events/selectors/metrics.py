"""Reads of users' metric totals and time series, all from derived state."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Sum

from ..models import DailyRollup, Metric, MetricTotal, Tenant
from ..numbers import to_json_number
from ..services.users import get_user
from .config import tenant_config


def _metric_json(metric: Metric, total: Decimal | None) -> dict[str, Any]:
    # `achievements` lists the metric's achievements with the user's progress; there are
    # none until the achievements issue lands.
    return {
        "id": str(metric.id),
        "key": metric.key,
        "name": metric.name,
        # Required by the official Node SDK's MetricResponse (SEMANTICS A6).
        "status": metric.status,
        "current": to_json_number(total or 0),
        "achievements": [],
    }


def user_metrics(*, tenant: Tenant, external_id: str) -> list[dict[str, Any]]:
    """Every active metric of the tenant with the user's total (0 when none): 2 queries."""
    user = get_user(tenant=tenant, external_id=external_id)
    totals = dict(
        MetricTotal.objects.filter(tenant=tenant, user=user).values_list("metric_id", "total")
    )
    metrics = tenant_config(tenant).metrics_by_key.values()
    return [_metric_json(m, totals.get(m.id)) for m in metrics]


def user_metric(*, tenant: Tenant, external_id: str, key: str) -> dict[str, Any]:
    user = get_user(tenant=tenant, external_id=external_id)
    metric = tenant_config(tenant).metric(key)
    total = (
        MetricTotal.objects.filter(tenant=tenant, user=user, metric=metric)
        .values_list("total", flat=True)
        .first()
    )
    return _metric_json(metric, total)


def bucket_start(day: date, aggregation: str) -> date:
    if aggregation == "weekly":
        return day - timedelta(days=day.weekday())  # ISO week: Monday
    if aggregation == "monthly":
        return day.replace(day=1)
    return day


def next_bucket(start: date, aggregation: str) -> date:
    if aggregation == "weekly":
        return start + timedelta(days=7)
    if aggregation == "monthly":
        return (start.replace(day=28) + timedelta(days=4)).replace(day=1)
    return start + timedelta(days=1)


def event_summary(
    *, tenant: Tenant, external_id: str, key: str, aggregation: str, start: date, end: date
) -> list[dict[str, Any]]:
    """`[{date, total, change}]` for every bucket from the one containing `start` through
    the one containing `end`, in the user's local dates (ISO weeks). `total` is the
    running total at the end of the bucket, over all time. Three queries."""
    user = get_user(tenant=tenant, external_id=external_id)
    metric = tenant_config(tenant).metric(key)
    first = bucket_start(start, aggregation)
    last_end = next_bucket(bucket_start(end, aggregation), aggregation)  # exclusive
    rollups = DailyRollup.objects.filter(tenant=tenant, user=user, metric=metric)
    running = rollups.filter(local_date__lt=first).aggregate(s=Sum("total"))["s"] or Decimal(0)
    changes: dict[date, Decimal] = {}
    for day, value in rollups.filter(local_date__gte=first, local_date__lt=last_end).values_list(
        "local_date", "total"
    ):
        bucket = bucket_start(day, aggregation)
        changes[bucket] = changes.get(bucket, Decimal(0)) + Decimal(str(value))
    running = Decimal(str(running))
    out: list[dict[str, Any]] = []
    bucket = first
    while bucket < last_end:
        following = next_bucket(bucket, aggregation)
        change = changes.get(bucket, Decimal(0))
        running += change
        out.append(
            {
                "date": bucket.isoformat(),
                "total": to_json_number(running),
                "change": to_json_number(change),
            }
        )
        bucket = following
    return out
