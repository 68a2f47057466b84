"""Stored summaries: served while fresh, computed again when anything they were computed
from moves, once however many requests ask at the same time; highlights plug in."""

from __future__ import annotations

import threading
from typing import Any

import httpx
import pytest
import time_machine
from django.db import connection
from django.db.models import F
from django.test.utils import CaptureQueriesContext

from events.models import EndUser, Tenant
from tests.wrapped.reference import NOW, load_reference
from wrapped.highlights import HIGHLIGHTS, Highlight
from wrapped.models import PopulationSet, WrappedSettings, WrappedSummary
from wrapped.services import populations_refresh, summaries_precompute

URL = "/v1/users/{}/wrapped"


@pytest.fixture
def reference(owner, api):
    load_reference(api, owner.tenant)
    return api


def get(client: Any, user: str = "ann", **params: Any) -> Any:
    with time_machine.travel(NOW, tick=False):
        return client.get(URL.format(user), {"year": 2025, **params})


def summary(user: str = "ann") -> WrappedSummary:
    return WrappedSummary.objects.get(user__external_id=user, year=2025)


def test_the_first_get_stores_the_summary_and_the_next_serves_it(reference, owner):
    first = get(reference)
    stored = summary()
    computed_at = stored.computed_at

    second = get(reference)

    assert first.json() == second.json()
    assert summary().computed_at == computed_at  # served, not computed again
    assert stored.stamp == EndUser.objects.get(external_id="ann").derived_stamp
    assert first["Content-Type"] == "application/json"


def test_a_fresh_summary_costs_one_query_besides_authentication_and_the_user(
    reference, django_assert_num_queries
):
    get(reference)
    with django_assert_num_queries(3):  # the API key, the user, the summary
        assert get(reference).status_code == 200


def test_a_new_event_makes_the_summary_stale_and_the_next_get_counts_it(reference):
    before = get(reference).json()["activity"]["entireYear"]["metrics"]["words"]

    with time_machine.travel(NOW, tick=False):
        body = {"user": {"id": "ann"}, "value": 85, "timestamp": "2025-07-01T22:00:00+00:00"}
        assert reference.post("/v1/metrics/words/event", body, format="json").status_code == 201
    after = get(reference).json()["activity"]["entireYear"]["metrics"]["words"]

    assert after["changeThisPeriod"] == before["changeThisPeriod"] + 85
    assert after["currentTotal"] == before["currentTotal"] + 85


def test_a_profile_edit_is_served_without_computing_again(reference):
    get(reference)
    computed_at = summary().computed_at

    with time_machine.travel(NOW, tick=False):
        assert (
            reference.patch("/v1/users/ann", {"name": "Ann B."}, format="json").status_code == 200
        )
    body = get(reference).json()

    assert body["user"]["name"] == "Ann B."
    assert summary().computed_at == computed_at


def test_renaming_a_metric_or_changing_the_settings_makes_summaries_stale(reference, owner):
    get(reference)
    with time_machine.travel(NOW, tick=False):
        response = reference.patch(
            "/admin-api/v1/metrics",
            [{"id": str(owner.tenant.metrics.get(key="words").pk), "name": "Words"}],
            format="json",
        )
    assert response.status_code == 200, response.json()
    assert get(reference).json()["activity"]["entireYear"]["metrics"]["words"]["name"] == "Words"

    WrappedSettings.objects.create(tenant=owner.tenant, min_population=8)
    words = get(reference).json()["activity"]["entireYear"]["metrics"]["words"]
    assert "percentileThisPeriod" not in words  # 7 users had words in 2025


def test_population_statistics_are_reused_until_refreshed(reference, owner):
    """A new user's events move the population only when the statistics are refreshed
    (periodically, not per request): then every summary of the year is stale."""
    get(reference)
    version = PopulationSet.objects.get(tenant=owner.tenant, year=2025).version
    with time_machine.travel(NOW, tick=False):
        for user in ("q1", "q2"):  # two more users above ann in 2025
            body = {"user": {"id": user}, "value": 5000, "timestamp": "2025-05-05T12:00:00Z"}
            assert reference.post("/v1/metrics/words/event", body, format="json").status_code == 201
    assert (
        get(reference).json()["activity"]["entireYear"]["metrics"]["words"]["percentileThisPeriod"]
        == 67
    )

    refreshed = populations_refresh(tenant=owner.tenant, year=2025)
    assert refreshed.version == version + 1
    # ann: kai, p4, p1, p2 below of 8 others: 4 / 8 = 50.
    words = get(reference).json()["activity"]["entireYear"]["metrics"]["words"]
    assert words["percentileThisPeriod"] == 50
    # Unchanged events: nothing to refresh.
    assert populations_refresh(tenant=owner.tenant, year=2025).version == version + 1


def test_a_process_reads_the_population_statistics_once_per_version(reference, owner):
    """Recomputing on a GET reuses the statistics the process has read (wrapped/
    percentile_cache.py) until a refresh makes a new version."""
    get(reference, "ann")
    with CaptureQueriesContext(connection) as queries:
        kai = get(reference, "kai").json()["activity"]["entireYear"]["metrics"]["words"]
    assert kai["percentileThisPeriod"] == 0
    assert not [q for q in queries if '"wrapped_population"' in q["sql"]]

    with time_machine.travel(NOW, tick=False):
        body = {"user": {"id": "q1"}, "value": 1, "timestamp": "2025-05-05T12:00:00Z"}
        assert reference.post("/v1/metrics/words/event", body, format="json").status_code == 201
    populations_refresh(tenant=owner.tenant, year=2025)
    with CaptureQueriesContext(connection) as queries:
        words = get(reference, "p4").json()["activity"]["entireYear"]["metrics"]["words"]
    # p4 (50 words) has kai (40) and now q1 (1) below, of 7 others: 2 / 7 (was 1 / 6).
    assert words["percentileThisPeriod"] == 29
    assert [q for q in queries if '"wrapped_population"' in q["sql"]]


def test_precompute_stores_what_a_get_would_compute(reference, owner):
    users = list(EndUser.objects.filter(tenant=owner.tenant).order_by("external_id"))
    on_demand = {user.external_id: get(reference, user.external_id).json() for user in users}
    WrappedSummary.objects.all().delete()

    assert summaries_precompute(
        tenant=owner.tenant, year=2025, user_ids=[user.pk for user in users]
    ) == len(users)

    stored = {
        s.user.external_id: s.computed_at for s in WrappedSummary.objects.select_related("user")
    }
    for user in users:
        assert get(reference, user.external_id).json() == on_demand[user.external_id]
    # Served from what precompute stored, not computed again.
    assert {
        s.user.external_id: s.computed_at for s in WrappedSummary.objects.select_related("user")
    } == stored


def count_calls(calls: list[int]) -> Highlight:
    def events_seen(ctx: Any, period: Any) -> int:
        calls.append(1)
        days = ctx.data["rollups"]
        return sum(count for day, count in days.events.items() if day in period) if days else 0

    return Highlight("eventsSeen", "entireYear", events_seen)


def test_a_registered_highlight_is_computed_stored_and_served(reference):
    calls: list[int] = []
    with HIGHLIGHTS.registered(count_calls(calls)):
        first = get(reference).json()["activity"]["entireYear"]
        stored = summary().activity
        second = get(reference).json()["activity"]["entireYear"]

    assert first["eventsSeen"] == 10  # ann's events dated in 2025, the archived metric's too
    assert '"eventsSeen":10' in stored
    assert second == first and calls == [1]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_gets_of_a_stale_summary_compute_it_once(live_server, owner):
    client = owner.client()
    load_reference(client, owner.tenant)
    populations_refresh(tenant=owner.tenant, year=2025)
    calls: list[int] = []
    statuses: list[int] = []
    start = threading.Barrier(8)

    def fetch() -> None:
        with httpx.Client(timeout=30) as http:
            start.wait()
            response = http.get(
                f"{live_server.url}{URL.format('ann')}",
                params={"year": 2025},
                headers={"X-API-KEY": owner.key},
            )
            statuses.append(response.status_code)
        connection.close()

    def fire() -> None:
        threads = [threading.Thread(target=fetch) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)

    with HIGHLIGHTS.registered(count_calls(calls)):
        fire()  # no summary yet: they queue on a placeholder row
        assert statuses == [200] * 8 and calls == [1]

        statuses.clear()
        EndUser.objects.filter(tenant=owner.tenant, external_id="ann").update(
            derived_stamp=F("derived_stamp") + 1
        )
        fire()  # a stale summary: they queue on its row

    assert statuses == [200] * 8
    assert calls == [1, 1]


def test_another_tenants_summary_is_never_served(reference, owner):
    get(reference)
    other = Tenant.objects.create(organization=owner.organization, customer_id="c2", name="C2")
    client = owner.client(tenant_id="c2")
    with time_machine.travel(NOW, tick=False):
        assert client.put("/v1/users/ann", {}, format="json").status_code in (200, 201)
    body = get(client).json()

    assert body["activity"]["daysActive"] == 0
    assert WrappedSummary.objects.filter(tenant=other).count() == 1


def test_statistics_deleted_and_made_again_do_not_pass_old_summaries_as_fresh(reference, owner):
    first = get(reference).json()
    PopulationSet.objects.filter(tenant=owner.tenant, year=2025).delete()
    with time_machine.travel(NOW, tick=False):
        body = {"user": {"id": "q1"}, "value": 1, "timestamp": "2025-05-05T12:00:00Z"}
        assert reference.post("/v1/metrics/words/event", body, format="json").status_code == 201

    stats = populations_refresh(tenant=owner.tenant, year=2025)

    assert stats.version > summary().population_version
    second = get(reference).json()
    assert (
        second["activity"]["entireYear"]["metrics"]["words"]["percentileThisPeriod"]
        != (first["activity"]["entireYear"]["metrics"]["words"]["percentileThisPeriod"])
    )
