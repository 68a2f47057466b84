"""One engine for every way an event arrives: the single event (HTTP), batch items, an
import and a rebuild give identical derived state for the same events in any order of
arrival, with late events and duplicate deliveries, for the built-in derivations and for
a sequential derivation registered by the test (engine/registry.py).

The toy derivation, "the longest run of events with increasing values", depends on the
order of events, so it would come out differently if any path applied events out of
`(timestamp, id)` order or skipped the engine; its expected value is worked out here
from the events alone.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from events.api.import_lines import import_lines
from events.engine import REGISTRY, EventFacts, Sequential
from events.models import EndUser, EventBatch, Tenant, TenantConfig
from events.models.log import BatchStatus
from events.services.batches import batch_process
from events.services.rebuild import derived_state_rebuild
from tests.derived import derived_state
from tests.factories import AttributeFactory, MetricFactory

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
# Time zones far apart (UTC-10, UTC, UTC+14), so local dates differ from UTC dates.
USERS = {"ann": "Pacific/Honolulu", "bob": "UTC", "cy": "Pacific/Kiritimati"}
METRICS = ("words", "lessons")


def toy_initial() -> dict[str, Any]:
    return {"last": None, "run": 0, "best": 0}


def toy_step(state: dict[str, Any], event: EventFacts, config: TenantConfig) -> tuple[Any, list]:
    value = Decimal(event.value)
    rising = state["last"] is not None and value > Decimal(state["last"])
    run = state["run"] + 1 if rising else 1
    return {"last": str(value), "run": run, "best": max(state["best"], run)}, []


TOY = Sequential(name="longest_rise", initial=toy_initial, step=toy_step)


def longest_rise(values: list[Decimal]) -> int:
    best = run = 0
    previous: Decimal | None = None
    for value in values:
        run = run + 1 if previous is not None and value > previous else 1
        best, previous = max(best, run), value
    return best


@pytest.fixture
def toy():
    with REGISTRY.registered(TOY):
        yield TOY


# One event: (user, metric, value, attributes, minutes before NOW, idempotency key).
event_strategy = st.tuples(
    st.sampled_from(sorted(USERS)),
    st.sampled_from(METRICS),
    st.one_of(st.integers(-5, 50), st.decimals("-5", "50", places=2, allow_nan=False).map(Decimal)),
    st.sampled_from([{}, {"device": "ios"}, {"device": "web"}]),
    # Within 12 days, so runs of days form and break in every time zone.
    st.integers(1, 12 * 24 * 60),
    st.booleans(),  # whether it carries an idempotency key
)


@st.composite
def deliveries(draw: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(the distinct events, the deliveries: some events delivered twice with their
    idempotency key, all in a random order of arrival)."""
    drawn = draw(st.lists(event_strategy, min_size=1, max_size=14))
    events = []
    seen_minutes: set[tuple[str, int]] = set()
    for n, (user, metric, value, attributes, minutes, keyed) in enumerate(drawn):
        if (user, minutes) in seen_minutes:
            continue  # distinct times per user: the order of their events is the log's
        seen_minutes.add((user, minutes))
        item: dict[str, Any] = {
            "key": metric,
            "user": {"id": user, "tz": USERS[user]},
            "value": value if isinstance(value, int) else str(value),
            "timestamp": (NOW - timedelta(minutes=minutes)).isoformat(),
        }
        if attributes:
            item["attributes"] = attributes
        if keyed:
            item["idempotencyKey"] = f"k{n}"
        events.append(item)
    repeats = draw(st.lists(st.sampled_from(events), max_size=4))
    arrivals = [*events, *[item for item in repeats if "idempotencyKey" in item]]
    return events, draw(st.permutations(arrivals))


def wire(item: dict[str, Any]) -> dict[str, Any]:
    """A generated item as JSON sends it (decimals as numbers)."""
    value = item["value"]
    return {**item, "value": value if isinstance(value, int) else float(value)}


def new_tenant(owner: Any, name: str) -> Tenant:
    tenant = Tenant.objects.create(organization=owner.organization, customer_id=name, name=name)
    for key in METRICS:
        MetricFactory(tenant=tenant, key=key)
    AttributeFactory(tenant=tenant, key="device", type="event")
    return tenant


def by_http(owner: Any, tenant: Tenant, arrivals: list[dict[str, Any]]) -> None:
    client = owner.client(tenant_id=tenant.customer_id)
    for item in arrivals:
        body = {k: v for k, v in wire(item).items() if k not in ("key", "idempotencyKey")}
        headers = (
            {"HTTP_IDEMPOTENCY_KEY": item["idempotencyKey"]} if "idempotencyKey" in item else {}
        )
        response = client.post(f"/v1/metrics/{item['key']}/event", body, format="json", **headers)
        assert response.status_code in (201, 202), response.json()


def by_batch(owner: Any, tenant: Tenant, arrivals: list[dict[str, Any]]) -> None:
    client = owner.client(tenant_id=tenant.customer_id)
    response = client.post(
        "/admin-api/v1/metrics/events", [wire(item) for item in arrivals], format="json"
    )
    assert response.status_code == 202, response.json()
    # Inside the test's transaction the task enqueued after commit does not run: process
    # the batch as the task would.
    batch = EventBatch.objects.get(tenant=tenant, status=BatchStatus.PENDING)
    batch_process(batch_id=batch.pk, chunk_size=3)


def by_import(owner: Any, tenant: Tenant, arrivals: list[dict[str, Any]]) -> None:
    # Small chunks: a user's events span chunks, later chunks may bring events older than
    # earlier ones, and the recompute at the end must still fold them in time order.
    lines = [json.dumps(wire(item)) for item in arrivals]
    result = import_lines(tenant=tenant, lines=lines, batch_size=3)
    assert result.invalid == 0, result.errors


PATHS = {"http": by_http, "batch": by_batch, "import": by_import}


@pytest.mark.slow
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=deliveries())
def test_every_path_and_every_order_give_the_same_derived_state(owner, words, toy, case):
    events, arrivals = case
    in_order = sorted(events, key=lambda item: item["timestamp"])
    with transaction.atomic(), time_machine.travel(NOW, tick=False):
        reference = new_tenant(owner, "reference")
        by_http(owner, reference, in_order)
        expected = derived_state(reference)
        states = {}
        for name, path in PATHS.items():
            tenant = new_tenant(owner, name)
            path(owner, tenant, arrivals)
            states[name] = derived_state(tenant)
            derived_state_rebuild(tenant=tenant)
            states[f"{name}, rebuilt"] = derived_state(tenant)
        for name, state in states.items():
            assert state == expected, name
        # The toy derivation ran, in time order, on every user.
        for user in EndUser.objects.filter(tenant=reference):
            values = [
                Decimal(str(item["value"]))
                for item in in_order
                if item["user"]["id"] == user.external_id
            ]
            assert user.sequential_state["longest_rise"]["best"] == longest_rise(values)
        transaction.set_rollback(True)


@pytest.mark.parametrize("path", PATHS)
def test_new_events_move_the_stamp_and_repeats_do_not(owner, words, path):
    """The stamp is what Wrapped and caches compare: it moves whenever derived state may
    have changed, late events included, and stays put when nothing was recorded."""
    tenant = new_tenant(owner, path)
    first = {"key": "words", "user": {"id": "ann"}, "value": 1, "idempotencyKey": "a"}
    first["timestamp"] = (NOW - timedelta(days=1)).isoformat()
    with time_machine.travel(NOW, tick=False):
        PATHS[path](owner, tenant, [first])
        stamp = EndUser.objects.get(tenant=tenant).derived_stamp

        PATHS[path](owner, tenant, [first])
        assert EndUser.objects.get(tenant=tenant).derived_stamp == stamp

        late = {**first, "idempotencyKey": "b", "timestamp": (NOW - timedelta(days=5)).isoformat()}
        PATHS[path](owner, tenant, [late])
        user = EndUser.objects.get(tenant=tenant)
    assert user.derived_stamp > stamp and not user.sequential_stale
    assert user.sequential_state["streak"] == {
        "start": str(NOW.date() - timedelta(days=1)),
        "end": str(NOW.date() - timedelta(days=1)),
    }


def test_a_derivation_registered_after_history_starts_from_the_users_first_event(api, owner, words):
    """Its state is folded from the log at the user's next event, not from that event."""
    for value in (1, 2, 3):
        body = {"user": {"id": "ann"}, "value": value}
        assert api.post("/v1/metrics/words/event", body, format="json").status_code == 201
    user = EndUser.objects.get(external_id="ann")
    stamp = user.derived_stamp

    with REGISTRY.registered(TOY):
        body = {"user": {"id": "ann"}, "value": 4}
        assert api.post("/v1/metrics/words/event", body, format="json").status_code == 201

    user.refresh_from_db()
    assert user.sequential_state["longest_rise"] == {"last": "4", "run": 4, "best": 4}
    assert user.derived_stamp > stamp and not user.sequential_stale


def test_a_derivation_cannot_be_registered_twice(toy):
    with pytest.raises(ValueError, match="longest_rise"), REGISTRY.registered(TOY):
        pass
    assert REGISTRY.sequential.count(TOY) == 1
