"""Celery tasks of the events app. Thin: take ids, call one service, safe to run twice."""

from __future__ import annotations

import logging
import uuid

from celery import Task, shared_task
from django.db import OperationalError
from django.utils import timezone

from .services.batches import batch_mark_failed, batch_process, batches_stale

logger = logging.getLogger(__name__)

MAX_RETRIES = 6


@shared_task(bind=True, acks_late=True, max_retries=MAX_RETRIES)
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
