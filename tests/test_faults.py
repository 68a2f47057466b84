"""Faults, for real (PostgreSQL and Redis): Celery workers killed in the middle of an event
batch, and PostgreSQL connections terminated under the web processes. Each ends with
every event applied exactly once, and derived state equal to a rebuild from the log."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import httpx
import psycopg
import pytest
from django.db import connection, transaction
from django.utils import timezone

from events.models import EndUser, Event, EventBatch, MetricTotal
from events.selectors.config import tenant_config
from events.services.batches import batch_accept
from events.services.events import EventInput
from events.services.rebuild import derived_state_rebuild
from events.services.users import UserInput
from events.tasks import enqueue_batch
from tests.derived import derived_state
from tests.pg import lock_waiters, terminate_backends
from tests.processes import celery_worker, database_url, gunicorn

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

ITEMS = 1000  # the most one batch may hold


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def assert_derived_state_is_the_logs(tenant: Any) -> None:
    """What the engine wrote equals what a rebuild from the event log writes."""
    before = derived_state(tenant)
    derived_state_rebuild(tenant=tenant)
    assert derived_state(tenant) == before


# --- Celery workers killed mid-batch --------------------------------------------------


# The batch: 1,000 items over 40 users, and one for "blocker" in the second chunk (chunks
# of 50): with that user's row locked, a worker stops inside the second chunk's
# transaction, the first one committed, where the test kills it.
BLOCKER_AT = 60
USERS = [f"u{n % 40}" if n != BLOCKER_AT else "blocker" for n in range(ITEMS)]
RECEIVED = re.compile(r"Task events\.tasks\.process_event_batch\[[^\]]+\] received")


def accept_big_batch(tenant: Any) -> EventBatch:
    items = [
        EventInput(
            metric_key="words", user=UserInput(external_id=user), value=Decimal(n), attributes={}
        )
        for n, user in enumerate(USERS)
    ]
    with transaction.atomic():  # the task is sent when the batch is committed
        return batch_accept(
            tenant=tenant,
            config=tenant_config(tenant),
            items=items,
            now=timezone.now(),
            enqueue=enqueue_batch,
        )


@contextmanager
def blocker_locked(owner: Any) -> Iterator[None]:
    """Create the user "blocker" and hold its row lock from a connection of our own until
    the block ends."""
    assert owner.client().post("/v1/users", {"id": "blocker"}, format="json").status_code == 201
    with psycopg.connect(database_url()) as holder:
        holder.execute(
            "SELECT 1 FROM events_enduser WHERE tenant_id = %s AND external_id = 'blocker' "
            "FOR UPDATE",
            [owner.tenant.id],
        )
        yield


def stopped_in_the_second_chunk(batch: EventBatch) -> None:
    assert lock_waiters(timeout=60), "no worker reached the blocked user"
    batch.refresh_from_db()
    assert (batch.status, batch.processed) == ("pending", 50)


def assert_applied_exactly_once(batch: EventBatch) -> None:
    batch.refresh_from_db()
    assert (batch.status, batch.processed, batch.error) == ("done", ITEMS, "")
    assert Event.objects.filter(tenant=batch.tenant).count() == ITEMS
    totals = {
        t.user.external_id: t.total
        for t in MetricTotal.objects.filter(tenant=batch.tenant).select_related("user")
    }
    expected: dict[str, Decimal] = {}
    for n, user in enumerate(USERS):
        expected[user] = expected.get(user, Decimal(0)) + n
    assert totals == expected
    assert_derived_state_is_the_logs(batch.tenant)


def finished(batch: EventBatch) -> bool:
    batch.refresh_from_db()
    return batch.status != "pending"


@pytest.mark.redis
def test_a_worker_killed_mid_batch_leaves_it_to_another_after_the_visibility_timeout(
    redis_broker, owner, words, tmp_path
):
    """The whole worker (main and pool process) is SIGKILLed inside a batch's second
    chunk: the task was not acknowledged (acks late), so once the visibility timeout has
    passed the broker hands it to the other worker, which resumes after the committed
    chunk. No beat: the sweep of pending batches plays no part."""
    env = {"CELERY_VISIBILITY_TIMEOUT": "3"}
    logs = {name: tmp_path / f"{name}.log" for name in ("one", "two")}
    with (
        celery_worker(redis_broker, "one", logs["one"], **env) as one,
        celery_worker(redis_broker, "two", logs["two"], **env) as two,
    ):
        with blocker_locked(owner):
            batch = accept_big_batch(owner.tenant)
            stopped_in_the_second_chunk(batch)
            busy = [name for name, log in logs.items() if RECEIVED.search(log.read_text())]
            assert len(busy) == 1, busy
            killed, other = (one, "two") if busy == ["one"] else (two, "one")
            os.killpg(killed.pid, signal.SIGKILL)
            killed.wait(timeout=10)
        wait_for(lambda: finished(batch), 90, "the other worker to finish the batch")

    other_log = logs[other].read_text()
    assert RECEIVED.search(other_log) and "succeeded" in other_log, other_log
    assert_applied_exactly_once(batch)


@pytest.mark.redis
def test_a_pool_process_killed_mid_batch_has_the_task_retried(redis_broker, owner, words, tmp_path):
    """Only the pool process running the task dies (as under the OOM killer): the worker
    sends the task again (task_retry_on_worker_lost, after its default_retry_delay of 5 s)
    instead of marking it failed, and its new pool process finishes the batch, without
    waiting for the visibility timeout (an hour here) or the sweep."""
    log = tmp_path / "worker.log"
    with celery_worker(redis_broker, "only", log, CELERY_VISIBILITY_TIMEOUT="3600") as worker:
        with blocker_locked(owner):
            batch = accept_big_batch(owner.tenant)
            stopped_in_the_second_chunk(batch)
            children = subprocess.run(
                ["pgrep", "-P", str(worker.pid)], capture_output=True, text=True, check=True
            ).stdout.split()
            assert len(children) == 1, children
            os.kill(int(children[0]), signal.SIGKILL)
            wait_for(lambda: "WorkerLostError" in log.read_text(), 30, "the worker to notice")
        wait_for(lambda: finished(batch), 90, "the batch to be finished")

    assert re.search(r"process_event_batch\[[^\]]+\] retry: Retry in 5s", log.read_text())
    assert_applied_exactly_once(batch)


# --- PostgreSQL connections terminated under the web processes ------------------------


def post_event(base: str, key: str, user: str, value: int, idempotency_key: str) -> httpx.Response:
    return httpx.post(
        f"{base}/v1/metrics/words/event",
        json={"user": {"id": user}, "value": value},
        headers={"X-API-KEY": key, "Idempotency-Key": idempotency_key},
        timeout=30,
    )


def send_with_retries(base: str, key: str, user: str, value: int, idem: str) -> int:
    """What a careful client does: retry a failed call with the same Idempotency-Key.
    Returns how many attempts failed."""
    failures = 0
    while True:
        try:
            response = post_event(base, key, user, value, idem)
        except httpx.TransportError:
            response = None
        # 202: the event was recorded by an attempt whose answer was lost
        if response is not None and response.status_code in (201, 202):
            return failures
        assert response is None or response.status_code == 503, response.text
        failures += 1
        assert failures < 50, "the service did not recover"
        time.sleep(0.05)


@pytest.mark.django_db(transaction=True)
def test_a_connection_terminated_mid_request_is_a_503_and_the_retry_records_the_event_once(
    owner, words
):
    with gunicorn(DATABASE_URL=database_url(), WEB_CONCURRENCY="1") as server:
        assert post_event(server.base, owner.key, "ann", 1, "warm-up").status_code == 201
        user = EndUser.objects.get(external_id="ann")

        # Hold ann's row lock, so the web process's next event for her waits inside its
        # transaction; terminate that backend while it waits.
        with ThreadPoolExecutor(1) as pool, transaction.atomic():
            EndUser.objects.select_for_update().get(pk=user.pk)
            pending = pool.submit(post_event, server.base, owner.key, "ann", 10, "lesson-1")
            (waiter,) = lock_waiters()
            assert terminate_backends(only=waiter.pid) == 1
            failed = pending.result(timeout=30)

        assert failed.status_code == 503 and failed.headers["Retry-After"] == "1"
        assert failed.json() == {"error": "Database unavailable, please retry"}
        assert Event.objects.filter(user=user).count() == 1  # nothing half-written

        # The same process answers again (it reconnects), and the retry counts once.
        retried = post_event(server.base, owner.key, "ann", 10, "lesson-1")
        again = post_event(server.base, owner.key, "ann", 10, "lesson-1")
        assert (retried.status_code, again.status_code) == (201, 202), retried.text
        assert retried.json()["eventId"] == again.json()["eventId"]
        assert again.json()["idempotentReplayed"] is True
        assert post_event(server.base, owner.key, "ann", 5, "lesson-2").status_code == 201

    assert "database unavailable" in server.output, server.output
    assert MetricTotal.objects.get(user=user).total == 16
    assert Event.objects.filter(user=user).count() == 3
    assert_derived_state_is_the_logs(owner.tenant)


@pytest.mark.django_db(transaction=True)
def test_connections_terminated_under_load_lose_and_double_nothing(owner, words):
    """Eight clients send events (retrying failures with the same Idempotency-Key) to two
    web processes while every connection of theirs to PostgreSQL is terminated, again and
    again. Afterwards every event is recorded exactly once."""
    clients, per_client = 8, 25
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        own = {int(cursor.fetchone()[0])}
    stop = threading.Event()
    terminated: list[int] = []

    def terminator() -> None:
        try:
            while not stop.is_set():
                terminated.append(terminate_backends(own))
                time.sleep(0.2)
        finally:
            connection.close()  # this thread's own

    def client(n: int, base: str) -> int:
        return sum(
            send_with_retries(base, owner.key, f"c{n}", i + 1, f"c{n}-{i}")
            for i in range(per_client)
        )

    with gunicorn(DATABASE_URL=database_url(), WEB_CONCURRENCY="2") as server:
        killer = threading.Thread(target=terminator)
        killer.start()
        try:
            with ThreadPoolExecutor(clients) as pool:
                failures = sum(pool.map(client, range(clients), [server.base] * clients))
        finally:
            stop.set()
            killer.join()
        # Recovered without a restart: answers at once, no failure.
        assert post_event(server.base, owner.key, "after", 1, "after-1").status_code == 201

    assert sum(terminated) > 0
    print(f"{sum(terminated)} connections terminated, {failures} failed attempts retried")
    assert Event.objects.filter(tenant=owner.tenant).count() == clients * per_client + 1
    totals = {
        t.user.external_id: t.total
        for t in MetricTotal.objects.filter(tenant=owner.tenant).select_related("user")
    }
    expected = {f"c{n}": Decimal(sum(range(1, per_client + 1))) for n in range(clients)}
    assert totals == {**expected, "after": 1}
    assert_derived_state_is_the_logs(owner.tenant)
