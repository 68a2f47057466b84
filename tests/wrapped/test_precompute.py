"""`precompute_wrapped`, the Celery tasks and the beat schedule: in-process without a
broker, through a real worker on Redis with one."""

from __future__ import annotations

import io
import os
from datetime import UTC, datetime
from typing import Any

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django_celery_beat.models import PeriodicTask

from events.models import EndUser, Tenant
from events.models.tenancy import TenantStatus
from tests.wrapped.reference import NOW, load_reference
from wrapped.models import PopulationSet, WrappedSummary
from wrapped.periods import latest_year
from wrapped.services import users_to_precompute
from wrapped.tasks import refresh_populations, refresh_stale_summaries


def precompute(tenant: Any, *args: str) -> str:
    out = io.StringIO()
    call_command(
        "precompute_wrapped",
        "--year",
        "2025",
        "--tenant",
        str(tenant.pk),
        "--no-progress",
        *args,
        stdout=out,
        stderr=io.StringIO(),
    )
    return out.getvalue()


def activities(tenant: Any) -> dict[str, str]:
    return dict(
        WrappedSummary.objects.filter(tenant=tenant, year=2025).values_list(
            "user__external_id", "activity"
        )
    )


def test_precompute_computes_every_user_then_nothing_and_matches_on_demand(owner, api):
    load_reference(api, owner.tenant)
    users = EndUser.objects.filter(tenant=owner.tenant).count()

    out = precompute(owner.tenant, "--chunk-size", "3")

    assert f"{users} summaries computed in this process" in out
    assert users_to_precompute(owner.tenant, 2025) == []
    stored = activities(owner.tenant)
    assert len(stored) == users
    # Safe to run twice: everything is fresh, nothing is computed again.
    assert "0 summaries computed" in precompute(owner.tenant)
    # What a GET computes on demand is what precompute stored.
    WrappedSummary.objects.all().delete()
    with time_machine.travel(NOW, tick=False):
        for user in stored:
            assert api.get(f"/v1/users/{user}/wrapped", {"year": 2025}).status_code == 200
    assert activities(owner.tenant) == stored


def test_precompute_resumes_with_the_users_left(owner, api):
    load_reference(api, owner.tenant)
    with time_machine.travel(NOW, tick=False):
        api.get("/v1/users/ann/wrapped", {"year": 2025})  # one user done already
    users = EndUser.objects.filter(tenant=owner.tenant).count()

    assert f"{users - 1} summaries computed" in precompute(owner.tenant)


def test_precompute_refuses_bad_arguments(owner):
    with pytest.raises(CommandError, match="--chunk-size"):
        precompute(owner.tenant, "--chunk-size", "0")
    with pytest.raises(CommandError, match="not a year"):
        call_command("precompute_wrapped", "--year", "0", "--tenant", str(owner.tenant.pk))
    with pytest.raises(CommandError, match="No tenant"):
        call_command(
            "precompute_wrapped",
            "--year",
            "2025",
            "--tenant",
            "00000000-0000-0000-0000-000000000000",
        )


def test_the_periodic_tasks_refresh_populations_then_stale_summaries(owner, api):
    load_reference(api, owner.tenant)
    precompute(owner.tenant)
    stats = PopulationSet.objects.get(tenant=owner.tenant, year=2025)
    assert refresh_populations.delay().get() == 0 and refresh_stale_summaries.delay().get() == 0

    with time_machine.travel(NOW, tick=False):
        body = {"user": {"id": "p1"}, "value": 1, "timestamp": "2025-08-01T12:00:00Z"}
        assert api.post("/v1/metrics/words/event", body, format="json").status_code == 201

    assert refresh_populations.delay().get() == 1
    stats.refresh_from_db()
    assert stats.version == 2
    # Every stored summary of the year read the old statistics: all are computed again
    # (eagerly here, without a broker).
    assert (
        refresh_stale_summaries.delay().get() == EndUser.objects.filter(tenant=owner.tenant).count()
    )
    assert users_to_precompute(owner.tenant, 2025) == []


def test_the_periodic_tasks_leave_archived_tenants_alone(owner, api):
    load_reference(api, owner.tenant)
    precompute(owner.tenant)
    with time_machine.travel(NOW, tick=False):
        body = {"user": {"id": "p1"}, "value": 1, "timestamp": "2025-08-01T12:00:00Z"}
        assert api.post("/v1/metrics/words/event", body, format="json").status_code == 201
    Tenant.objects.filter(pk=owner.tenant.pk).update(status=TenantStatus.ARCHIVED)

    assert refresh_populations.delay().get() == 0
    assert refresh_stale_summaries.delay().get() == 0
    assert PopulationSet.objects.get(tenant=owner.tenant, year=2025).version == 1


def test_the_beat_schedule_has_the_wrapped_tasks(db):
    call_command("install_beat_schedule", stdout=open(os.devnull, "w"))  # noqa: SIM115
    tasks = dict(
        PeriodicTask.objects.filter(task__startswith="wrapped.").values_list(
            "task", "interval__every"
        )
    )
    assert tasks == {
        "wrapped.tasks.refresh_populations": 600,
        "wrapped.tasks.refresh_stale_summaries": 300,
    }


@pytest.mark.redis
@pytest.mark.postgres
def test_a_real_worker_precomputes_a_tenants_year(redis_worker, owner):
    load_reference(owner.client(), owner.tenant)
    users = EndUser.objects.filter(tenant=owner.tenant).count()

    out = precompute(owner.tenant, "--chunk-size", "2")

    assert f"{users} summaries computed by the workers" in out
    assert users_to_precompute(owner.tenant, 2025) == []
    assert len(activities(owner.tenant)) == users


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_without_a_broker_processes_share_the_users(owner):
    load_reference(owner.client(), owner.tenant)
    users = EndUser.objects.filter(tenant=owner.tenant).count()

    out = precompute(owner.tenant, "--chunk-size", "2", "--processes", "3")

    assert f"{users} summaries computed by 3 processes" in out
    assert users_to_precompute(owner.tenant, 2025) == []
    stored = activities(owner.tenant)
    WrappedSummary.objects.all().delete()
    precompute(owner.tenant, "--processes", "1")
    assert activities(owner.tenant) == stored


def test_the_latest_year_to_recap_is_the_one_begun_in_the_furthest_time_zone():
    # Kiritimati (UTC+14) enters 2026 at 10:00 UTC on 31 December 2025.
    assert latest_year(datetime(2025, 12, 31, 9, 59, tzinfo=UTC)) == 2025
    assert latest_year(datetime(2025, 12, 31, 10, 0, tzinfo=UTC)) == 2026
