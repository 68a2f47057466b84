"""Wrapped's writes: computing and storing summaries and population statistics.

A stored summary is served while it is fresh (`is_fresh`); a stale or missing one is
computed for that one user on the spot (`summary_activity`), under a lock on its row so
that concurrent requests compute it once. `summaries_precompute` computes many users'
at once (one query per source for a chunk), for `precompute_wrapped` and the Celery
tasks. Population statistics are computed once per tenant and year
(`populations_refresh`) and reused by every summary until they are refreshed.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

from django.db import connection, transaction
from django.db.models import F, Max, OuterRef, Q, Subquery, Sum
from django.utils import timezone

from events.db.prepared import PreparedQuery
from events.db.sql import replace_rows
from events.exceptions import NotFound
from events.models import DailyRollup, EndUser, Metric, Tenant
from events.selectors.config import tenant_config

from . import percentile_cache, populations
from .highlights import HIGHLIGHTS, Highlights, WrappedOptions
from .models import SCHEMA_VERSION, Population, PopulationSet, WrappedSettings, WrappedSummary
from .percentile_cache import percentiles_of
from .periods import window
from .populations import Percentiles
from .summary import summarize, user_years

# Threads computing population statistics at once, on PostgreSQL (wrapped.populations).
POPULATION_WORKERS = 2

_options: dict[Any, tuple[int, WrappedOptions]] = {}
_options_lock = threading.Lock()


def wrapped_options(tenant: Tenant) -> WrappedOptions:
    """The tenant's Wrapped settings, cached per process like its configuration (saving
    the settings moves the tenant's config_version)."""
    cached = _options.get(tenant.pk)
    if cached is not None and cached[0] == tenant.config_version:
        return cached[1]
    row = WrappedSettings.objects.filter(tenant=tenant).first()
    options = (
        WrappedOptions(min_population=row.min_population, activity_metric_id=row.activity_metric_id)
        if row is not None
        else WrappedOptions()
    )
    with _options_lock:
        _options[tenant.pk] = (tenant.config_version, options)
    return options


# -- Population statistics -----------------------------------------------------------


def events_in_window(tenant: Tenant, year: int) -> int:
    """How many events the tenant's rollups hold for the year's window: what tells
    stale population statistics from fresh ones."""
    span = window(year)
    total = DailyRollup.objects.filter(
        tenant_id=tenant.pk, local_date__range=(span.start, span.end)
    ).aggregate(events=Sum("event_count"))["events"]
    return int(total or 0)


def populations_refresh(*, tenant: Tenant, year: int, force: bool = False) -> PopulationSet:
    """Compute the tenant's population statistics for `year` unless they are current
    (or `force`). Under a lock on the set's row: concurrent callers compute once."""
    # Threads with connections of their own see only committed rows: not when the caller
    # holds a transaction (a test's), which may hold the rollups.
    workers = POPULATION_WORKERS if not connection.in_atomic_block else 1
    PopulationSet.objects.bulk_create(
        [PopulationSet(tenant=tenant, year=year)], ignore_conflicts=True
    )
    with transaction.atomic():
        stats = PopulationSet.objects.select_for_update().get(tenant=tenant, year=year)
        events = events_in_window(tenant, year)
        if stats.version and stats.events == events and not force:
            return stats
        metric_ids = Metric.objects.filter(tenant=tenant).values_list("pk", flat=True)
        computed = populations.compute(tenant.pk, year, list(metric_ids), workers=workers)
        Population.objects.filter(set=stats).delete()
        Population.objects.bulk_create(
            [
                Population(
                    set=stats,
                    kind=item.kind,
                    start=item.start,
                    metric_id=item.metric_id,
                    attribute=item.attribute,
                    value=item.value,
                    n=item.n,
                    thresholds=[[str(change), rank] for change, rank in item.thresholds],
                )
                for item in computed
            ],
            batch_size=1000,
        )
        # Past every version a stored summary of the year saw: a set deleted and made
        # again starts from 0, and an old summary must not match its new versions.
        seen = WrappedSummary.objects.filter(tenant=tenant, year=year).aggregate(
            seen=Max("population_version")
        )["seen"]
        stats.version = max(stats.version, seen or 0) + 1
        stats.events = events
        stats.computed_at = timezone.now()
        stats.save(update_fields=["version", "events", "computed_at"])
        percentile_cache.forget(stats)
        return stats


def population_set(tenant: Tenant, year: int) -> PopulationSet:
    """The tenant's statistics for `year` as they are, computed first if they never were."""
    stats = PopulationSet.objects.filter(tenant=tenant, year=year).first()
    if stats is None or not stats.version:
        stats = populations_refresh(tenant=tenant, year=year)
    return stats


# -- Summaries -----------------------------------------------------------------------


def is_fresh(summary: Any, user: EndUser, tenant: Tenant, population_version: int) -> bool:
    return (
        summary.schema_version == SCHEMA_VERSION
        and summary.stamp == user.derived_stamp
        and not user.sequential_stale
        and summary.config_version == tenant.config_version
        and summary.population_version == population_version
    )


def _activity_texts(
    tenant: Tenant,
    year: int,
    users: Sequence[EndUser],
    percentiles_for: Any,
    highlights: Highlights,
) -> list[str]:
    metrics = {metric.pk: metric for metric in tenant_config(tenant).metrics_by_key.values()}
    contexts = user_years(
        tenant=tenant,
        year=year,
        users=users,
        options=wrapped_options(tenant),
        metrics=metrics,
        highlights=highlights,
    )
    return [
        json.dumps(summarize(ctx, percentiles_for, highlights), separators=(",", ":"))
        for ctx in contexts
    ]


def _summary(
    tenant: Tenant, user: EndUser, year: int, activity: str, population_version: int, now: datetime
) -> WrappedSummary:
    return WrappedSummary(
        tenant=tenant,
        user=user,
        year=year,
        activity=activity,
        computed_at=now,
        stamp=user.derived_stamp,
        config_version=tenant.config_version,
        population_version=population_version,
        schema_version=SCHEMA_VERSION,
    )


SUMMARY_FIELDS = (
    "activity",
    "computed_at",
    "stamp",
    "config_version",
    "population_version",
    "schema_version",
)
STORED_FIELDS = ("tenant", "user", "year", *SUMMARY_FIELDS)


def summaries_precompute(
    *,
    tenant: Tenant,
    year: int,
    user_ids: Sequence[int],
    percentiles: tuple[int, Percentiles] | None = None,
    highlights: Highlights = HIGHLIGHTS,
) -> int:
    """Compute and store the summaries of these users of `tenant` (stale or not), from
    the population statistics as they are (`percentiles`: their version and contents,
    when the caller has them loaded). Returns how many were written."""
    tenant.refresh_from_db(fields=["config_version"])
    if percentiles is None:
        stats = population_set(tenant, year)
        percentiles = (stats.version, percentiles_of(stats))
    version, table = percentiles
    # The stamps are read before the state they stamp: a change in between leaves the
    # summary stale, never wrongly fresh.
    users = list(EndUser.objects.filter(tenant=tenant, pk__in=user_ids).order_by("pk"))
    texts = _activity_texts(tenant, year, users, lambda periods: table, highlights)
    now = timezone.now()
    replace_rows(
        [
            _summary(tenant, user, year, text, version, now)
            for user, text in zip(users, texts, strict=True)
        ],
        fields=STORED_FIELDS,
        unique=("user", "year"),
    )
    return len(users)


class StoredSummary(NamedTuple):
    """What `summary_activity` reads of a stored summary."""

    activity: str
    stamp: int
    config_version: int
    population_version: int
    schema_version: int
    current_population: int | None


# The fresh path's one query: the summary, with the version of the population statistics
# it must have seen (compiled once: see events/db/prepared.py).
SUMMARY_OF = PreparedQuery(
    lambda user_id, year: (
        WrappedSummary.objects.filter(user_id=user_id, year=year)
        .annotate(
            current_population=Subquery(
                PopulationSet.objects.filter(
                    tenant=OuterRef("tenant"), year=OuterRef("year")
                ).values("version")[:1]
            )
        )
        .order_by()
        .values_list(*StoredSummary._fields)[:1]
    ),
    samples=[-1, 9999],
    fields=[WrappedSummary._meta.get_field("user"), WrappedSummary._meta.get_field("year")],
)


def summary_activity(
    *, tenant: Tenant, user: EndUser, year: int, highlights: Highlights = HIGHLIGHTS
) -> str:
    """The user's recap of `year` (its `activity`, as JSON text): the stored summary when
    fresh, else computed now and stored. One query when fresh."""
    found = SUMMARY_OF.rows(user.pk, year)
    stored = StoredSummary(*found[0]) if found else None
    if stored is not None and is_fresh(stored, user, tenant, stored.current_population or 0):
        return stored.activity
    stats = population_set(tenant, year)
    with transaction.atomic():
        # Concurrent requests for one stale summary queue on its row; the first computes
        # it, the others find it fresh.
        mine = WrappedSummary.objects.select_for_update().filter(user=user, year=year)
        locked = mine.first() if stored is not None else None
        if locked is None:  # a row to lock: a placeholder that is never fresh
            placeholder = _summary(tenant, user, year, "", 0, timezone.now())
            placeholder.schema_version = 0
            WrappedSummary.objects.bulk_create([placeholder], ignore_conflicts=True)
            locked = mine.get()
        # Its stamp now, read after the lock (the user may have been deleted meanwhile).
        current = EndUser.objects.filter(pk=user.pk).first()
        if current is None:
            raise NotFound(f"User with id {user.external_id!r} not found.")
        user = current
        if is_fresh(locked, user, tenant, stats.version):
            return locked.activity

        table = percentiles_of(stats)
        [text] = _activity_texts(tenant, year, [user], lambda periods: table, highlights)
        fresh = _summary(tenant, user, year, text, stats.version, timezone.now())
        fresh.pk = locked.pk
        fresh.save(force_update=True)
        return text


# -- Many summaries: precompute and periodic refresh ----------------------------------


def fresh_condition() -> Q:
    """`is_fresh` in SQL, for querysets of WrappedSummary."""
    version = PopulationSet.objects.filter(tenant=OuterRef("tenant"), year=OuterRef("year")).values(
        "version"
    )[:1]
    return Q(
        schema_version=SCHEMA_VERSION,
        config_version=F("tenant__config_version"),
        population_version=Subquery(version),
        stamp=F("user__derived_stamp"),
        user__sequential_stale=False,
    )


def fresh_summaries(tenant: Tenant, year: int) -> Any:
    """The tenant's summaries of `year` that are fresh."""
    return WrappedSummary.objects.filter(fresh_condition(), tenant=tenant, year=year)


def users_to_precompute(tenant: Tenant, year: int) -> list[int]:
    """The tenant's users without a fresh summary of `year`, by id."""
    fresh = fresh_summaries(tenant, year).values("user_id")
    return list(
        EndUser.objects.filter(tenant=tenant)
        .exclude(pk__in=fresh)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def stale_summaries(tenant: Tenant, year: int, limit: int) -> list[int]:
    """Users whose stored summary of `year` is stale (at most `limit`), by id: what the
    periodic refresh computes again. Users never asked for are left to precompute."""
    fresh = fresh_summaries(tenant, year).values("pk")
    return list(
        WrappedSummary.objects.filter(tenant=tenant, year=year)
        .exclude(pk__in=fresh)
        .order_by("user_id")
        .values_list("user_id", flat=True)[:limit]
    )


def chunks(ids: Sequence[int], size: int) -> list[list[int]]:
    return [list(ids[start : start + size]) for start in range(0, len(ids), size)]
