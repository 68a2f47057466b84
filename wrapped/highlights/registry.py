"""The highlight registry: what a recap is made of.

A highlight fills one key of the response: of `activity` (`daysActive`), of each of the
four periods (`metrics`, `points`, `achievements`, `leaderboards` of `mostActiveDay`,
`mostActiveWeek`, `mostActiveMonth` and `entireYear`), or of `entireYear` alone
(`longestStreak`). It is a function of the user's year (`UserYear`) and the period,
reading what its sources loaded. A source loads one kind of derived state (the daily
rollups, the streak's runs, later award logs and rank snapshots) for many users at once,
so that precomputing a chunk of users costs one query per source, not per user.

A feature adds its block by registering a highlight (and its source), never by changing
the pipeline (`wrapped.summary`) or its callers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

from events.models import EndUser, Metric, Tenant

from ..periods import Period
from ..populations import Percentiles

Scope = Literal["activity", "period", "entireYear"]


@dataclass(frozen=True)
class Source:
    """Loads one kind of derived state for `users` of `tenant`, as far as a recap of
    `year` needs it: `{user pk: data}` (users without any may be absent)."""

    name: str
    load: Callable[[Tenant, int, Sequence[EndUser]], dict[int, Any]]


@dataclass(frozen=True)
class WrappedOptions:
    """A tenant's Wrapped settings, as the pipeline reads them."""

    min_population: int = 5
    activity_metric_id: Any = None  # None: most active by number of events


@dataclass
class UserYear:
    """What highlights read: one user's year, its tenant's active metrics (by id, in
    configuration order), its options, the population statistics of the periods shown,
    and what each source loaded for the user (`data[source name]`, None when nothing)."""

    tenant: Tenant
    user: EndUser
    year: int
    options: WrappedOptions
    metrics: dict[Any, Metric]
    data: dict[str, Any]
    percentiles: Percentiles = field(default_factory=Percentiles)

    def loaded(self, source: Source) -> Any:
        return self.data.get(source.name)


@dataclass(frozen=True)
class Highlight:
    """Fills `key` in the `scope` of the response with `compute(user's year, period)`
    (for `activity` and `entireYear` the period is the year)."""

    key: str
    scope: Scope
    compute: Callable[[UserYear, Period], Any]
    sources: tuple[Source, ...] = ()
    # What a `period` highlight answers for the most active day, week and month of a user
    # without activity in the year (SEMANTICS A4: "each with empty maps and lists").
    empty: Callable[[], Any] = dict


class Highlights:
    def __init__(self, *highlights: Highlight) -> None:
        self._items: list[Highlight] = []
        for highlight in highlights:
            self.register(highlight)

    def register(self, highlight: Highlight) -> None:
        if any(h.key == highlight.key and h.scope == highlight.scope for h in self._items):
            raise ValueError(f"a highlight fills {highlight.scope} {highlight.key!r} already")
        self._items.append(highlight)

    def unregister(self, highlight: Highlight) -> None:
        self._items.remove(highlight)

    @contextmanager
    def registered(self, *highlights: Highlight) -> Iterator[None]:
        """Register `highlights` for the duration of a block (tests, experiments)."""
        for highlight in highlights:
            self.register(highlight)
        try:
            yield
        finally:
            for highlight in highlights:
                self.unregister(highlight)

    def of(self, scope: Scope) -> list[Highlight]:
        return [h for h in self._items if h.scope == scope]

    def sources(self) -> list[Source]:
        """Every source a registered highlight reads, once each, in registration order."""
        seen: dict[str, Source] = {}
        for highlight in self._items:
            for source in highlight.sources:
                seen.setdefault(source.name, source)
        return list(seen.values())
