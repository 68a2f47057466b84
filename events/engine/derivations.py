"""What a derivation is: the two kinds the engine runs, and the registry that lists them.

- **Additive** (`Additive`): order-free sums. Each event adds its value (and a count of
  one, and per event-attribute value where asked) to the row of its key; rows are
  written with atomic `+` upserts, so events may arrive in any order, concurrently,
  one at a time or a million at once, and the rows come out the same.
- **Sequential** (`Sequential`): a step `(state, event, config) -> (state, effects)`
  run over one user's events in `(timestamp, id)` order, from `initial()`. The state is
  compact JSON kept on the user (`EndUser.sequential_state[name]`); effects are rows
  appended to the derivation's own table (`effect_model`). Streaks, achievements and
  points are sequential: their outcome depends on the order of events.

A new rule is a new registered derivation (engine/registry.py), never a change to the
callers: every way an event arrives goes through the engine, which runs them all.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, NamedTuple

from django.db import models

from ..models import TenantConfig

# The fields of EventFacts a sequential derivation may read, besides the id and the
# timestamp (every derivation sees those: they are the order).
EVENT_FIELDS = ("local_date", "metric_id", "value", "attributes")


class EventFacts(NamedTuple):
    """One event as the derivations see it. A field of EVENT_FIELDS that no registered
    derivation `reads` may be None when the engine recomputes state from the log."""

    id: uuid.UUID
    timestamp: datetime
    local_date: date
    metric_id: uuid.UUID
    value: int | Decimal  # an int when whole (numbers.compact)
    attributes: dict[str, str]

    @property
    def order(self) -> tuple[datetime, uuid.UUID]:
        """The order sequential derivations see events in."""
        return (self.timestamp, self.id)


# An additive derivation's input, one tuple per event (built by the engine):
# (user id, metric id, local date, value, event attributes).
Contribution = tuple[int, uuid.UUID, date, int | Decimal, dict[str, str]]
USER, METRIC, DATE, VALUE, ATTRIBUTES = range(5)


@dataclass(frozen=True)
class Additive:
    """Per key, the sum and count of the values of a user's events (and, with
    `by_attribute`, the same per event-attribute value, in the row's `by_attribute`
    JSON column, events/attribute_sums.py). The key is `keys` (model fields, in the
    order of the model's unique constraint, which is the upsert's conflict target),
    taken from each contribution at the positions `key_of`."""

    name: str
    model: type[models.Model]
    keys: tuple[str, ...]
    key_of: tuple[int, ...]
    by_attribute: bool = False
    # Columns the single-event path reads back from its upsert (the new total).
    returning: tuple[str, ...] = ()

    @property
    def sums(self) -> tuple[str, ...]:
        return ("total", "event_count", "by_attribute") if self.by_attribute else SUMS


SUMS = ("total", "event_count")

State = Any  # JSON: dicts, lists, strings, numbers, booleans, None
Effect = tuple[Any, ...]  # the values of a derivation's `effect_fields`
Step = Callable[[State, EventFacts, TenantConfig], tuple[State, list[Effect]]]


@dataclass(frozen=True)
class Sequential:
    """A per-user fold over events in `(timestamp, id)` order. `step` must be a pure
    function of its arguments (the engine re-runs it from `initial()` over the log
    whenever an event arrives late, and `rebuild` does the same for everyone), and must
    return a new state rather than change the one it was given. Effects are rows of
    `effect_model` (`effect_fields`, in order; the engine adds the tenant and user),
    deleted and written again when the user's sequential state is recomputed.

    `reads` names the fields of EventFacts (of EVENT_FIELDS) that `step` uses: when
    the engine recomputes sequential state from the log it reads no others (they are
    then None). A million events' attributes and values cost seconds to decode.`"""

    name: str
    initial: Callable[[], State]
    step: Step
    effect_model: type[models.Model] | None = None
    effect_fields: tuple[str, ...] = ()
    reads: tuple[str, ...] = EVENT_FIELDS


@dataclass
class Registry:
    additive: list[Additive] = field(default_factory=list)
    sequential: list[Sequential] = field(default_factory=list)

    def tables(self) -> list[type[models.Model]]:
        """Every table the derivations write (what `rebuild` empties and fills again)."""
        tables = [derivation.model for derivation in self.additive]
        tables += [d.effect_model for d in self.sequential if d.effect_model is not None]
        return tables

    def reads(self) -> set[str]:
        """The event fields any sequential derivation reads."""
        return {name for derivation in self.sequential for name in derivation.reads}

    def initial_state(self) -> dict[str, State]:
        return {derivation.name: derivation.initial() for derivation in self.sequential}

    @contextmanager
    def registered(self, derivation: Sequential) -> Iterator[Sequential]:
        """Run with `derivation` registered too (tests, and a feature trying a rule
        before it is built in)."""
        if any(d.name == derivation.name for d in self.sequential):
            raise ValueError(f"a sequential derivation named {derivation.name!r} exists")
        self.sequential.append(derivation)
        try:
            yield derivation
        finally:
            self.sequential.remove(derivation)
