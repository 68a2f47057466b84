"""Recording metric events: the hot path.

One transaction per event, a fixed number of queries (pinned by
tests/events/test_event_queries.py):

1. read and lock the user (plus one insert when the user is new, one update when the
   event changes the user's fields);
2. insert the event, skipping it when its idempotency key was seen (then it is a replay),
   and only if it was inserted: read the user's active days for the streak as they were
   before the event (skipped for a user created by this event: its only active day is
   the event's), and add the value to the user's metric total (atomic upsert, returns
   the new total) and to the day's rollup (and, when the event has attributes, to the
   rollup's sums per attribute value). One statement on PostgreSQL (derived.insert_and_apply);
   one per step on SQLite.

Totals and rollups are sums, which commute: an event that arrives late (back-dated
`timestamp`) gives the same derived state as in-order arrival without a replay. When
streak, achievement and points state arrive (later issues), late events are applied by
replaying that user (DESIGN.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db import transaction
from django.db.models import Subquery

from ..exceptions import BadRequest, Unprocessable
from ..models import EndUser, Event, Metric, MetricTotal, Tenant
from ..selectors.config import TenantConfig
from ..selectors.streaks import StreakState, current_streak, first_page_read
from .derived import insert_and_apply
from .users import UserInput, invalid_attribute_keys_message, user_get_or_create

MAX_FUTURE = timedelta(minutes=5)
IDEMPOTENCY_CONFLICT = "(user_id, metric_id, idempotency_key) WHERE idempotency_key IS NOT NULL"


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
    streak: StreakState
    replayed: bool
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


def event_record(
    *, tenant: Tenant, config: TenantConfig, data: EventInput, now: datetime
) -> EventOutcome:
    """Record one event and return the state the response reports. A repeated
    idempotency key changes nothing and returns the current state (`replayed`)."""
    metric = validate_event(config=config, data=data, now=now)
    with transaction.atomic():
        # The user's row lock serialises this user's events with each other and with a
        # replay of the user, so a replay never counts an event twice.
        user, created = user_get_or_create(
            tenant=tenant, config=config, data=data.user, now=now, lock=True
        )
        timestamp = data.timestamp or now
        local_date = timestamp.astimezone(ZoneInfo(user.tz or tenant.default_timezone)).date()
        event = Event(
            tenant=tenant,
            user=user,
            metric=metric,
            value=data.value,
            attributes=data.attributes,
            timestamp=timestamp,
            local_date=local_date,
            received_at=now,
            idempotency_key=data.idempotency_key,
        )
        applied = insert_and_apply(
            event,
            conflict=IDEMPOTENCY_CONFLICT,
            tenant_id=tenant.id,
            contribution=(user.pk, metric.pk, local_date, data.value, data.attributes),
            # The streak's read, in the same statement (a new user has nothing to read,
            # and a user with streaks disabled needs nothing).
            read=None
            if created or not user.streak_enabled
            else first_page_read(tenant=tenant, user=user, now=now),
        )
        if applied.new_id is None:
            return _replay_outcome(tenant, user, metric, data.idempotency_key, now)
        streak = current_streak(
            tenant=tenant,
            user=user,
            now=now,
            event_day=local_date,
            new_user=created,
            first_page_before_event=None if created or not user.streak_enabled else applied.read,
        )
    return EventOutcome(
        event_id=str(event.id),
        metric=metric,
        user=user,
        total=applied.totals[(user.pk, metric.pk)],
        streak=streak,
        replayed=False,
        idempotency_key=data.idempotency_key,
    )


def _replay_outcome(
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
    return EventOutcome(
        event_id=str(event_id),
        metric=metric,
        user=user,
        total=Decimal(str(current)) if current is not None else Decimal(0),
        streak=current_streak(tenant=tenant, user=user, now=now),
        replayed=True,
        idempotency_key=key,
    )
