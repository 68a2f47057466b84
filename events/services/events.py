"""Recording metric events: the hot path.

One transaction per event, a fixed number of queries (pinned by
tests/events/test_event_queries.py):

1. read and lock the user (plus one insert when the user is new);
2. the engine's write (engine.record_event): insert the event unless its idempotency key
   was seen, and only if it was inserted, apply it: the metric total (its new total
   comes back), the day's rollup, the sequential state on the user (the default
   streak), and the fields the event's user object changes. One statement on
   PostgreSQL; one per step on SQLite.

An idempotent repeat (a seen `Idempotency-Key`) changes nothing, not even the user's
fields it carries, and answers with the current state and the original event's id.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import transaction
from django.db.models import Subquery

from ..engine import local_date, record_event
from ..engine.streak import StreakView
from ..engine.streak import extended as streak_extended
from ..engine.streak import view as streak_view
from ..exceptions import BadRequest, Unprocessable
from ..ids import uuid7
from ..models import EndUser, Event, Metric, MetricTotal, Tenant, TenantConfig
from .users import (
    UserInput,
    invalid_attribute_keys_message,
    user_changed_fields,
    user_lock_or_create,
)

MAX_FUTURE = timedelta(minutes=5)


@dataclass(frozen=True)
class EventInput:
    metric_key: str
    user: UserInput
    value: Decimal
    attributes: dict[str, str]
    timestamp: datetime | None = None
    idempotency_key: str | None = None


@dataclass(frozen=True)
class EventOutcome:
    event_id: str
    metric: Metric
    user: EndUser
    total: Decimal
    streak: StreakView
    idempotent_replay: bool
    idempotency_key: str | None


def validate_event(*, config: TenantConfig, data: EventInput, now: datetime) -> Metric:
    """Checks that need the tenant's configuration; returns the metric. Raises before any
    write, so a rejected event changes nothing."""
    metric = config.metric(data.metric_key)
    unknown = [k for k in data.attributes if k not in config.event_attribute_keys]
    if unknown:
        raise BadRequest(invalid_attribute_keys_message(unknown))
    if data.timestamp is not None and data.timestamp > now + MAX_FUTURE:
        raise Unprocessable("timestamp: must not be more than 5 minutes in the future.")
    return metric


def event_zone(tenant: Tenant, stored_tz: str | None, changes: dict) -> str:
    """The time zone an event's local date is taken in (SEMANTICS A1): the `tz` sent
    with the event's user object, else the user's stored one, else the tenant's."""
    tz = changes.get("tz", stored_tz)
    return tz or tenant.default_timezone


def event_record(
    *, tenant: Tenant, config: TenantConfig, data: EventInput, now: datetime
) -> EventOutcome:
    """Record one event and return the state the response reports. A repeated
    idempotency key changes nothing and returns the current state (`idempotent_replay`)."""
    metric = validate_event(config=config, data=data, now=now)
    with transaction.atomic():
        user, created = user_lock_or_create(tenant=tenant, config=config, data=data.user, now=now)
        fields = {} if created else user_changed_fields(user, data.user.changes)
        if fields:
            fields["updated"] = now
        timestamp = data.timestamp or now
        event = Event(
            id=uuid7(),
            tenant=tenant,
            user=user,
            metric=metric,
            value=data.value,
            attributes=data.attributes,
            timestamp=timestamp,
            local_date=local_date(timestamp, event_zone(tenant, user.tz, data.user.changes)),
            received_at=now,
            idempotency_key=data.idempotency_key,
        )
        recorded = record_event(
            tenant=tenant, config=config, user=user, event=event, user_fields=fields
        )
        if not recorded.inserted:
            return _idempotent_replay(tenant, user, metric, data.idempotency_key, now)
    today = local_date(now, user.tz or tenant.default_timezone)
    before = streak_view(recorded.state_before, today, enabled=user.streak_enabled)
    after = streak_view(recorded.state_after, today, enabled=user.streak_enabled)
    assert recorded.total is not None
    return EventOutcome(
        event_id=str(event.id),
        metric=metric,
        user=user,
        total=recorded.total,
        streak=streak_extended(before, after),
        idempotent_replay=False,
        idempotency_key=data.idempotency_key,
    )


def _idempotent_replay(
    tenant: Tenant, user: EndUser, metric: Metric, key: str | None, now: datetime
) -> EventOutcome:
    # One query: the original event's id with the current total beside it.
    total = MetricTotal.objects.filter(tenant=tenant, user=user, metric=metric).values("total")[:1]
    event_id, current = (
        Event.objects.filter(tenant=tenant, user=user, metric=metric, idempotency_key=key)
        .annotate(current=Subquery(total))
        .values_list("id", "current")
        .get()
    )
    today = local_date(now, user.tz or tenant.default_timezone)
    return EventOutcome(
        event_id=str(event_id),
        metric=metric,
        user=user,
        total=Decimal(str(current)) if current is not None else Decimal(0),
        streak=streak_view(user.sequential_state, today, enabled=user.streak_enabled),
        idempotent_replay=True,
        idempotency_key=key,
    )
