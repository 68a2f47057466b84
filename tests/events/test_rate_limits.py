"""Optional per-organization rate limits (RATE_LIMIT_WRITES / RATE_LIMIT_READS)."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from events.models import EndUser, Event

EVENT = "/v1/metrics/words/event"


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()
    yield
    cache.clear()


def send(client, user="u1"):
    return client.post(EVENT, {"user": {"id": user}, "value": 1}, format="json")


def test_no_limit_by_default(api, words):
    assert all(send(api).status_code == 201 for _ in range(20))


def test_over_the_write_limit_is_429_with_retry_after_and_changes_nothing(api, words, settings):
    settings.RATE_LIMIT_WRITES = "2/m"
    assert [send(api).status_code for _ in range(2)] == [201, 201]

    response = send(api, user="someone-new")

    assert response.status_code == 429
    assert response.json() == {"error": "Rate limit exceeded"}
    assert 1 <= int(response["Retry-After"]) <= 60
    assert Event.objects.count() == 2
    assert not EndUser.objects.filter(external_id="someone-new").exists()


def test_limits_are_per_organization_and_per_tier(api, owner, outsider, words, settings):
    from events.models import Metric

    settings.RATE_LIMIT_WRITES = "1/m"
    Metric.objects.create(tenant=outsider.tenant, key="words", name="Words")
    assert send(api).status_code == 201
    assert send(api).status_code == 429
    assert send(outsider.client()).status_code == 201  # another organization's own budget
    assert api.get("/v1/users/u1").status_code == 200  # reads are tier 2: unlimited here
    # The Admin API shares the write tier.
    assert api.get("/admin-api/v1/metrics").status_code == 429


def test_read_limit(api, owner, words, settings):
    settings.RATE_LIMIT_READS = "2/m"
    send(api)
    assert [api.get("/v1/users/u1").status_code for _ in range(3)] == [200, 200, 429]
    assert send(api).status_code == 201  # writes are not counted against reads
