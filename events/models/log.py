"""The event log: the append-only source of truth every derived number is rebuilt from."""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q

from ..ids import uuid7
from .config import Metric
from .tenancy import Tenant
from .users import EndUser

# |value| <= 1e12 with six decimal places fits in 19 digits; totals get more headroom.
VALUE_DIGITS = 19
TOTAL_DIGITS = 28
DECIMAL_PLACES = 6


class Event(models.Model):
    """One metric event. Rows are never updated or deleted by the application."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    # No single-column index on the foreign keys (db_index=False): the composite indexes
    # below serve every query the application makes: (user, metric, idempotency_key) the
    # idempotency check, (user, timestamp) a user's events (replay, the admin's per-user
    # link), (metric, local_date) a metric's events (the admin's metric filter). None
    # starts with the tenant (docs/architecture.md, "The event log and derived state").
    # Each index costs every insert of the log, the import's largest cost. Deletes that
    # cascade here are not a hot path: tenants and metrics are soft-deleted and the admin
    # deletes neither events nor users, so a rare cascade may scan the table.
    #
    # Only the user has a database constraint. The tenant is the user's own (every writer
    # takes both from the user row it read; the database does not check that they match),
    # and metrics are archived, never deleted by the application
    # (the ORM's PROTECT still refuses to delete one that has events). Each constraint is
    # a lookup with a key-share lock per inserted event, checked at commit: the two
    # dropped ones cost 1-5 of the ~45-60 µs PostgreSQL spends per imported event
    # (docs/benchmarks.md), and part of the event path's write.
    tenant = models.ForeignKey(
        Tenant, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    user = models.ForeignKey(
        EndUser, on_delete=models.CASCADE, related_name="events", db_index=False
    )
    metric = models.ForeignKey(
        Metric,
        on_delete=models.PROTECT,
        related_name="events",
        db_index=False,
        db_constraint=False,
    )
    value = models.DecimalField(max_digits=VALUE_DIGITS, decimal_places=DECIMAL_PLACES)
    attributes = models.JSONField(default=dict, blank=True)
    # When it happened (UTC), and the user's calendar date at that instant in the time
    # zone in force at ingest. local_date never changes afterwards (SEMANTICS A1).
    timestamp = models.DateTimeField()
    local_date = models.DateField()
    received_at = models.DateTimeField()
    idempotency_key = models.CharField(max_length=255, null=True, blank=True)

    class Meta:
        ordering = ["timestamp", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "metric", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="event_idempotency_key_unique",
            )
        ]
        indexes = [
            models.Index(fields=["user", "timestamp"], name="event_user_time_idx"),
            models.Index(fields=["metric", "local_date"], name="event_metric_date_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.metric_id} {self.value} @ {self.timestamp:%Y-%m-%d %H:%M:%S}"


class BatchStatus(models.TextChoices):
    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"


class EventBatch(models.Model):
    """A batch accepted by `POST /admin-api/v1/metrics/events`, kept until processed.

    The batch is written in the request's transaction and the task that processes it is
    enqueued after commit, so an accepted batch is never lost: if the broker is down the
    row stays pending and `process_pending_batches` picks it up.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    items = models.JSONField()
    received_at = models.DateTimeField()
    status = models.CharField(
        max_length=16, choices=BatchStatus.choices, default=BatchStatus.PENDING
    )
    processed = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True, default="")
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "event batches"
        ordering = ["received_at"]
        indexes = [models.Index(fields=["status", "received_at"], name="batch_status_idx")]

    def __str__(self) -> str:
        return f"batch {self.id} ({self.status}, {len(self.items)} items)"
