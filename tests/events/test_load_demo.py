"""`manage.py load_demo`, behind `make run`: idempotent, prints working credentials, and
derives totals and rollups that agree with the event log; its history covers the previous
calendar year whole, so the Wrapped it prints a curl for is rich."""

from __future__ import annotations

import json
import re
import shlex
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
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

from events.engine import local_date
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
from events.services.demo import TIMEZONES, demo_load
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


def printed_wrapped(output: str) -> tuple[str, str, int]:
    """The printed Wrapped curl: (its API key, its path and query, the year it asks for)."""
    command = re.search(r"year in review of \d+:\n\s+(curl .*)\n", output)
    assert command, output
    words = shlex.split(command.group(1))
    headers = dict(words[i + 1].split(": ", 1) for i, word in enumerate(words) if word == "-H")
    url = words[-1]
    year = re.search(r"[?&]year=(\d+)$", url)
    assert url.startswith("http://127.0.0.1:8000/v1/users/") and year, url
    return headers["X-API-KEY"], url.removeprefix("http://127.0.0.1:8000"), int(year.group(1))


def get_printed_wrapped(output: str) -> tuple[int, dict, int]:
    """GET the printed Wrapped URL through the test client: (status, body, year)."""
    key, path, year = printed_wrapped(output)
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=key)
    response = client.get(path)
    return response.status_code, response.json(), year


def percentiles(block: dict) -> list[int]:
    """Every `percentileThisPeriod` of a period's block: its metrics' and their values'."""
    found = []
    for metric in block["metrics"].values():
        found += [metric["percentileThisPeriod"]] if "percentileThisPeriod" in metric else []
        for values in metric["byAttribute"].values():
            found += [
                v["percentileThisPeriod"] for v in values.values() if "percentileThisPeriod" in v
            ]
    return found


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
    # From a week before 1 January of the previous year to today: 1 to 2 years.
    assert 40_000 <= after_first["Event"] <= 100_000
    assert after_first["superusers"] == 1
    assert printed_key(first) == printed_key(second)
    assert printed_password(first) == printed_password(second)
    assert "0 users and 0 events added" in second
    for url in ("http://127.0.0.1:8000/admin/", "http://127.0.0.1:8000/api/docs/"):
        assert url in second
    # The printed URLs open in a browser, without an API key.
    assert Client().get("/api/docs/").status_code == 200
    browser = Client()  # through the login form, as a person would (and django-axes sees)
    login = {"username": "admin", "password": printed_password(second)}
    assert browser.post("/admin/login/", login).status_code == 302
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
    login = {"username": "admin", "password": printed_password(second)}
    assert Client().post("/admin/login/", login).status_code == 302


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


def months_with_events(year: int) -> set[int]:
    return {
        day.month
        for day in Event.objects.filter(local_date__year=year).dates("local_date", "month")
    }


@pytest.mark.parametrize(
    "moment",
    [
        None,  # now
        # 1 January in UTC, still 31 December in the Americas: the longest history
        datetime(2026, 1, 1, 3, 0, tzinfo=UTC),
        datetime(2026, 1, 2, 12, 0, tzinfo=UTC),  # the shortest
    ],
)
def test_the_demo_covers_last_year_whole_and_prints_a_rich_wrapped_of_it(db, tmp_path, moment):
    with time_machine.travel(moment or timezone.now(), tick=False):
        output = load(tmp_path / "c.json", users=8)
        status, body, year = get_printed_wrapped(output)

        learner = EndUser.objects.get(external_id=body["user"]["id"])
        assert learner.external_id == "learner-001"
        # The year before the learner's current one, which the endpoint accepts.
        assert year == local_date(timezone.now(), learner.tz or "UTC").year - 1
        # In any of the demo's time zones, the previous year is whole.
        last_years = {local_date(timezone.now(), tz).year - 1 for tz in TIMEZONES}
    for last_year in last_years:
        assert months_with_events(last_year) == set(range(1, 13)), last_year
        # And the end of the year before, so streaks run into the year.
        end_before = (date(last_year - 1, 12, 25), date(last_year - 1, 12, 31))
        assert Event.objects.filter(local_date__range=end_before).exists()
    assert status == 200, body
    activity = body["activity"]
    # learner-001 is a streaky learner, active nearly every day.
    assert activity["daysActive"] > 300 and activity["monthsActive"] == 12
    assert percentiles(activity["entireYear"])


def test_a_demo_with_a_shorter_history_gets_the_days_before_its_oldest(db, tmp_path):
    """As a demo loaded by a version that went back a year only: the next run adds the
    days before, the very events (and derived state) a full load has."""
    credentials = tmp_path / "c.json"
    load(credentials, users=4)
    tenant = Organization.objects.get(name="Demo").default_tenant
    assert tenant is not None
    full, events = derived_state(tenant), Event.objects.count()
    cut = timezone.now().date() - timedelta(days=365)
    deleted, _ = Event.objects.filter(local_date__lt=cut).delete()
    derived_state_rebuild(tenant=tenant)
    assert deleted > 1000

    output = load(credentials, users=4)

    assert f"0 users and {deleted} events added ({events} events in all)" in output
    assert derived_state(tenant) == full


@pytest.mark.slow
def test_the_full_demo_has_rich_populations_all_through_last_year(db, tmp_path):
    """Percentiles need at least 5 users with activity in a period: most of the 60
    learners are active in every month of the previous year, and the printed learner's
    recap has percentiles for its most active week and month and for the year."""
    output = load(tmp_path / "c.json")
    status, body, year = get_printed_wrapped(output)

    assert status == 200, body
    users_by_month: dict[int, set[int]] = defaultdict(set)
    for user, day in Event.objects.filter(local_date__year=year).values_list("user", "local_date"):
        users_by_month[day.month].add(user)
    active = {month: len(users_by_month[month]) for month in range(1, 13)}
    assert min(active.values()) >= 30, active  # of 60
    # The year's first ISO week is whole (it starts in December when 1 January is not a
    # Monday), and streaks run across 1 January.
    new_year = date(year, 1, 1)
    monday = new_year - timedelta(days=new_year.weekday())
    first_week = Event.objects.filter(local_date__range=(monday, monday + timedelta(days=6)))
    assert len(first_week.dates("local_date", "day")) == 7
    assert StreakRun.objects.filter(started__lt=new_year, ended__gte=new_year).exists()
    activity = body["activity"]
    assert activity["daysActive"] > 300 and activity["weeksActive"] >= 52
    assert activity["entireYear"]["longestStreak"]["length"] > 14
    for block in ("mostActiveWeek", "mostActiveMonth", "entireYear"):
        assert all("percentileThisPeriod" in m for m in activity[block]["metrics"].values()), block
        assert percentiles(activity[block]), block
