"""End users: the integrator's own users, identified by the integrator's string id."""

from __future__ import annotations

from django.db import models

from .tenancy import Tenant


class EndUser(models.Model):
    # A bigint surrogate key keeps the event and rollup tables narrow; the integrator's
    # id (`external_id`, Trophy's `id`) is unique per tenant.
    id = models.BigAutoField(primary_key=True)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="users")
    external_id = models.CharField("user id", max_length=255)
    email = models.CharField(max_length=320, null=True, blank=True)
    name = models.CharField(max_length=255, null=True, blank=True)
    tz = models.CharField("time zone", max_length=64, null=True, blank=True)
    device_tokens = models.JSONField(null=True, blank=True)
    subscribe_to_emails = models.BooleanField(default=True)
    attributes = models.JSONField(default=dict, blank=True)
    control = models.BooleanField(default=False)
    # {"achievement_completed": ["email"], ...}; a key absent means "never set".
    notification_preferences = models.JSONField(default=dict, blank=True)
    streak_enabled = models.BooleanField(default=True)
    created = models.DateTimeField()
    updated = models.DateTimeField()

    # What the event engine (events/engine) has applied to this user. Derived, like the
    # rows of models/derived.py, and rebuilt with them from the event log.
    #
    # The newest event applied, by (timestamp, id): an event older than it arrived late
    # and makes the engine recompute the sequential state from the log.
    newest_event_at = models.DateTimeField(null=True, blank=True, editable=False)
    newest_event_id = models.UUIDField(null=True, blank=True, editable=False)
    # Grows with every write that changes the user's derived state, so a cache of
    # something derived from it (a Wrapped summary, a card) is fresh exactly while the
    # stamp it saw is the user's and the user is not `sequential_stale` (see there).
    derived_stamp = models.BigIntegerField(default=0, editable=False)
    # Each sequential derivation's compact state, by name (engine/registry.py), as of
    # the newest event applied.
    sequential_state = models.JSONField(default=dict, blank=True, editable=False)
    # The sequential state lags the log: a bulk load (import_events, the demo) gave this
    # user events and recomputes its state from the log (state, newest event, a new
    # stamp) at its end (engine.record.recompute_stale); so does the user's next event,
    # and `rebuild`. Until then the load keeps adding to the user's additive state without
    # moving the stamp, so nothing derived from the user counts as fresh while this is set.
    sequential_stale = models.BooleanField(default=False, editable=False)

    class Meta:
        verbose_name = "end user"
        ordering = ["created", "id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "external_id"], name="user_id_unique")
        ]
        indexes = [
            models.Index(fields=["tenant", "email"], name="user_email_idx"),
            models.Index(
                fields=["tenant"],
                condition=models.Q(sequential_stale=True),
                name="user_sequential_stale_idx",
            ),
        ]

    def __str__(self) -> str:
        return self.external_id
