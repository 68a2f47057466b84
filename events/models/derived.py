"""State derived from the event log. Everything here can be rebuilt with `replay`.

Rows are only ever changed with atomic upserts (INSERT ... ON CONFLICT DO UPDATE SET
x = x + excluded.x, or the sums per attribute value with their own function), so
concurrent events for one user never lose an increment.
"""

from __future__ import annotations

from typing import Any

from django.db import models

from .. import attribute_sums
from .config import Metric
from .log import DECIMAL_PLACES, TOTAL_DIGITS
from .tenancy import Tenant
from .users import EndUser

# The foreign keys of derived rows have no single-column index of their own (db_index=
# False): each model's unique constraint or composite index serves the application's
# reads and the upserts. They start with the user or the metric, not the tenant (see
# docs/architecture.md, "The event log and derived state"). An index costs every row the
# import and the event path write. Deletes that cascade here are not a hot path: tenants
# and metrics are soft-deleted, the admin deletes no users, and replay deletes by user
# through the unique constraint.
#
# Nor do they have database constraints (db_constraint=False): these rows are a cache of
# the event log, written only by apply_contributions with the ids of events that have just
# passed the log's own foreign keys, and rebuilt from the log by `replay`. A constraint
# here costs a key-share lock and lookup per new row on the referenced user, metric and
# tenant (three per row, about four rows per imported event), which measured +20 % on
# import_events. Django still cascades deletes of users and metrics to them.


class MetricTotal(models.Model):
    # (user, metric) unique: the upsert, a user's totals.
    tenant = models.ForeignKey(
        Tenant, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    user = models.ForeignKey(
        EndUser,
        on_delete=models.CASCADE,
        related_name="totals",
        db_index=False,
        db_constraint=False,
    )
    metric = models.ForeignKey(
        Metric, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    total = models.DecimalField(max_digits=TOTAL_DIGITS, decimal_places=DECIMAL_PLACES)
    event_count = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "metric"], name="metric_total_unique")
        ]

    def __str__(self) -> str:
        return f"{self.user_id}/{self.metric_id}: {self.total}"


class AttributeSumsField(models.JSONField):
    """`{attribute key: {value: [sum, count]}}` with exact sums (events.attribute_sums).
    An upsert adds to it with `add_function` (sql.upsert_add_statement), where other
    sums are added with `+`."""

    add_function = attribute_sums.ADD_FUNCTION
    # A column value's JSON text, without the encoder's checks (sql._json_texts).
    json_text = staticmethod(attribute_sums.dumps)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["encoder"] = attribute_sums.Encoder
        kwargs["decoder"] = attribute_sums.Decoder
        super().__init__(*args, **kwargs)

    def deconstruct(self) -> Any:
        name, path, args, kwargs = super().deconstruct()
        kwargs.pop("encoder", None)
        kwargs.pop("decoder", None)
        return name, path, args, kwargs

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        if isinstance(value, str):  # a whole column's JSON text
            return attribute_sums.loads(value)
        return super().from_db_value(value, expression, connection)


class DailyRollup(models.Model):
    """Sum and count of one user's events of one metric on one local date, in all and
    per event-attribute value."""

    tenant = models.ForeignKey(
        Tenant, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    user = models.ForeignKey(
        EndUser, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    metric = models.ForeignKey(
        Metric, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    local_date = models.DateField()
    total = models.DecimalField(max_digits=TOTAL_DIGITS, decimal_places=DECIMAL_PLACES)
    event_count = models.PositiveIntegerField()
    # The same sum and count per event-attribute value (events.attribute_sums).
    by_attribute = AttributeSumsField(default=dict, blank=True)

    class Meta:
        constraints = [
            # The upsert's key, in the order that also serves the reads of one user's days
            # (the streak walk, newest first, and Wrapped), all metrics or one.
            models.UniqueConstraint(
                fields=["user", "local_date", "metric"], name="daily_rollup_unique"
            )
        ]
        indexes = [
            # population statistics read one metric's users for a period
            models.Index(fields=["metric", "local_date"], name="rollup_metric_date_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id}/{self.metric_id} {self.local_date}: {self.total}"


class StreakRun(models.Model):
    """A run of two or more consecutive satisfied streak periods that has ended (the
    default daily streak: consecutive active days). The run still going lives in the
    user's sequential state (engine/streak.py); a run is written here when the next
    satisfied period comes after a gap. A satisfied period outside every stored run is a
    run of one (engine/streak.py says why those are not stored)."""

    tenant = models.ForeignKey(
        Tenant, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    user = models.ForeignKey(
        EndUser, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    started = models.DateField()  # first day of the run's first period
    ended = models.DateField()  # last day of its last period
    length = models.PositiveIntegerField()  # periods

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "started"], name="streak_run_unique")
        ]

    def __str__(self) -> str:
        return f"{self.user_id}: {self.started} to {self.ended} ({self.length})"
