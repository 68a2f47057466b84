"""python manage.py rebuild --tenant T [--user U] (and its alias, replay)"""

from __future__ import annotations

import io
import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from django.core.management import CommandError, call_command

from events.engine import REGISTRY
from events.models import DailyRollup, EndUser, MetricTotal, StreakRun, Tenant
from events.services.rebuild import derived_state_rebuild
from tests.derived import derived_state, hashable
from tests.factories import AttributeFactory, MetricFactory

URL = "/v1/metrics/{}/event"
NOW = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)


def snapshot(tenant: Tenant) -> dict[str, set[tuple]]:
    """Every column of every registered derivation's rows of `tenant` but the surrogate
    id, and the engine's fields of its users but the stamp."""
    out: dict[str, set[tuple]] = {}
    for model in REGISTRY.tables():
        names = [f.attname for f in model._meta.concrete_fields if f.name != "id"]
        rows = model._default_manager.filter(tenant=tenant).values_list(*names)
        out[model.__name__] = {tuple(map(hashable, row)) for row in rows}
        assert len(out[model.__name__]) == rows.count()
    users = EndUser.objects.filter(tenant=tenant).values_list(
        "pk", "sequential_state", "newest_event_at", "newest_event_id", "sequential_stale"
    )
    out["users"] = {tuple(map(hashable, row)) for row in users}
    return out


def stamps(tenant: Tenant) -> dict[str, int]:
    return dict(EndUser.objects.filter(tenant=tenant).values_list("external_id", "derived_stamp"))


def rebuild(tenant: Tenant, *args: str, command: str = "rebuild") -> str:
    out = io.StringIO()
    call_command(command, "--tenant", str(tenant.id), *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


EVENTS: list[tuple[str, str, Any, dict[str, str], datetime]] = [
    # (user, metric, value, attributes, timestamp)
    ("ann", "words", 10, {"source": "ios"}, NOW - timedelta(days=3, hours=1)),
    ("ann", "words", 2.5, {}, NOW - timedelta(days=3)),
    ("ann", "lessons", 1, {"source": "web"}, NOW - timedelta(days=2)),
    ("ann", "words", -4, {"source": "web"}, NOW - timedelta(days=1)),
    ("bob", "words", 7, {}, NOW - timedelta(days=2, hours=20)),
    ("bob", "lessons", 2, {}, NOW - timedelta(days=2)),  # two days in a row, then a gap
    ("bob", "words", 0.001, {"source": "ios"}, NOW - timedelta(hours=2)),
    ("bob", "lessons", 3, {"source": "ios"}, NOW - timedelta(hours=1)),
]


def post_events(client, events, tz: dict[str, str] | None = None) -> None:
    for user, metric, value, attributes, timestamp in events:
        body: dict[str, Any] = {
            "user": {"id": user},
            "value": value,
            "timestamp": timestamp.isoformat(),
        }
        if tz and user in tz:
            body["user"]["tz"] = tz[user]
        if attributes:
            body["attributes"] = attributes
        response = client.post(URL.format(metric), body, format="json")
        assert response.status_code == 201, response.json()


@pytest.fixture
def history(api, owner, words) -> Tenant:
    MetricFactory(tenant=owner.tenant, key="lessons")
    AttributeFactory(tenant=owner.tenant, key="source", type="event")
    with time_machine.travel(NOW, tick=False):
        post_events(api, EVENTS, tz={"ann": "Asia/Tokyo"})
    return owner.tenant


def test_rebuild_of_an_unchanged_log_changes_nothing_but_the_stamps(history):
    before = snapshot(history)
    assert all(before.values())
    stamped = stamps(history)

    out = rebuild(history)

    assert snapshot(history) == before
    assert "from 8 events" in out
    assert "metric totals 4, daily rollups 7, streak runs 1." in out
    assert all(stamps(history)[user] > stamp for user, stamp in stamped.items())


def test_replay_is_an_alias_of_rebuild(history):
    before = snapshot(history)

    out = rebuild(history, command="replay")

    assert snapshot(history) == before and "from 8 events" in out


def test_rebuild_restores_deleted_and_corrupted_rows(history):
    before = snapshot(history)
    MetricTotal.objects.filter(tenant=history, user__external_id="ann").update(total=999)
    DailyRollup.objects.filter(tenant=history)[0].delete()
    DailyRollup.objects.filter(tenant=history).update(by_attribute={"source": {"stray": [1, 1]}})
    StreakRun.objects.filter(tenant=history).delete()
    EndUser.objects.filter(tenant=history).update(sequential_state={}, sequential_stale=True)

    rebuild(history)

    assert snapshot(history) == before


def test_rebuild_of_one_user_touches_only_that_user(history):
    before = snapshot(history)
    MetricTotal.objects.filter(tenant=history).update(total=999)
    DailyRollup.objects.filter(tenant=history).delete()
    corrupted_bob = derived_state(history, EndUser.objects.get(external_id="bob"))

    rebuild(history, "--user", "ann")

    ann = EndUser.objects.get(external_id="ann")
    bob = EndUser.objects.get(external_id="bob")
    assert derived_state(history, bob) == corrupted_bob
    restored = snapshot(history)
    for kind, rows in before.items():
        at = 0 if kind == "users" else 1  # the user's pk: first of a user row, after tenant
        assert {r for r in restored[kind] if r[at] == ann.pk} == {
            r for r in rows if r[at] == ann.pk
        }


def test_rebuild_leaves_other_tenants_alone(history, outsider):
    MetricFactory(tenant=outsider.tenant, key="words")
    AttributeFactory(tenant=outsider.tenant, key="source", type="event")
    with time_machine.travel(NOW, tick=False):
        post_events(outsider.client(), [e for e in EVENTS if e[1] == "words"])
    theirs = snapshot(outsider.tenant)

    derived_state_rebuild(tenant=history)

    assert snapshot(outsider.tenant) == theirs


def test_late_backdated_events_give_the_same_state_as_in_order_arrival(api, owner, words):
    """Two tenants receive the same events, one in order and one shuffled (so many
    arrive after newer ones, back-dated by `timestamp`): same derived state, and a
    rebuild of either changes nothing."""
    shuffled_tenant = Tenant.objects.create(
        organization=owner.organization, customer_id="shuffled", name="Shuffled"
    )
    for tenant in (owner.tenant, shuffled_tenant):
        if tenant != owner.tenant:
            MetricFactory(tenant=tenant, key="words")
        MetricFactory(tenant=tenant, key="lessons")
        AttributeFactory(tenant=tenant, key="source", type="event")
    rng = random.Random(7)
    events = sorted(EVENTS, key=lambda e: e[4])
    late = events[:]
    rng.shuffle(late)
    assert late != events
    tz = {"ann": "Asia/Tokyo", "bob": "America/New_York"}

    with time_machine.travel(NOW, tick=False):
        post_events(api, events, tz)
        post_events(owner.client(tenant_id="shuffled"), late, tz)

    in_order = derived_state(owner.tenant)
    assert derived_state(shuffled_tenant) == in_order
    before = snapshot(shuffled_tenant)
    derived_state_rebuild(tenant=shuffled_tenant)
    assert snapshot(shuffled_tenant) == before
    assert derived_state(shuffled_tenant) == in_order
    assert MetricTotal.objects.get(
        tenant=shuffled_tenant, user__external_id="ann", metric__key="words"
    ).total == Decimal("8.5")


def test_rebuild_writes_in_several_chunks(history, monkeypatch):
    from events.engine import record

    monkeypatch.setattr(record, "READ_CHUNK", 3)
    before = snapshot(history)
    DailyRollup.objects.filter(tenant=history).delete()
    chunks: list[int] = []

    result = derived_state_rebuild(tenant=history, progress=chunks.append)

    assert chunks == [4, 4] and result.events == 8  # ann's four events, then bob's four
    assert snapshot(history) == before


def test_unknown_tenant_or_user_is_a_command_error(history):
    with pytest.raises(CommandError, match="No user with id 'nobody'"):
        rebuild(history, "--user", "nobody")
    with pytest.raises(CommandError, match="No tenant with id"):
        call_command("rebuild", "--tenant", "00000000-0000-0000-0000-000000000000")
