"""`manage.py load_demo`, behind `make run`: idempotent, prints working credentials, and
derives totals and rollups that agree with the event log."""

from __future__ import annotations

import json
import re
import shlex
from collections import defaultdict
from datetime import timedelta
from decimal import Decimal
from io import StringIO
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db.models import Count, Sum
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from events.models import (
    ApiKey,
    Attribute,
    DailyRollup,
    EndUser,
    Event,
    Metric,
    MetricTotal,
    Organization,
    StreakRun,
    Tenant,
)
from events.services.demo import demo_load
from events.services.rebuild import derived_state_rebuild
from tests.derived import attribute_rows, derived_state


def load(credentials: Path, users: int | None = None) -> str:
    out = StringIO()
    args = ["--credentials", str(credentials)]
    if users is not None:
        args += ["--users", str(users)]
    call_command("load_demo", *args, stdout=out)
    return out.getvalue()


def printed_key(output: str) -> str:
    match = re.search(r"X-API-KEY header\):\n\s+(\S+)", output)
    assert match, output
    return match.group(1)


def printed_password(output: str) -> str:
    match = re.search(r"password '([^']+)'", output)
    assert match, output
    return match.group(1)


def counts() -> dict[str, int]:
    return {
        model.__name__: model._default_manager.count()
        for model in (
            Organization,
            ApiKey,
            Metric,
            Attribute,
            EndUser,
            Event,
            MetricTotal,
            DailyRollup,
        )
    } | {"superusers": get_user_model().objects.filter(is_superuser=True).count()}


def post_printed_curl(output: str) -> tuple[int, dict]:
    """Run the printed curl example through the test client: same URL, headers, body."""
    command = re.search(r"(curl -X POST .*?)\n\n", output, re.S)
    assert command, output
    words = shlex.split(command.group(1).replace("\\\n", " "))
    url = words[words.index("-X") + 2]
    headers = dict(words[i + 1].split(": ", 1) for i, word in enumerate(words) if word == "-H")
    body = json.loads(words[words.index("-d") + 1])
    path = url.removeprefix("http://127.0.0.1:8000")
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=headers["X-API-KEY"])
    response = client.post(path, body, format="json")
    return response.status_code, response.json()


@pytest.mark.slow
def test_full_demo_twice_creates_it_once_and_prints_a_working_key(db, tmp_path):
    credentials = tmp_path / "demo-credentials.json"

    first = load(credentials)
    after_first = counts()
    version = Tenant.objects.get().config_version
    second = load(credentials)

    assert counts() == after_first
    assert Tenant.objects.get().config_version == version  # nothing re-created
    assert after_first["Organization"] == 1 and after_first["EndUser"] == 60
    assert 40_000 <= after_first["Event"] <= 80_000
    assert after_first["superusers"] == 1
    assert printed_key(first) == printed_key(second)
    assert printed_password(first) == printed_password(second)
    assert "0 users and 0 events added" in second
    for url in ("http://127.0.0.1:8000/admin/", "http://127.0.0.1:8000/api/docs/"):
        assert url in second
    # The printed URLs open in a browser, without an API key.
    assert Client().get("/api/docs/").status_code == 200
    browser = Client()
    assert browser.login(username="admin", password=printed_password(second))
    assert browser.get("/admin/events/event/").status_code == 200
    status, body = post_printed_curl(second)
    assert status == 201, body
    assert body["metricId"] == str(Metric.objects.get(key="lessons-completed").id)
    # learner-001 is a streaky learner: the demo shows a live streak.
    assert body["currentStreak"]["length"] > 1


def test_derived_totals_and_rollups_equal_sums_of_the_events(db, tmp_path):
    load(tmp_path / "c.json", users=8)

    events = Event.objects.values("user", "metric")
    from_events = {
        (r["user"], r["metric"]): (r["s"], r["n"])
        for r in events.annotate(s=Sum("value"), n=Count("id"))
    }
    totals = {(t.user_id, t.metric_id): (t.total, t.event_count) for t in MetricTotal.objects.all()}
    daily_from_events = {
        (r["user"], r["metric"], r["local_date"]): (r["s"], r["n"])
        for r in Event.objects.values("user", "metric", "local_date").annotate(
            s=Sum("value"), n=Count("id")
        )
    }
    daily = {
        (r.user_id, r.metric_id, r.local_date): (r.total, r.event_count)
        for r in DailyRollup.objects.all()
    }
    by_source: dict[tuple, Decimal] = defaultdict(Decimal)
    for user, metric, day, value, attributes in Event.objects.values_list(
        "user", "metric", "local_date", "value", "attributes"
    ):
        by_source[(user, metric, day, attributes["source"])] += value
    attribute_rollups = {
        (user, metric, day, item): total
        for user, metric, day, name, item, total, _count in attribute_rows(
            "user", "metric", "local_date"
        )
        if name == "source"
    }

    assert totals and totals == from_events
    assert daily == daily_from_events
    assert attribute_rollups == dict(by_source)


def test_the_demo_goes_through_the_engine_as_every_path_does(db, tmp_path):
    """Every derivation the engine registers (streaks included) is what a rebuild from the
    demo's event log gives, and no user is left stale."""
    load(tmp_path / "c.json", users=8)
    tenant = Organization.objects.get(name="Demo").default_tenant
    assert tenant is not None
    loaded = derived_state(tenant)
    assert StreakRun.objects.exists()
    assert not EndUser.objects.filter(sequential_stale=True).exists()

    derived_state_rebuild(tenant=tenant)

    assert derived_state(tenant) == loaded


def test_local_dates_are_each_users_calendar_date(db, tmp_path):
    load(tmp_path / "c.json", users=8)

    for event in Event.objects.select_related("user").order_by("?")[:200]:
        assert (
            event.timestamp.astimezone(ZoneInfo(event.user.tz or "UTC")).date() == event.local_date
        )
        assert event.timestamp <= timezone.now() and event.idempotency_key


def test_a_lost_credentials_file_gets_a_new_working_key_and_password(db, tmp_path):
    credentials = tmp_path / "c.json"
    first = load(credentials, users=3)
    credentials.unlink()

    second = load(credentials, users=3)

    assert printed_key(second) != printed_key(first)
    assert json.loads(credentials.read_text())["api_key"] == printed_key(second)
    status, _body = post_printed_curl(second)
    assert status == 201
    assert Client().login(username="admin", password=printed_password(second))


def test_a_revoked_demo_key_is_replaced_on_the_next_run(db, tmp_path):
    credentials = tmp_path / "c.json"
    first = load(credentials, users=3)
    ApiKey.objects.filter(prefix=printed_key(first)[:8]).update(revoked_at=timezone.now())

    second = load(credentials, users=3)

    assert printed_key(second) != printed_key(first)
    assert post_printed_curl(second)[0] == 201


def test_a_later_run_tops_up_the_new_days_without_duplicating(db, tmp_path):
    credentials = tmp_path / "c.json"
    load(credentials, users=6)
    before = Event.objects.count()
    newest = Event.objects.order_by("-local_date").values_list("local_date", flat=True)[0]

    with time_machine.travel(timezone.now() + timedelta(days=3)):
        topped_up = load(credentials, users=6)
        again = load(credentials, users=6)

    added = Event.objects.count() - before
    assert 0 < added < before / 50
    assert f"{added} events added" in topped_up and "0 events added" in again
    assert Event.objects.order_by("-local_date").values_list("local_date", flat=True)[0] > newest
    duplicates = (
        Event.objects.values("user", "metric", "idempotency_key")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
    )
    assert not duplicates.exists()


def test_demo_load_service_is_deterministic_for_a_seed(db, tmp_path):
    now = timezone.now()
    result = demo_load(credentials_path=tmp_path / "c.json", now=now, user_count=4)
    snapshot = sorted(
        Event.objects.values_list("user__external_id", "metric__key", "timestamp", "value")
    )
    Event.objects.all().delete()
    MetricTotal.objects.all().delete()
    DailyRollup.objects.all().delete()

    again = demo_load(credentials_path=tmp_path / "c.json", now=now, user_count=4)

    assert again.created_events == result.created_events == len(snapshot)
    assert snapshot == sorted(
        Event.objects.values_list("user__external_id", "metric__key", "timestamp", "value")
    )
