"""Celery tasks of the events app. Thin: take ids, call one service, safe to run twice."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from billiard.exceptions import WorkerLostError
from celery import Task, shared_task
from celery.signals import task_failure
from django.db import OperationalError
from django.utils import timezone

from .services.batches import batch_mark_failed, batch_process, batches_stale

logger = logging.getLogger(__name__)

MAX_RETRIES = 6
# After the pool process running the task died (task_retry_on_worker_lost): seconds before
# the retry. The same MAX_RETRIES bound it, so a batch that kills its process every time
# (out of memory, say) ends `failed` instead of being delivered again forever.
WORKER_LOST_RETRY_DELAY = 5


@shared_task(
    bind=True,
    acks_late=True,
    max_retries=MAX_RETRIES,
    default_retry_delay=WORKER_LOST_RETRY_DELAY,
)
def process_event_batch(self: Task, batch_id: str) -> None:
    """Apply an accepted event batch (resumes where a previous run stopped)."""
    attempt = self.request.retries
    while True:
        try:
            batch_process(batch_id=batch_id)
            return
        except OperationalError as exc:
            # Lost connection, deadlock, serialization failure: transient, and the
            # batch's committed progress is kept, so a retry resumes.
            if attempt >= MAX_RETRIES:
                batch_mark_failed(batch_id=batch_id, error=f"gave up after retries: {exc}")
                raise
            if not self.request.is_eager:
                # Backoff 2, 4, 8 ... 64 s, through the broker: the worker is free meanwhile.
                raise self.retry(exc=exc, countdown=2 ** (attempt + 1)) from exc
            # Eager (no broker): nothing to schedule a retry on, so retry here at once.
            attempt += 1
        except Exception as exc:
            batch_mark_failed(batch_id=batch_id, error=f"{type(exc).__name__}: {exc}")
            raise


@task_failure.connect
def batch_failed_with_its_worker(
    sender: Task | None = None,
    exception: BaseException | None = None,
    args: tuple[Any, ...] = (),
    **_: Any,
) -> None:
    """The worker's main process reports a task whose pool process died once too often
    (the retries after a lost worker ran out): give the batch up, so that the periodic
    sweep does not deliver it again."""
    ours = sender is not None and sender.name == process_event_batch.name
    if ours and args and isinstance(exception, WorkerLostError):
        batch_mark_failed(
            batch_id=args[0],
            error=f"its worker process died {MAX_RETRIES + 1} times: {exception}",
        )


def enqueue_batch(batch_id: uuid.UUID) -> None:
    """Have a batch processed by a worker (or at once, in-process, without a broker)."""
    process_event_batch.delay(str(batch_id))


@shared_task
def requeue_stale_batches() -> int:
    """Periodic (celery beat): enqueue again the batches still pending a few minutes after
    they were accepted, e.g. because the broker was down then. Returns how many."""
    stale = batches_stale(now=timezone.now())
    for batch_id in stale:
        enqueue_batch(batch_id)
    if stale:
        logger.info("re-enqueued %d pending event batches", len(stale))
    return len(stale)
