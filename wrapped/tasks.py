"""Celery tasks of Wrapped. Thin: take ids, call one service, safe to run twice.

Beat runs `refresh_populations` and `refresh_stale_summaries` periodically
(events/management/commands/install_beat_schedule.py has the schedule); operators run
`precompute_wrapped` before a launch, which fans `precompute_summaries` out over the
workers.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task
from django.conf import settings

from events.models import Tenant
from events.models.tenancy import TenantStatus

from .models import PopulationSet
from .services import chunks, populations_refresh, stale_summaries, summaries_precompute

logger = logging.getLogger(__name__)


@shared_task(acks_late=True)
def precompute_summaries(tenant_id: str, year: int, user_ids: list[int]) -> int:
    """Compute and store these users' summaries (stale or not). Returns how many."""
    tenant = Tenant.objects.get(pk=tenant_id)
    return summaries_precompute(tenant=tenant, year=year, user_ids=user_ids)


def _active_sets() -> Any:
    """The population sets of active tenants (an archived tenant's recaps are not served)."""
    return PopulationSet.objects.select_related("tenant").filter(tenant__status=TenantStatus.ACTIVE)


@shared_task
def refresh_populations() -> int:
    """Periodic: compute again the population statistics of every tenant and year that
    has them, when events were added since. Returns how many were computed again."""
    refreshed = 0
    for stats in _active_sets():
        before = stats.version
        if populations_refresh(tenant=stats.tenant, year=stats.year).version != before:
            refreshed += 1
    if refreshed:
        logger.info("refreshed the population statistics of %d tenant years", refreshed)
    return refreshed


@shared_task
def refresh_stale_summaries() -> int:
    """Periodic: enqueue the stored summaries that went stale (new events, a new version
    of the population statistics, a configuration change), in chunks, at most
    WRAPPED_REFRESH_LIMIT per tenant and year per run. Returns how many were enqueued."""
    limit = settings.WRAPPED_REFRESH_LIMIT
    size = settings.WRAPPED_CHUNK_SIZE
    enqueued = 0
    for stats in _active_sets():
        stale = stale_summaries(stats.tenant, stats.year, limit)
        for chunk in chunks(stale, size):
            precompute_summaries.delay(str(stats.tenant_id), stats.year, chunk)
        enqueued += len(stale)
    if enqueued:
        logger.info("enqueued %d stale Wrapped summaries", enqueued)
    return enqueued
