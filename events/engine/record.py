"""Recording events: the log insert and every registered derivation, for one event (the
hot path) or many (imports, the demo), and rebuilding derived state from the log.

Every way an event arrives ends here. The caller holds the user's row lock (the event
path's locked user read; `lock_users` for bulk callers), which serialises a user's
writers, so the state read under it is current, and a rebuild never counts an event
twice.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from itertools import groupby
from typing import Any, NamedTuple

from django.db import connection, transaction
from django.db.models import F, TextField, Value

from ..db import stream
from ..db.processes import in_processes
from ..db.sql import (
    Statement,
    insert_columns_ignoring_conflict,
    insert_ignoring_conflict_statement,
    insert_statement,
    insert_then,
    update_statement,
)
from ..models import EndUser, Event, Tenant, TenantConfig
from ..numbers import compact
from .additive import apply as apply_additive
from .additive import new_totals, upsert_statements
from .derivations import EVENT_FIELDS, Contribution, Effect, EventFacts
from .registry import REGISTRY
from .sequential import (
    APPLIED_FIELDS,
    Applied,
    facts_of,
    fold,
    lock_users,
    save_applied,
    write_effects,
)

# An event's idempotency key is unique per (user, metric); events without one never
# conflict.
IDEMPOTENCY_CONFLICT = "(user_id, metric_id, idempotency_key) WHERE idempotency_key IS NOT NULL"


class Recorded(NamedTuple):
    inserted: bool  # False: its idempotency key was seen, and nothing changed
    total: Decimal | None  # the metric's new total for the user (None when not inserted)
    state_before: dict[str, Any]  # the user's sequential state before the event
    state_after: dict[str, Any]  # and after it (the same when not inserted)


def record_event(
    *,
    tenant: Tenant,
    config: TenantConfig,
    user: EndUser,
    event: Event,
    user_fields: Mapping[str, Any],
) -> Recorded:
    """Insert `event` (unsaved, its id and local date set) unless its idempotency key
    was seen, and only then apply it: additive upserts, the sequential fold, the user's
    `user_fields` (profile fields the event's user object changes), stamp and state.
    `user` was read under its row lock in this transaction.

    One statement on PostgreSQL (`db.sql.insert_then`). An event older than the user's
    newest (or a user whose state is stale) has its sequential state recomputed from
    the log right after, in the same transaction.
    """
    value = compact(event.value)
    facts = EventFacts(
        event.id, event.timestamp, event.local_date, event.metric_id, value, event.attributes
    )
    applied = Applied.of(user)
    contribution: Contribution = (
        user.pk,
        event.metric_id,
        event.local_date,
        value,
        facts.attributes,
    )
    then = upsert_statements(
        tenant.pk, REGISTRY.additive, [contribution], returning=True, guard=True
    )
    values: dict[str, Any] = dict(user_fields)
    late = not applied.continues_with(facts, REGISTRY)
    after = applied.state
    if late:
        values["sequential_stale"] = True
        if applied.newest is None or facts.order > applied.newest:
            values.update(newest_event_at=facts.timestamp, newest_event_id=facts.id)
    else:
        after, effects = fold(REGISTRY, applied.state, [facts], config)
        values.update(
            sequential_state=after, newest_event_at=facts.timestamp, newest_event_id=facts.id
        )
        then += _effect_statements(tenant.pk, user.pk, effects)
    then.append(
        update_statement(
            EndUser, pk=user.pk, values=values, increments=("derived_stamp",), guard=True
        )
    )
    chained = insert_then(
        insert_ignoring_conflict_statement(event, conflict=IDEMPOTENCY_CONFLICT), then
    )
    if chained.new_id is None:
        return Recorded(False, None, applied.state, applied.state)
    for name, new in values.items():
        setattr(user, name, new)
    user.derived_stamp += 1
    if late:
        _from_log(tenant, config, [user.pk], additive=False)
        user.refresh_from_db(fields=[*APPLIED_FIELDS, "derived_stamp"])
        after = user.sequential_state
    total = new_totals(chained.returned)[(user.pk, event.metric_id)]
    return Recorded(True, total, applied.state, after)


def _effect_statements(
    tenant_id: uuid.UUID, user_id: int, effects: dict[str, list[Effect]]
) -> list[Statement]:
    """The inserts of one user's effect rows, in the form `insert_then` runs."""
    statements = []
    for derivation in REGISTRY.sequential:
        rows = effects.get(derivation.name)
        if rows and derivation.effect_model is not None:
            statements.append(
                insert_statement(
                    derivation.effect_model,
                    names=derivation.effect_fields,
                    rows=rows,
                    constants={"tenant": tenant_id, "user": user_id},
                    guard=True,
                )
            )
    return statements


@dataclass
class EventColumns:
    """Many new events, column-wise (the form bulk inserts take): ids (uuid7, in
    creation order), user ids, metric ids, values (`numbers.compact`), attributes,
    timestamps, local dates and idempotency keys."""

    ids: list[uuid.UUID] = field(default_factory=list)
    users: list[int] = field(default_factory=list)
    metrics: list[uuid.UUID] = field(default_factory=list)
    values: list[int | Decimal] = field(default_factory=list)
    attributes: list[dict[str, str]] = field(default_factory=list)
    timestamps: list[datetime] = field(default_factory=list)
    local_dates: list[date] = field(default_factory=list)
    keys: list[str | None] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.ids)


class RecordedMany(NamedTuple):
    inserted: set[uuid.UUID] | None  # the new events' ids; None: all of them
    new: int  # how many were new


def record_events(
    *,
    tenant: Tenant,
    events: EventColumns,
    applied: dict[int, Applied],
    received_at: datetime,
) -> RecordedMany:
    """Insert many events, skipping those whose idempotency key was seen, and apply the
    new ones: additive state set-based; the sequential state of every user with new
    events is marked stale, for `recompute_stale` to compute from the log once the bulk
    load is done (callers run it at the end). `applied` is what `lock_users` returned
    for every user of `events`, locked by this transaction; it is updated in place.

    Why not fold each chunk's events into the stored state: a bulk load in no order of
    time would recompute a user again for every chunk that brings an older event, and
    one in order would rewrite every user's state for every chunk (a user is in nearly
    every chunk of a year's backfill sorted by time). One pass over each user's log at
    the end costs less than either (1,000,000 events sorted by time: 57 s of chunks
    folding them, 44 s marking users stale plus 3.3 s recomputing them). Meanwhile a
    stale user's sequential state lags the log and nothing derived from it counts as
    fresh (EndUser.sequential_stale); its next event, a re-run or `rebuild` also
    recompute it."""
    if not len(events):
        return RecordedMany(None, 0)
    returned = insert_columns_ignoring_conflict(
        Event,
        constants={"tenant": tenant.pk, "received_at": received_at},
        columns={
            "id": events.ids,
            "user": events.users,
            "metric": events.metrics,
            "value": events.values,
            "attributes": events.attributes,
            "timestamp": events.timestamps,
            "local_date": events.local_dates,
            "idempotency_key": events.keys,
        },
        conflict=IDEMPOTENCY_CONFLICT,
        returning=(),  # only how many: the usual answer is "all of them"
    )
    contributions: list[Contribution] = list(
        zip(
            events.users,
            events.metrics,
            events.local_dates,
            events.values,
            events.attributes,
            strict=True,
        )
    )
    inserted: set[uuid.UUID] | None = None
    if len(returned) < len(events):
        # The new events are those whose fresh ids are in the log now (no other writer
        # can have used them).
        inserted = set(
            Event.objects.filter(pk__in=events.ids).values_list("pk", flat=True).iterator()
        )
        contributions = [
            contribution
            for event_id, contribution in zip(events.ids, contributions, strict=True)
            if event_id in inserted
        ]
    apply_additive(tenant.pk, REGISTRY.additive, contributions)
    stale = {user for user, *_ in contributions if not applied[user].stale}
    for user in stale:
        applied[user].stale = True
    save_applied(applied[user] for user in stale)
    return RecordedMany(inserted, len(contributions))


def recompute_stale(
    *, tenant: Tenant, config: TenantConfig, workers: int = 1, users_per_transaction: int = 1000
) -> int:
    """Recompute from the log the sequential state of every user of `tenant` marked
    stale (by a bulk load, `record_events`), a transaction per `users_per_transaction`
    users, each locked. Returns how many were recomputed.

    On PostgreSQL, outside a transaction, `workers` forked processes share the users
    (by id), each with its own connection. Reading a user's log and folding it is
    mostly Python: threads would take turns under the GIL (two measured no faster than
    one), processes run on both cores."""
    if workers > 1 and connection.vendor == "postgresql" and not connection.in_atomic_block:
        return in_processes(
            lambda share, shares: _recompute_share(
                tenant, config, share, shares, users_per_transaction
            ),
            workers,
        )
    return _recompute_share(tenant, config, 0, 1, users_per_transaction)


def _recompute_share(
    tenant: Tenant, config: TenantConfig, share: int, shares: int, per_transaction: int
) -> int:
    stale = EndUser.objects.filter(tenant=tenant, sequential_stale=True)
    if shares > 1:
        stale = stale.annotate(share=F("pk") % shares).filter(share=share)
    done = 0
    while True:
        with transaction.atomic():
            candidates = list(stale.order_by("pk").values_list("pk", flat=True)[:per_transaction])
            if not candidates:
                return done
            still = [pk for pk, applied in lock_users(candidates).items() if applied.stale]
            _from_log(tenant, config, still, additive=False)
            done += len(still)


@dataclass(frozen=True)
class Rebuilt:
    users: int
    events: int
    deleted: int  # derived rows deleted (every registered table)


def rebuild(
    *,
    tenant: Tenant,
    config: TenantConfig,
    user_ids: Sequence[int],
    progress: Callable[[int], None] | None = None,
) -> Rebuilt:
    """Delete every registered derivation's rows for these users of `tenant` and compute
    them again from the event log, with their sequential state, newest event and stamp.
    Call in a transaction; the users are locked here, in id order. `progress` gets the
    number of events of each chunk applied."""
    ids = sorted(user_ids)
    lock_users(ids)
    events, deleted = _from_log(tenant, config, ids, additive=True, progress=progress)
    return Rebuilt(users=len(ids), events=events, deleted=deleted)


# The log's columns for EVENT_FIELDS.
LOG_COLUMNS = ("local_date", "metric", "value", "attributes")
# Users whose events one pass of `_from_log` reads (bounds memory), and events per read.
USERS_PER_STEP = 1000
READ_CHUNK = 10_000


def _from_log(
    tenant: Tenant,
    config: TenantConfig,
    user_ids: Sequence[int],
    *,
    additive: bool,
    progress: Callable[[int], None] | None = None,
) -> tuple[int, int]:
    """Compute these users' derived state again from their events, in `(timestamp, id)`
    order: the sequential state (effect rows deleted and written again, state, newest
    event, stale flag and stamp on the user) and, with `additive`, the additive tables
    too (their rows deleted first). The users are locked by the caller. Returns how many
    events were read and how many derived rows were deleted."""
    ids = sorted(user_ids)
    tables = (
        REGISTRY.tables()
        if additive
        else [d.effect_model for d in REGISTRY.sequential if d.effect_model is not None]
    )
    # The event fields the derivations read (the additive ones read them all); NULL for
    # the others, which are then not decoded.
    reads = set(EVENT_FIELDS) if additive else REGISTRY.reads()
    columns = [
        name if field in reads else Value(None, output_field=TextField())
        for field, name in zip(EVENT_FIELDS, LOG_COLUMNS, strict=True)
    ]
    read = deleted = 0
    for start in range(0, len(ids), USERS_PER_STEP):
        part = ids[start : start + USERS_PER_STEP]
        for table in tables:
            deleted += table._default_manager.filter(tenant=tenant, user_id__in=part).delete()[0]
        events = stream.rows(
            Event.objects.filter(tenant=tenant, user_id__in=part)
            .order_by("user_id", "timestamp", "id")
            .values_list("user_id", "id", "timestamp", *columns),
            itersize=READ_CHUNK,
        )
        # A user without events keeps the state a new user has ({}).
        applied = {pk: Applied(pk, None, {}, False) for pk in part}
        effects: dict[int, dict[str, list[Effect]]] = {}
        contributions: list[Contribution] = []
        for user_id, rows in groupby(events, key=lambda row: row[0]):
            facts = facts_of(row[1:] for row in rows)
            read += len(facts)
            state, effects[user_id] = fold(REGISTRY, REGISTRY.initial_state(), facts, config)
            applied[user_id] = Applied(user_id, facts[-1].order, state, stale=False)
            if additive:
                contributions.extend(
                    (user_id, f.metric_id, f.local_date, f.value, f.attributes) for f in facts
                )
                if len(contributions) >= READ_CHUNK:
                    _add(tenant, contributions, progress)
        if additive:
            _add(tenant, contributions, progress)
        write_effects(REGISTRY, tenant.pk, effects)
        save_applied(applied.values())
    return read, deleted


def _add(
    tenant: Tenant, contributions: list[Contribution], progress: Callable[[int], None] | None
) -> None:
    """Upsert these contributions into the additive tables, and empty the list."""
    if not contributions:
        return
    apply_additive(tenant.pk, REGISTRY.additive, contributions)
    if progress is not None:
        progress(len(contributions))
    contributions.clear()
