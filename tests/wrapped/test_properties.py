"""Properties of Wrapped (SEMANTICS A4) over random event histories: a few users in time
zones far apart (UTC-10 to UTC+13, and half-hour offsets), a few metrics, values with
negatives and decimals, event attributes, and timestamps over the year and a few weeks
either side, clustered around year, month and week boundaries so that local dates and
UTC dates differ and periods tie.

Events go through the real API (`POST /v1/metrics/{key}/event` with a `timestamp`). The
expected figures are worked out here from the events alone (local dates with zoneinfo),
never from the rollups Wrapped reads. Each property is its own hypothesis run (one
parameter of `test_wrapped_property`), so that a property that fails can be marked alone.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import transaction
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from events.models import EndUser, Tenant
from tests.factories import AttributeFactory, MetricFactory
from wrapped.models import WrappedSettings, WrappedSummary
from wrapped.services import summaries_precompute

YEAR = 2025
# Weeks after the year: its last ISO week ends on 4 January 2026, and events after it
# must be left out of everything.
NOW = datetime(2026, 1, 28, 12, tzinfo=UTC)
FIRST = datetime(2024, 12, 1, tzinfo=UTC)
LAST = datetime(2026, 1, 25, tzinfo=UTC)
ZONES = (
    "Pacific/Honolulu",  # UTC-10
    "Pacific/Tongatapu",  # UTC+13
    "Asia/Kolkata",  # UTC+5:30
    "America/St_Johns",  # UTC-3:30, with daylight saving time
    "UTC",
)
METRICS = ("words", "lessons", "coins")
ATTRIBUTES: tuple[dict[str, str], ...] = (
    {},
    {"device": "ios"},
    {"device": "web"},
    {"plan": "free"},
    {"device": "ios", "plan": "pro"},
)
# Instants events cluster around: the year's ends, a month's end, the Mondays that start
# the year's first and last ISO weeks (30 December 2024, 29 December 2025).
BOUNDARIES = (
    datetime(2025, 1, 1, tzinfo=UTC),
    datetime(2026, 1, 1, tzinfo=UTC),
    datetime(2025, 3, 1, tzinfo=UTC),
    datetime(2024, 12, 30, tzinfo=UTC),
    datetime(2025, 12, 29, tzinfo=UTC),
)
SPAN_MINUTES = int((LAST - FIRST).total_seconds() // 60)
TENTH = Decimal("0.1")


# -- Histories -----------------------------------------------------------------------


@dataclass(frozen=True)
class Sent:
    """One event as sent, and its local date worked out here."""

    user: str
    metric: str
    value: Decimal
    attributes: dict[str, str]
    timestamp: datetime
    tz: str

    @property
    def day(self) -> date:
        return self.timestamp.astimezone(ZoneInfo(self.tz)).date()

    def body(self) -> dict[str, Any]:
        value: int | float = int(self.value) if self.value == int(self.value) else float(self.value)
        body: dict[str, Any] = {
            "user": {"id": self.user, "tz": self.tz},
            "value": value,
            "timestamp": self.timestamp.isoformat(),
        }
        if self.attributes:
            body["attributes"] = self.attributes
        return body


@dataclass
class History:
    zones: dict[str, str]  # user: tz
    events: list[Sent]
    min_population: int | None  # a WrappedSettings row with it, else the default (5)

    @property
    def minimum(self) -> int:
        return self.min_population or 5


values = st.one_of(
    st.integers(-5, 50).map(Decimal),
    st.decimals("-5", "50", places=2, allow_nan=False, allow_infinity=False),
    # Few distinct values: equal changes (equal percentiles) and changes that cancel out.
    st.sampled_from(["1", "-1", "2", "0.5", "-0.5", "0", "0.1", "0.2", "0.3"]).map(Decimal),
)
anchors = st.one_of(
    st.sampled_from(BOUNDARIES),
    st.integers(0, SPAN_MINUTES).map(lambda minutes: FIRST + timedelta(minutes=minutes)),
)


@st.composite
def histories(draw: Any) -> History:
    users = [f"u{n}" for n in range(draw(st.integers(2, 6)))]
    metrics = draw(st.sampled_from([METRICS[:2], METRICS]))
    zones = {user: draw(st.sampled_from(ZONES)) for user in users}
    # Events cluster within 30 hours of a few instants: days, weeks and months with
    # several events (and ties between them), on both sides of local midnights.
    centres = draw(st.lists(anchors, min_size=1, max_size=4))
    size = draw(st.integers(1, 40))
    drawn = draw(
        st.lists(
            st.tuples(
                st.sampled_from(users),
                st.sampled_from(metrics),
                values,
                st.sampled_from(ATTRIBUTES),
                st.sampled_from(centres),
                st.integers(-30 * 60, 30 * 60),
            ),
            min_size=size,
            max_size=size,
        )
    )
    events = []
    for user, metric, value, attributes, centre, minutes in drawn:
        timestamp = min(max(centre + timedelta(minutes=minutes), FIRST), LAST)
        events.append(Sent(user, metric, value, attributes, timestamp, zones[user]))
    minimum = draw(st.sampled_from([None, 2, 2, 3]))
    return History(zones, events, minimum)


# -- Sending them, and reading the recaps --------------------------------------------


@dataclass
class Observed:
    history: History
    activity: dict[str, dict[str, Any]]  # user: activity served on demand
    texts: dict[str, str] = field(default_factory=dict)  # user: precomputed activity text
    bodies: dict[str, bytes] = field(default_factory=dict)  # user: the GET's body


def new_tenant(owner: Any) -> Tenant:
    tenant = Tenant.objects.create(
        organization=owner.organization, customer_id="wrapped-props", name="wrapped-props"
    )
    for key in METRICS:
        MetricFactory(tenant=tenant, key=key)
    for key in ("device", "plan"):
        AttributeFactory(tenant=tenant, key=key, type="event")
    return tenant


def observe(owner: Any, history: History) -> Observed:
    """Send the history, precompute every user's recap, then delete the stored
    summaries and read each recap again through the API (computed on demand)."""
    tenant = new_tenant(owner)
    client = owner.client(tenant_id=tenant.customer_id)
    for sent in history.events:
        response = client.post(f"/v1/metrics/{sent.metric}/event", sent.body(), format="json")
        assert response.status_code == 201, response.json()
    if history.min_population is not None:
        WrappedSettings.objects.create(tenant=tenant, min_population=history.min_population)
    users = {user.external_id: user for user in EndUser.objects.filter(tenant=tenant)}
    assert set(users) == {sent.user for sent in history.events}
    tenant.refresh_from_db()
    summaries_precompute(tenant=tenant, year=YEAR, user_ids=[u.pk for u in users.values()])
    stored = WrappedSummary.objects.filter(tenant=tenant, year=YEAR)
    texts = {row.user.external_id: row.activity for row in stored.select_related("user")}
    assert set(texts) == set(users)
    stored.delete()
    observed = Observed(history, {}, texts)
    for external_id in users:
        response = client.get(f"/v1/users/{external_id}/wrapped", {"year": YEAR})
        assert response.status_code == 200, response.content
        observed.bodies[external_id] = response.content
        observed.activity[external_id] = response.json()["activity"]
    return observed


# -- The model: everything worked out from the events --------------------------------


def number(value: Any) -> Decimal:
    assert isinstance(value, int | float) and not isinstance(value, bool), value
    return Decimal(str(value))


def year_days() -> Iterator[date]:
    day = date(YEAR, 1, 1)
    while day.year == YEAR:
        yield day
        day += timedelta(days=1)


def mondays() -> list[date]:
    """The Mondays of the ISO weeks holding a day of the year."""
    first = date(YEAR, 1, 1)
    monday = first - timedelta(days=first.weekday())
    out = []
    while monday <= date(YEAR, 12, 31):
        out.append(monday)
        monday += timedelta(days=7)
    return out


def month_range(month: int) -> tuple[date, date]:
    """The first and last day of `month` (1-based) of the year."""
    start = date(YEAR, month, 1)
    following = date(YEAR + 1, 1, 1) if month == 12 else date(YEAR, month + 1, 1)
    return start, following - timedelta(days=1)


def of_user(history: History, user: str) -> list[Sent]:
    return [sent for sent in history.events if sent.user == user]


def local_days(history: History, user: str) -> set[date]:
    return {sent.day for sent in of_user(history, user) if sent.day.year == YEAR}


def count(events: list[Sent], start: date, end: date) -> int:
    return sum(1 for sent in events if start <= sent.day <= end)


def change(
    events: list[Sent],
    metric: str,
    start: date,
    end: date,
    attribute: tuple[str, str] | None = None,
) -> Decimal:
    return sum(
        (
            sent.value
            for sent in events
            if sent.metric == metric
            and start <= sent.day <= end
            and (attribute is None or sent.attributes.get(attribute[0]) == attribute[1])
        ),
        Decimal(0),
    )


def earliest_greatest(measures: list[tuple[Any, int]]) -> Any:
    """The period with the greatest measure; ties go to the earliest (`measures` is in
    order)."""
    best, best_measure = measures[0]
    for period, measure in measures:
        if measure > best_measure:
            best, best_measure = period, measure
    return best


def expected_percentile(
    history: History,
    user: str,
    metric: str,
    start: date,
    end: date,
    attribute: tuple[str, str] | None = None,
) -> int | None:
    """round-half-up(100 x k / (N - 1)) over the users with a non-zero change, or None."""
    changes = {
        other: change(of_user(history, other), metric, start, end, attribute)
        for other in history.zones
    }
    population = [amount for amount in changes.values() if amount != 0]
    mine = changes[user]
    if mine == 0 or len(population) < history.minimum:
        return None
    below = sum(1 for amount in population if amount < mine)
    exact = Decimal(100 * below) / (len(population) - 1)
    return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def expected_statistics(
    history: History,
    user: str,
    metric: str,
    start: date,
    end: date,
    *,
    percentiles: bool,
    attribute: tuple[str, str] | None = None,
) -> dict[str, Any]:
    events = of_user(history, user)
    moved = change(events, metric, start, end, attribute)
    total = change(events, metric, date.min, end, attribute)
    if moved == 0:
        percent = Decimal(0)
    elif total == moved:
        percent = Decimal(100 if moved > 0 else -100)
    else:
        percent = (100 * moved / abs(total - moved)).quantize(TENTH, rounding=ROUND_DOWN)
    out: dict[str, Any] = {
        "currentTotal": total,
        "changeThisPeriod": moved,
        "percentChange": percent,
    }
    if percentiles:
        rank = expected_percentile(history, user, metric, start, end, attribute)
        if rank is not None:
            out["percentileThisPeriod"] = rank
    return out


def expected_metrics(
    history: History, user: str, start: date, end: date, *, percentiles: bool
) -> dict[str, Any]:
    """A period's `metrics`, without names and units."""
    events = of_user(history, user)
    out: dict[str, Any] = {}
    for metric in METRICS:
        if not any(sent.metric == metric and sent.day <= end for sent in events):
            continue
        entry = expected_statistics(history, user, metric, start, end, percentiles=percentiles)
        found = sorted(
            {
                (name, item)
                for sent in events
                if sent.metric == metric and start <= sent.day <= end
                for name, item in sent.attributes.items()
            }
        )
        by: dict[str, Any] = {}
        for name, item in found:
            by.setdefault(name, {})[item] = expected_statistics(
                history, user, metric, start, end, percentiles=percentiles, attribute=(name, item)
            )
        entry["byAttribute"] = by
        out[metric] = entry
    return out


def served_metrics(metrics: dict[str, Any]) -> dict[str, Any]:
    """A served `metrics` map as the model writes it: numbers as Decimals, without
    names and units."""

    def figures(stats: dict[str, Any]) -> dict[str, Any]:
        out = {
            key: number(stats[key]) for key in ("currentTotal", "changeThisPeriod", "percentChange")
        }
        if "percentileThisPeriod" in stats:
            out["percentileThisPeriod"] = stats["percentileThisPeriod"]
        return out

    return {
        key: {
            **figures(entry),
            "byAttribute": {
                name: {item: figures(stats) for item, stats in per_value.items()}
                for name, per_value in entry["byAttribute"].items()
            },
        }
        for key, entry in metrics.items()
    }


def blocks(activity: dict[str, Any]) -> Iterator[tuple[str, date, date, dict[str, Any]]]:
    """(name, first day, last day, block) of the four periods of a recap."""
    day = date.fromisoformat(activity["mostActiveDay"]["date"])
    yield "mostActiveDay", day, day, activity["mostActiveDay"]
    week = activity["mostActiveWeek"]
    yield "mostActiveWeek", date.fromisoformat(week["start"]), date.fromisoformat(week["end"]), week
    yield (
        "mostActiveMonth",
        *month_range(activity["mostActiveMonth"]["month"] + 1),
        activity["mostActiveMonth"],
    )
    yield "entireYear", date(YEAR, 1, 1), date(YEAR, 12, 31), activity["entireYear"]


# -- The properties ------------------------------------------------------------------


def counts_are_bounded(seen: Observed, user: str, activity: dict[str, Any]) -> None:
    days, weeks, months = (activity[k] for k in ("daysActive", "weeksActive", "monthsActive"))
    assert all(isinstance(n, int) and n >= 0 for n in (days, weeks, months))
    assert days <= 366 and weeks <= 54 and months <= 12
    assert weeks <= days and months <= days


def days_active_are_local_dates(seen: Observed, user: str, activity: dict[str, Any]) -> None:
    active = local_days(seen.history, user)
    assert activity["daysActive"] == len(active)
    # And the weeks and months holding them (ISO weeks: Monday to Sunday).
    assert activity["weeksActive"] == len({day - timedelta(days=day.weekday()) for day in active})
    assert activity["monthsActive"] == len({day.month for day in active})


def year_change_is_the_sum_of_the_months(
    seen: Observed, user: str, activity: dict[str, Any]
) -> None:
    events = of_user(seen.history, user)
    year = activity["entireYear"]["metrics"]
    # Listed: the metrics with an event on or before the year's last day.
    assert set(year) == {sent.metric for sent in events if sent.day <= date(YEAR, 12, 31)}
    month = activity["mostActiveMonth"]["month"] + 1
    for key, entry in year.items():
        monthly = [change(events, key, *month_range(m)) for m in range(1, 13)]
        assert number(entry["changeThisPeriod"]) == sum(monthly, Decimal(0)), key
        shown = activity["mostActiveMonth"]["metrics"].get(key)
        if shown is None:  # not listed: no event of it by the month's end, or none in the year
            assert not local_days(seen.history, user) or all(
                sent.day > month_range(month)[1] for sent in events if sent.metric == key
            ), key
        else:
            assert number(shown["changeThisPeriod"]) == monthly[month - 1], key


def most_active_periods_are_the_earliest_greatest(
    seen: Observed, user: str, activity: dict[str, Any]
) -> None:
    events = of_user(seen.history, user)
    per_day = [(day, count(events, day, day)) for day in year_days()]
    assert date.fromisoformat(activity["mostActiveDay"]["date"]) == earliest_greatest(per_day)

    per_week = [(monday, count(events, monday, monday + timedelta(days=6))) for monday in mondays()]
    # Without activity in the year: the week holding 1 January, even if the user has
    # events in the year after, on days of the year's last week.
    monday = earliest_greatest(per_week) if local_days(seen.history, user) else mondays()[0]
    week = activity["mostActiveWeek"]
    assert (week["start"], week["end"]) == (
        monday.isoformat(),
        (monday + timedelta(days=6)).isoformat(),
    )

    per_month = [(m, count(events, *month_range(m))) for m in range(1, 13)]
    assert activity["mostActiveMonth"]["month"] == earliest_greatest(per_month) - 1


def percentiles_are_integers_from_0_to_100(
    seen: Observed, user: str, activity: dict[str, Any]
) -> None:
    def walk(node: Any, path: str) -> Iterator[tuple[str, Any]]:
        if isinstance(node, dict):
            for key, child in node.items():
                if key == "percentileThisPeriod":
                    yield path, child
                yield from walk(child, f"{path}.{key}")
        elif isinstance(node, list):
            for n, child in enumerate(node):
                yield from walk(child, f"{path}[{n}]")

    found = list(walk(activity, "activity"))
    for path, percentile in found:
        assert type(percentile) is int and 0 <= percentile <= 100, (path, percentile)
        assert not path.startswith("activity.mostActiveDay"), path


def precomputed_equals_on_demand(seen: Observed, user: str, activity: dict[str, Any]) -> None:
    text = seen.texts[user]
    # Parsed and written again, so that 1 and 1.0 or keys in another order differ.
    assert json.dumps(json.loads(text)) == json.dumps(activity)
    assert seen.bodies[user].endswith(b',"activity":' + text.encode() + b"}")


def every_block_matches_the_model(seen: Observed, user: str, activity: dict[str, Any]) -> None:
    """Every figure of every period's `metrics` (totals, changes, percent changes,
    percentiles, per attribute value) as SEMANTICS A4 defines it."""
    active = bool(local_days(seen.history, user))
    for name, start, end, block in blocks(activity):
        expected = expected_metrics(
            seen.history, user, start, end, percentiles=name != "mostActiveDay"
        )
        if not active and name != "entireYear":
            expected = {}  # the placeholders of a year without activity are empty
        assert served_metrics(block["metrics"]) == expected, name


def describe(seen: Observed) -> None:
    """What the example covered, for `--hypothesis-show-statistics`."""
    texts = "".join(seen.texts.values())
    event(f"events: {len(seen.history.events) // 10 * 10}+")
    event(f"percentiles shown: {'percentileThisPeriod' in texts}")
    moved = any(sent.day.year != sent.timestamp.year for sent in seen.history.events)
    event(f"a local year differs from the UTC year: {moved}")
    tied = False
    for user in seen.activity:
        per_day = [count(of_user(seen.history, user), day, day) for day in year_days()]
        tied |= max(per_day) > 0 and per_day.count(max(per_day)) > 1
    event(f"most active days tied: {tied}")


Property = Callable[[Observed, str, dict[str, Any]], None]
PROPERTIES: dict[str, Property] = {
    prop.__name__: prop
    for prop in (
        counts_are_bounded,
        days_active_are_local_dates,
        year_change_is_the_sum_of_the_months,
        most_active_periods_are_the_earliest_greatest,
        percentiles_are_integers_from_0_to_100,
        precomputed_equals_on_demand,
        every_block_matches_the_model,
    )
}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(PROPERTIES))
@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(history=histories())
def test_wrapped_property(owner, name, history):
    check = PROPERTIES[name]
    with transaction.atomic(), time_machine.travel(NOW, tick=False):
        seen = observe(owner, history)
        for user, activity in seen.activity.items():
            check(seen, user, activity)
        describe(seen)
        transaction.set_rollback(True)
