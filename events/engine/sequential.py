"""Running the sequential derivations: one user's events, in `(timestamp, id)` order,
folded into the state kept on the user, and the effect rows they append.

`Applied` is what the engine has applied to a user, read under the user's row lock.
An event after the newest applied one continues the fold from the stored state; an
older one (it arrived late) means the state must be recomputed from the log: the single
event path does it at once; a bulk import marks the user stale and recomputes every
stale user once, at the end (record.recompute_stale), since a backfill in arbitrary
order would otherwise recompute a user again for every chunk.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.db import connection

from ..db.sql import insert_columns_ignoring_conflict, update_rows
from ..models import EndUser, TenantConfig
from ..numbers import compact
from .derivations import Effect, EventFacts, Registry, State

# The user's fields the engine keeps (models/users.py), in `update_rows` order.
APPLIED_FIELDS = ("sequential_state", "newest_event_at", "newest_event_id", "sequential_stale")


@dataclass
class Applied:
    """What the engine has applied to one user."""

    user_id: int
    newest: tuple[datetime, uuid.UUID] | None
    state: dict[str, State]
    stale: bool

    @classmethod
    def of(cls, user: EndUser) -> Applied:
        newest = None
        if user.newest_event_at is not None and user.newest_event_id is not None:
            newest = (user.newest_event_at, user.newest_event_id)
        return cls(user.pk, newest, user.sequential_state or {}, user.sequential_stale)

    def continues_with(self, first: EventFacts, registry: Registry) -> bool:
        """Whether events from `first` on (in order) continue the stored state: not when
        one arrived late, nor when the state is stale, nor when it lacks a derivation
        registered since it was written (that one must start from the user's first
        event, not from this one)."""
        if self.stale:
            return False
        if self.newest is None:
            return True  # nothing applied yet: every derivation starts from initial()
        return first.order > self.newest and all(
            derivation.name in self.state for derivation in registry.sequential
        )

    def row(self) -> tuple[Any, ...]:
        """Its `update_rows` row for `APPLIED_FIELDS`."""
        at, event_id = self.newest if self.newest is not None else (None, None)
        return (self.user_id, self.state, at, event_id, self.stale)


def lock_users(user_ids: Iterable[int]) -> dict[int, Applied]:
    """Lock these users' rows until the transaction ends and read what the engine has
    applied to them. In id order, so two transactions locking overlapping sets wait for
    each other instead of deadlocking; every writer of a user's events holds its lock,
    which is what makes the state read here current. (SQLite has no row locks: its
    write transactions exclude each other.)"""
    ids = sorted(set(user_ids))
    # Of a stale user only that is read: its state and newest event are recomputed from
    # the log before they are used (in a backfill, most users after its first chunks).
    columns = ", ".join(
        [
            "u.id",
            *(
                f"CASE WHEN u.sequential_stale THEN NULL ELSE u.{name} END"
                for name in ("sequential_state", "newest_event_at", "newest_event_id")
            ),
            "u.sequential_stale",
        ]
    )
    rows: list[tuple[Any, ...]] = []
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            if ids:
                # A join with the ids, not `id = ANY(%s)`: this runs once per import chunk,
                # becomes a prepared statement with a generic plan, and there PostgreSQL
                # cannot hash an array parameter, so `= ANY` compared every user with
                # every id (≈ 100 ms per chunk of 3,000 users instead of ≈ 4; the cast
                # keeps psycopg from sending an unhashable int2[]).
                cursor.execute(
                    f"SELECT {columns} FROM events_enduser u "
                    "JOIN unnest(%s::bigint[]) AS ids(id) ON u.id = ids.id "
                    "ORDER BY u.id FOR UPDATE OF u",
                    [ids],
                )
                rows = cursor.fetchall()
        else:
            for start in range(0, len(ids), 2000):
                part = ids[start : start + 2000]
                cursor.execute(
                    f"SELECT {columns} FROM events_enduser u "
                    f"WHERE u.id IN ({', '.join(['%s'] * len(part))})",
                    part,
                )
                rows.extend(cursor.fetchall())
    state_field = EndUser._meta.get_field("sequential_state")
    id_field = EndUser._meta.get_field("newest_event_id")
    at_field = EndUser._meta.get_field("newest_event_at")
    out: dict[int, Applied] = {}
    for user_id, state, at, event_id, stale in rows:
        state = state_field.from_db_value(state, None, connection)  # type: ignore[arg-type]
        if at is not None and event_id is not None:
            at = _aware(at_field, at)
            newest = (at, id_field.to_python(event_id))
        else:
            newest = None
        out[user_id] = Applied(user_id, newest, state or {}, bool(stale))
    return out


def _aware(field: Any, value: Any) -> datetime:
    # PostgreSQL returns an aware datetime; SQLite the UTC time the ORM stored, naive
    # (or its text).
    if not isinstance(value, datetime):
        value = field.to_python(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def fold(
    registry: Registry, state: dict[str, State], events: Sequence[EventFacts], config: TenantConfig
) -> tuple[dict[str, State], dict[str, list[Effect]]]:
    """Run every sequential derivation over `events` (in order) from `state`; return the
    new state and each derivation's effects. A derivation missing from `state` starts
    from its `initial()` (callers fold from a user's first event then: see
    `Applied.continues_with`)."""
    state = dict(state)
    effects: dict[str, list[Effect]] = {}
    for derivation in registry.sequential:
        current = state.get(derivation.name)
        if current is None:
            current = derivation.initial()
        out: list[Effect] = []
        step = derivation.step
        for event in events:
            current, new = step(current, event, config)
            if new:
                out.extend(new)
        state[derivation.name] = current
        if out:
            effects[derivation.name] = out
    return state, effects


def write_effects(
    registry: Registry, tenant_id: uuid.UUID, effects: dict[int, dict[str, list[Effect]]]
) -> None:
    """Append each user's effects to their derivations' tables."""
    for derivation in registry.sequential:
        if derivation.effect_model is None:
            continue
        users: list[int] = []
        rows: list[Effect] = []
        for user_id, by_name in effects.items():
            for effect in by_name.get(derivation.name, ()):
                users.append(user_id)
                rows.append(effect)
        if not rows:
            continue
        columns: dict[str, list[Any]] = {"user": users}
        for name, values in zip(derivation.effect_fields, zip(*rows, strict=True), strict=True):
            columns[name] = list(values)
        insert_columns_ignoring_conflict(
            derivation.effect_model,
            constants={"tenant": tenant_id},
            columns=columns,
            conflict=None,  # a user's effect rows are deleted before they are written again
            returning=(),
        )


def save_applied(applied: Iterable[Applied]) -> None:
    """Write what the engine has applied to these users, and move their stamps."""
    update_rows(
        EndUser,
        names=APPLIED_FIELDS,
        rows=[a.row() for a in applied],
        increments=("derived_stamp",),
    )


def _value(value: Any) -> Any:
    return value if value is None else compact(value)  # None: not read


def facts_of(rows: Iterable[tuple[Any, ...]]) -> list[EventFacts]:
    """EventFacts from (id, timestamp, local_date, metric id, value, attributes) rows
    (any of the last four may be None: not read)."""
    return [
        EventFacts(
            event_id,
            timestamp,
            local_date,
            metric_id,
            _value(value),
            attributes,
        )
        for event_id, timestamp, local_date, metric_id, value, attributes in rows
    ]
