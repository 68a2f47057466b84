"""Reads of users' metric totals and time series, all from derived state."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.db.models import Sum

from ..models import DailyRollup, Metric, MetricTotal, Tenant
from .config import tenant_config
from .users import user_get


@dataclass(frozen=True)
class UserMetric:
    metric: Metric
    total: Decimal  # the user's total (0 when the user has no event of it)


@dataclass(frozen=True)
class SummaryBucket:
    start: date  # the bucket's first day (a Monday for weeks, the 1st for months)
    total: Decimal  # the running total at the end of the bucket, over all time
    change: Decimal  # the sum of the bucket's events


def user_metrics(*, tenant: Tenant, external_id: str) -> list[UserMetric]:
    """Every active metric of the tenant with the user's total: 2 queries."""
    user = user_get(tenant=tenant, external_id=external_id)
    totals = dict(
        MetricTotal.objects.filter(tenant=tenant, user=user).values_list("metric_id", "total")
    )
    metrics = tenant_config(tenant).metrics_by_key.values()
    return [UserMetric(m, totals.get(m.id, Decimal(0))) for m in metrics]


def user_metric(*, tenant: Tenant, external_id: str, key: str) -> UserMetric:
    user = user_get(tenant=tenant, external_id=external_id)
    metric = tenant_config(tenant).metric(key)
    total = (
        MetricTotal.objects.filter(tenant=tenant, user=user, metric=metric)
        .values_list("total", flat=True)
        .first()
    )
    return UserMetric(metric, total if total is not None else Decimal(0))


def bucket_start(day: date, aggregation: str) -> date:
    if aggregation == "weekly":
        # ISO week: Monday. The week of 0001-01-01 (a Monday) starts on it.
        return day - timedelta(days=day.weekday())
    if aggregation == "monthly":
        return day.replace(day=1)
    return day


def bucket_end(start: date, aggregation: str) -> date:
    """The last day of the bucket starting on `start` (the calendar's last day, for the
    week or month that reaches it)."""
    try:
        if aggregation == "weekly":
            return start + timedelta(days=6)
        if aggregation == "monthly":
            return (start.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    except OverflowError:
        return date.max
    return start


def event_summary(
    *, tenant: Tenant, external_id: str, key: str, aggregation: str, start: date, end: date
) -> list[SummaryBucket]:
    """Every bucket from the one containing `start` through the one containing `end`, in
    the user's local dates (ISO weeks). Three queries."""
    user = user_get(tenant=tenant, external_id=external_id)
    metric = tenant_config(tenant).metric(key)
    first = bucket_start(start, aggregation)
    last = bucket_start(end, aggregation)
    rollups = DailyRollup.objects.filter(tenant=tenant, user=user, metric=metric)
    running = rollups.filter(local_date__lt=first).aggregate(s=Sum("total"))["s"] or Decimal(0)
    changes: dict[date, Decimal] = {}
    for day, value in rollups.filter(
        local_date__gte=first, local_date__lte=bucket_end(last, aggregation)
    ).values_list("local_date", "total"):
        bucket = bucket_start(day, aggregation)
        changes[bucket] = changes.get(bucket, Decimal(0)) + Decimal(str(value))
    running = Decimal(str(running))
    out: list[SummaryBucket] = []
    bucket = first
    while True:
        change = changes.get(bucket, Decimal(0))
        running += change
        out.append(SummaryBucket(bucket, running, change))
        if bucket >= last:
            return out
        bucket = bucket_end(bucket, aggregation) + timedelta(days=1)
