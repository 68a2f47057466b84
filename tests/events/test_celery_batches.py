"""Processing event batches: the Celery tasks, re-runs, resumption, retries, the sweep and
the beat schedule; and a real worker on Redis."""

from __future__ import annotations

import os
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from billiard.exceptions import WorkerLostError
from celery.signals import task_failure
from django.core.management import call_command
from django.db import OperationalError, connection
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from events.models import Event, EventBatch, Metric, MetricTotal
from events.selectors.config import tenant_config
from events.services import batches
from events.services.batches import batch_accept, batch_process
from events.services.events import EventInput
from events.services.users import UserInput
from events.tasks import enqueue_batch, process_event_batch, requeue_stale_batches

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def item(user: str = "u1", value: int = 1, key: str = "words", **extra: Any) -> EventInput:
    return EventInput(
        metric_key=key,
        user=UserInput(external_id=user),
        value=Decimal(value),
        attributes={},
        **extra,
    )


def accept(tenant, items, now=None) -> EventBatch:
    """Accept a batch without running its task (no on_commit inside a test transaction)."""
    return batch_accept(
        tenant=tenant,
        config=tenant_config(tenant),
        items=items,
        now=now or timezone.now(),
        enqueue=enqueue_batch,
    )


def total(user: str = "u1", key: str = "words") -> Decimal | None:
    row = MetricTotal.objects.filter(user__external_id=user, metric__key=key).first()
    return None if row is None else row.total


@pytest.fixture
def faulty_event_record(monkeypatch):
    """Fault injection: make chosen calls of event_record (by 1-based call number) raise."""
    real = batches.event_record
    calls = {"n": 0}

    def install(failing_calls: set[int] | None, exc: Exception) -> dict[str, int]:
        def flaky(**kwargs: Any) -> Any:
            calls["n"] += 1
            if failing_calls is None or calls["n"] in failing_calls:
                raise exc
            return real(**kwargs)

        monkeypatch.setattr(batches, "event_record", flaky)
        return calls

    return install


def test_running_the_task_twice_does_not_double_count(owner, words):
    batch = accept(owner.tenant, [item(value=2), item(value=3), item("u2", 4)])

    process_event_batch.delay(str(batch.id))
    process_event_batch.delay(str(batch.id))
    batch_process(batch_id=batch.id)

    batch.refresh_from_db()
    assert (batch.status, batch.processed) == ("done", 3)
    assert total() == 5 and total("u2") == 4
    assert Event.objects.count() == 3


def test_a_rerun_after_a_crash_resumes_at_the_last_committed_item(
    owner, words, faulty_event_record, monkeypatch
):
    monkeypatch.setattr(batches, "CHUNK_SIZE", 2)
    batch = accept(owner.tenant, [item(value=10**n) for n in range(5)])
    calls = faulty_event_record({4}, OperationalError("connection lost"))

    # The fourth item fails transiently: its chunk (items 2 and 3) rolls back, the task
    # retries (immediately, in eager mode) and resumes at item 2.
    process_event_batch.delay(str(batch.id))

    batch.refresh_from_db()
    assert (batch.status, batch.processed, batch.error) == ("done", 5, "")
    assert total() == 11111
    assert Event.objects.count() == 5
    assert calls["n"] == 4 + 3  # items 0-3 (3 failed), then 2, 3 and 4 again


def test_a_failed_run_keeps_the_committed_progress(owner, words, faulty_event_record, monkeypatch):
    monkeypatch.setattr(batches, "CHUNK_SIZE", 2)
    batch = accept(owner.tenant, [item(value=1) for _ in range(5)])
    faulty_event_record({3}, RuntimeError("boom"))

    with pytest.raises(RuntimeError):
        process_event_batch.delay(str(batch.id))

    batch.refresh_from_db()
    assert (batch.status, batch.processed) == ("failed", 2)
    assert "RuntimeError: boom" in batch.error
    assert total() == 2
    # A failed batch is left alone: neither the sweep nor a re-run touches it.
    process_event_batch.delay(str(batch.id))
    assert total() == 2


def test_transient_errors_are_retried_then_the_batch_is_marked_failed(
    owner, words, faulty_event_record
):
    batch = accept(owner.tenant, [item()])
    calls = faulty_event_record(None, OperationalError("database is down"))

    with pytest.raises(OperationalError):
        process_event_batch.delay(str(batch.id))

    batch.refresh_from_db()
    assert batch.status == "failed" and "database is down" in batch.error
    assert calls["n"] == 1 + process_event_batch.max_retries
    assert not Event.objects.exists()


def test_an_item_whose_metric_was_deleted_meanwhile_is_skipped_and_noted(owner, words):
    pages = Metric.objects.create(tenant=owner.tenant, key="pages", name="Pages")
    batch = accept(owner.tenant, [item(value=1), item(key="pages"), item(value=2)])
    Metric.objects.filter(pk=pages.pk).update(status="archived")
    owner.tenant.bump_config_version()

    batch_process(batch_id=batch.id)

    batch.refresh_from_db()
    assert (batch.status, batch.processed) == ("done", 3)
    assert batch.error.startswith("[1]: Metric with key 'pages' not found")
    assert total() == 3 and total(key="pages") is None


def test_a_batch_that_no_longer_exists_is_ignored(db):
    assert batch_process(batch_id=uuid.uuid4()) is None
    process_event_batch.delay(str(uuid.uuid4()))  # does not raise


def test_the_sweep_reenqueues_only_batches_pending_for_a_few_minutes(owner, words):
    with time_machine.travel(NOW, tick=False):
        stale = accept(owner.tenant, [item(value=5)])
        done = accept(owner.tenant, [item("u2", 1)])
        batch_process(batch_id=done.id)
    with time_machine.travel(NOW + timedelta(minutes=4), tick=False):
        fresh = accept(owner.tenant, [item("u3", 1)])

        requeued = requeue_stale_batches.delay().get()

    assert requeued == 1
    stale.refresh_from_db()
    fresh.refresh_from_db()
    assert stale.status == "done" and fresh.status == "pending"
    assert total() == 5 and total("u2") == 1 and total("u3") is None


def test_the_beat_schedule_is_installed_by_migration_and_the_command_is_idempotent(db):
    task = PeriodicTask.objects.get(task="events.tasks.requeue_stale_batches")
    assert task.enabled and task.interval is not None and task.interval.every == 60

    call_command("install_beat_schedule", stdout=open(os.devnull, "w"))  # noqa: SIM115
    call_command("install_beat_schedule", stdout=open(os.devnull, "w"))  # noqa: SIM115

    assert PeriodicTask.objects.filter(task="events.tasks.requeue_stale_batches").count() == 1


@pytest.mark.postgres
def test_concurrent_runs_of_one_batch_apply_each_item_once(transactional_db, owner, words):
    batch = accept(owner.tenant, [item(f"u{n % 7}", n) for n in range(200)])
    errors: list[BaseException] = []

    def run() -> None:
        try:
            batch_process(batch_id=batch.id, chunk_size=10)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    batch.refresh_from_db()
    assert (batch.status, batch.processed) == ("done", 200)
    assert Event.objects.count() == 200
    assert sum(t.total for t in MetricTotal.objects.all()) == sum(range(200))


@pytest.mark.redis
@pytest.mark.postgres
def test_a_real_worker_processes_an_accepted_batch(redis_worker, owner, words):
    items = [{"key": "words", "user": {"id": f"u{n % 3}"}, "value": n} for n in range(30)]

    response = owner.client().post("/admin-api/v1/metrics/events", items, format="json")

    assert response.status_code == 202 and response.json() == {"accepted": 30}
    deadline = time.monotonic() + 30
    batch = EventBatch.objects.get()
    while batch.status == "pending" and time.monotonic() < deadline:
        time.sleep(0.1)
        batch.refresh_from_db()
    assert (batch.status, batch.processed, batch.error) == ("done", 30, "")
    assert {t.user.external_id: t.total for t in MetricTotal.objects.select_related("user")} == {
        "u0": sum(range(0, 30, 3)),
        "u1": sum(range(1, 30, 3)),
        "u2": sum(range(2, 30, 3)),
    }


def test_a_batch_whose_worker_process_died_too_often_is_given_up(owner, words):
    """What the worker's main process reports once the retries after lost pool processes
    ran out (task_failure with WorkerLostError): the batch is failed, so the sweep does
    not deliver it again; other failures of the task are left to the task itself."""
    with time_machine.travel(NOW, tick=False):
        batch = accept(owner.tenant, [item(value=5)])
    report: dict[str, Any] = {"task_id": "t", "kwargs": {}, "traceback": None, "einfo": None}

    task_failure.send(
        sender=process_event_batch, exception=RuntimeError("other"), args=[str(batch.id)], **report
    )
    batch.refresh_from_db()
    assert batch.status == "pending"

    lost = WorkerLostError("Worker exited prematurely: signal 9 (SIGKILL) Job: 0.")
    task_failure.send(sender=process_event_batch, exception=lost, args=[str(batch.id)], **report)

    batch.refresh_from_db()
    assert batch.status == "failed"
    assert batch.error == f"its worker process died 7 times: {lost}"
    with time_machine.travel(NOW + timedelta(minutes=10), tick=False):
        assert requeue_stale_batches.delay().get() == 0
    assert total() is None
