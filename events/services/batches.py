"""Batch metric events (`POST /admin-api/v1/metrics/events`): accept now, process later.

Accepting validates every item exactly as a single event would be validated, and
rejects the whole request on the first bad item, naming its index, so a rejected batch
changes nothing. An accepted batch is one `EventBatch` row (written in the request's
transaction) and its processing is enqueued after commit (the caller says how: the API
passes the Celery task, which is a layer above this one).

Processing applies each item with `event_record`, the single-event service, so a batch
item means exactly what the same single event would (user upsert, idempotency keys,
totals and rollups). Items are applied in order, a chunk per transaction, and the
batch's `processed` counter advances in the transaction that applied the items, under
a lock on the batch row: a task that dies mid-batch, or runs twice, or runs twice at
the same time, resumes where the last commit stopped and never applies an item twice.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from ..exceptions import ApiError, BadRequest
from ..models import EndUser, Event, EventBatch, Tenant, TenantConfig
from ..models.log import BatchStatus
from ..selectors.config import tenant_config
from .events import EventInput, event_record, validate_event
from .users import UserInput, apply_user_changes, validate_user_changes

logger = logging.getLogger(__name__)

MAX_BATCH_ITEMS = 1000
# Items applied per transaction: bounds how long the batch row stays locked and how much
# work a crash repeats, while keeping the per-commit cost small.
CHUNK_SIZE = 50
# A batch still pending this long after it was accepted lost its task (broker down at
# accept time, worker killed): the periodic sweep enqueues it again.
STALE_AFTER = timedelta(minutes=3)
MAX_ERROR_LINES = 20


def _with_index(error: ApiError, index: int) -> ApiError:
    return type(error)(f"[{index}]: {error.message}", status=error.status_code)


def batch_validate(
    *, tenant: Tenant, config: TenantConfig, items: Sequence[EventInput], now: datetime
) -> None:
    """Raise (naming the item's index) if any item would be refused as a single event
    sent now, in the batch's order: unknown metric (404), undeclared event or user
    attribute keys (400), a user subscribed to emails without an email, counting the
    emails the batch's earlier items set (400), a timestamp too far in the future (422).
    An item whose idempotency key is already in the log, or earlier in the batch, is a
    repeat: it changes nothing, so later items do not see its user fields. Two queries:
    the batch's existing users, and the keys of its keyed items already in the log."""
    external_ids = {item.user.external_id for item in items}
    # The users as each item finds them: read once, then changed in memory item by item.
    users = {
        user.external_id: user
        for user in EndUser.objects.filter(tenant=tenant, external_id__in=external_ids)
    }
    keys = {item.idempotency_key for item in items if item.idempotency_key is not None}
    seen: set[tuple[str, Any, str | None]] = set()
    if keys and users:
        seen.update(
            Event.objects.filter(
                tenant=tenant, user__in=users.values(), idempotency_key__in=keys
            ).values_list("user__external_id", "metric_id", "idempotency_key")
        )
    for index, item in enumerate(items):
        user = users.get(item.user.external_id)
        try:
            metric = validate_event(config=config, data=item, now=now)
            try:
                validate_user_changes(config, item.user.changes, user)
            except BadRequest as error:
                raise BadRequest(f"user: {error.message}") from None
        except ApiError as error:
            raise _with_index(error, index) from None
        if item.idempotency_key is not None:
            key = (item.user.external_id, metric.pk, item.idempotency_key)
            if key in seen:
                continue
            seen.add(key)
        if user is None:
            user = users[item.user.external_id] = EndUser(external_id=item.user.external_id)
        apply_user_changes(user, item.user.changes)


def batch_accept(
    *,
    tenant: Tenant,
    config: TenantConfig,
    items: Sequence[EventInput],
    now: datetime,
    enqueue: Callable[[uuid.UUID], object],
) -> EventBatch:
    """Validate the batch, store it and, after commit, call `enqueue(batch id)` to have it
    processed. Returns the stored batch."""
    batch_validate(tenant=tenant, config=config, items=items, now=now)
    with transaction.atomic():
        batch = EventBatch.objects.create(
            tenant=tenant, items=[item_to_json(item) for item in items], received_at=now
        )
        # After commit: the worker must find the row. robust=True: a broker that is down
        # must not turn an accepted (committed) batch into a 500; the sweep retries it.
        transaction.on_commit(lambda: enqueue(batch.id), robust=True)
    return batch


def item_to_json(item: EventInput) -> dict[str, Any]:
    """An EventInput as stored in `EventBatch.items` (values as exact decimal strings)."""
    return {
        "key": item.metric_key,
        "user": {"id": item.user.external_id, "changes": item.user.changes},
        "value": str(item.value),
        "attributes": item.attributes,
        "timestamp": item.timestamp.isoformat() if item.timestamp else None,
        "idempotencyKey": item.idempotency_key,
    }


def item_from_json(data: dict[str, Any]) -> EventInput:
    timestamp = parse_datetime(data["timestamp"]) if data.get("timestamp") else None
    return EventInput(
        metric_key=data["key"],
        user=UserInput(external_id=data["user"]["id"], changes=data["user"]["changes"]),
        value=Decimal(data["value"]),
        attributes=data.get("attributes") or {},
        timestamp=timestamp,
        idempotency_key=data.get("idempotencyKey"),
    )


def batch_process(*, batch_id: uuid.UUID | str, chunk_size: int | None = None) -> EventBatch | None:
    """Apply the batch's remaining items and mark it done. Returns the batch, or None if
    it no longer exists. Safe to run twice, and concurrently: see the module docstring.

    An item refused by the same rules as a single event (say its metric was deleted
    after the batch was accepted) is skipped and noted in `error`; the batch goes on.
    """
    try:
        batch = EventBatch.objects.select_related("tenant").get(pk=batch_id)
    except EventBatch.DoesNotExist:
        logger.warning("event batch %s does not exist", batch_id)
        return None
    items = batch.items  # immutable once accepted: read once, not under every lock
    chunk_size = chunk_size or CHUNK_SIZE
    while True:
        with transaction.atomic():
            # The lock serialises concurrent runs of one batch; re-reading `processed`
            # under it is what makes a second run continue instead of repeating.
            locked = (
                EventBatch.objects.select_for_update()
                .only("status", "processed", "error")
                .get(pk=batch.pk)
            )
            if locked.status != BatchStatus.PENDING:
                return locked
            # Metrics or attributes may change while a batch waits: read the current
            # config version so tenant_config() does not serve a stale cache.
            batch.tenant.refresh_from_db(fields=["config_version"])
            start = locked.processed
            end = min(start + chunk_size, len(items))
            notes: list[str] = []
            for index in range(start, end):
                note = _apply_item(batch, items[index])
                if note is not None:
                    notes.append(f"[{index}]: {note}")
            locked.processed = end
            locked.error = _append_notes(locked.error, notes)
            fields = ["processed", "error"]
            if end >= len(items):
                locked.status = BatchStatus.DONE
                locked.finished_at = timezone.now()
                fields += ["status", "finished_at"]
            locked.save(update_fields=fields)
            if locked.status == BatchStatus.DONE:
                return locked


def _apply_item(batch: EventBatch, data: dict[str, Any]) -> str | None:
    """Record one item; returns why it was skipped, or None."""
    tenant = batch.tenant
    try:
        item = item_from_json(data)
        # received_at stands in for "now": the default timestamp and the future check
        # are those of the moment the batch was accepted, not of a late worker.
        event_record(tenant=tenant, config=tenant_config(tenant), data=item, now=batch.received_at)
    except ApiError as error:
        return error.message
    return None


def _append_notes(error: str, notes: list[str]) -> str:
    if not notes:
        return error
    lines = [*filter(None, error.split("\n")), *notes]
    if len(lines) > MAX_ERROR_LINES:
        lines = [*lines[: MAX_ERROR_LINES - 1], "(more items skipped)"]
    return "\n".join(dict.fromkeys(lines))


def batch_mark_failed(*, batch_id: uuid.UUID | str, error: str) -> None:
    """Give up on a batch (after retries): status `failed` with the error text."""
    EventBatch.objects.filter(pk=batch_id, status=BatchStatus.PENDING).update(
        status=BatchStatus.FAILED, error=error[:10_000], finished_at=timezone.now()
    )


def batches_stale(*, now: datetime, older_than: timedelta = STALE_AFTER) -> list[uuid.UUID]:
    """Ids of batches still pending `older_than` after they were accepted."""
    return list(
        EventBatch.objects.filter(
            status=BatchStatus.PENDING, received_at__lt=now - older_than
        ).values_list("id", flat=True)
    )
