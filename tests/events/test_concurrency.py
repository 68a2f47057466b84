"""Concurrent requests on PostgreSQL, over real HTTP against a threaded live server:
no increment is lost, and one idempotency key makes exactly one event."""

from __future__ import annotations

import threading
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx
import pytest

from events.models import DailyRollup, EndUser, Event, MetricTotal
from tests.factories import AttributeFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

DEVICES = ("ios", "web")
TIMEOUT = 30  # seconds: a deadlock fails the test instead of hanging the suite


def run_parallel(workers: int, work: Callable[[httpx.Client], Any]) -> list[Any]:
    """Run `work` in `workers` threads that start together (a barrier), each with its own
    HTTP client; return their results, re-raising the first error."""
    barrier = threading.Barrier(workers, timeout=TIMEOUT)
    results: list[Any] = [None] * workers
    errors: list[BaseException] = []

    def worker(index: int) -> None:
        try:
            with httpx.Client(timeout=TIMEOUT) as client:
                barrier.wait()
                results[index] = work(client)
        except BaseException as exc:  # reported to the test below
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT * 2)
    assert not any(thread.is_alive() for thread in threads), "a client did not finish in time"
    if errors:
        raise errors[0]
    return results


def test_parallel_clients_never_lose_an_increment(live_server, owner, words):
    AttributeFactory(tenant=owner.tenant, key="device", type="event")
    owner.tenant.bump_config_version()
    url = f"{live_server.url}/v1/metrics/words/event"
    headers = {"X-API-KEY": owner.key}
    clients, per_client = 8, 50
    counter = iter(range(clients))
    lock = threading.Lock()

    def send(client: httpx.Client) -> list[int]:
        with lock:
            n = next(counter)
        codes = []
        for i in range(per_client):
            # values with fractions, so a lost or doubled increment cannot hide
            body = {
                "user": {"id": "shared"},
                "value": n + 0.25 + i,
                "attributes": {"device": DEVICES[i % 2]},
            }
            codes.append(client.post(url, json=body, headers=headers).status_code)
        return codes

    codes = run_parallel(clients, send)

    assert all(code == 201 for batch in codes for code in batch), codes
    expected = sum(
        Decimal(n) + Decimal("0.25") + i for n in range(clients) for i in range(per_client)
    )
    user = EndUser.objects.get(tenant=owner.tenant, external_id="shared")
    total = MetricTotal.objects.get(user=user, metric=words)
    assert (total.total, total.event_count) == (expected, clients * per_client)
    assert Event.objects.filter(user=user).count() == clients * per_client
    daily = DailyRollup.objects.filter(user=user)
    assert sum(r.total for r in daily) == expected
    assert sum(r.event_count for r in daily) == clients * per_client
    # the sums per attribute value too (each upsert merges into the row's JSON)
    by_device = {device: [Decimal(0), 0] for device in DEVICES}
    for rollup in daily:
        for device, (value, count) in rollup.by_attribute["device"].items():
            by_device[device][0] += value
            by_device[device][1] += count
    assert by_device == {
        device: [
            sum(
                Decimal(n) + Decimal("0.25") + i
                for n in range(clients)
                for i in range(per_client)
                if i % 2 == k
            ),
            clients * per_client // 2,
        ]
        for k, device in enumerate(DEVICES)
    }


def test_parallel_requests_with_one_idempotency_key_create_one_event(live_server, owner, words):
    url = f"{live_server.url}/v1/metrics/words/event"
    headers = {"X-API-KEY": owner.key, "Idempotency-Key": "same-key"}

    def send(client: httpx.Client) -> httpx.Response:
        return client.post(url, json={"user": {"id": "u1"}, "value": 5}, headers=headers)

    responses = run_parallel(10, send)

    codes = sorted(r.status_code for r in responses)
    assert codes == [201] + [202] * 9, [r.text for r in responses]
    bodies = [r.json() for r in responses]
    event = Event.objects.get()
    assert {b["eventId"] for b in bodies} == {str(event.id)}
    assert all(b["total"] == 5 for b in bodies)
    assert sorted(b["idempotentReplayed"] for b in bodies) == [False] + [True] * 9
    total = MetricTotal.objects.get()
    assert (total.total, total.event_count) == (5, 1)
