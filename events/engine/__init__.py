"""The event engine: one way to apply events to derived state, whichever way they arrive.

- `registry.REGISTRY` lists the derivations (derivations.py says what the two kinds,
  additive and sequential, are).
- `record.record_event` records one event under its user's row lock (the event endpoint
  and batch items); `record.record_events` many (import_events, the demo), with
  `sequential.lock_users` first and `record.recompute_stale` at the end.
- `record.rebuild` deletes and recomputes every registered table from the event log.
- `dates.local_date` is the one place an event's calendar date is computed.

Layers: services call the engine; the engine uses models and the database plumbing
(`events.db`), never services, selectors or the API.
"""

from .dates import local_date
from .derivations import EventFacts, Sequential
from .record import (
    IDEMPOTENCY_CONFLICT,
    EventColumns,
    Rebuilt,
    Recorded,
    RecordedMany,
    rebuild,
    recompute_stale,
    record_event,
    record_events,
)
from .registry import REGISTRY
from .sequential import Applied, lock_users

__all__ = [
    "IDEMPOTENCY_CONFLICT",
    "REGISTRY",
    "Applied",
    "EventColumns",
    "EventFacts",
    "Rebuilt",
    "Recorded",
    "RecordedMany",
    "Sequential",
    "local_date",
    "lock_users",
    "rebuild",
    "recompute_stale",
    "record_event",
    "record_events",
]
