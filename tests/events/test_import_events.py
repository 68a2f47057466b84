"""python manage.py import_events FILE.jsonl"""

from __future__ import annotations

import io
import json
import re
import threading
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction

from events.models import (
    EndUser,
    Event,
    Metric,
    MetricTotal,
    Tenant,
)
from events.services.imports import derived_idempotency_key
from events.services.rebuild import derived_state_rebuild
from tests.derived import attribute_rows, derived_state
from tests.factories import AttributeFactory, EndUserFactory, MetricFactory
from tests.pg import lock_waiters

URL = "/v1/metrics/{}/event"


def event_log(tenant: Tenant) -> list[tuple]:
    return sorted(
        Event.objects.filter(tenant=tenant).values_list(
            "user__external_id", "metric__key", "value", "attributes", "timestamp", "local_date"
        ),
        key=repr,
    )


def write_lines(path: Path, items: list[Any]) -> Path:
    path.write_text(
        "".join((item if isinstance(item, str) else json.dumps(item)) + "\n" for item in items)
    )
    return path


def run_import(path: Path, tenant: Tenant, *args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command(
        "import_events", str(path), "--tenant", str(tenant.id), *args, stdout=out, stderr=err
    )
    return out.getvalue(), err.getvalue()


def ts(day: int, hour: int = 12) -> str:
    return datetime(2025, 3, day, hour, tzinfo=UTC).isoformat()


@pytest.fixture
def second_tenant(owner, words) -> Tenant:
    """A tenant of the same organization with the same configuration as the default one."""
    tenant = Tenant.objects.create(
        organization=owner.organization, customer_id="second", name="Second"
    )
    MetricFactory(tenant=tenant, key="words")
    return tenant


SAMPLE = [
    {
        "key": "words",
        "user": {"id": "ann", "tz": "Asia/Tokyo"},
        "value": 10,
        "timestamp": ts(1, 20),
    },
    {"key": "words", "user": {"id": "ann"}, "value": 2.5, "timestamp": ts(1, 10)},
    {"key": "words", "user": {"id": "bob"}, "value": -1, "timestamp": ts(2)},
    {
        "key": "words",
        "user": {"id": "bob", "name": "Bob"},
        "value": 7,
        "attributes": {"source": "ios"},
        "timestamp": ts(2, 23),
    },
    {
        "key": "lessons",
        "user": {"id": "ann"},
        "value": 1,
        "attributes": {"source": "web"},
        "timestamp": ts(3),
    },
    {
        "key": "lessons",
        "user": {"id": "cy", "tz": "America/New_York"},
        "value": 4,
        "timestamp": ts(3, 2),
    },
    {"key": "words", "user": {"id": "ann"}, "value": 0.125, "timestamp": ts(1, 21)},
]


def test_import_gives_the_same_state_as_the_http_api(api, owner, second_tenant, tmp_path):
    for tenant in (owner.tenant, second_tenant):
        MetricFactory(tenant=tenant, key="lessons")
        AttributeFactory(tenant=tenant, key="source", type="event")
    for item in SAMPLE:
        body = {k: v for k, v in item.items() if k != "key"}
        response = api.post(URL.format(item["key"]), body, format="json")
        assert response.status_code == 201, response.json()

    out, _err = run_import(write_lines(tmp_path / "e.jsonl", SAMPLE), second_tenant)

    assert "Imported 7 events" in out and "3 new users" in out
    assert derived_state(second_tenant) == derived_state(owner.tenant)
    assert event_log(second_tenant) == event_log(owner.tenant)
    assert len(attribute_rows(tenant=second_tenant)) == 2


def test_small_batches_give_the_same_state_as_one_batch(owner, second_tenant, tmp_path):
    for tenant in (owner.tenant, second_tenant):
        MetricFactory(tenant=tenant, key="lessons")
        AttributeFactory(tenant=tenant, key="source", type="event")
    path = write_lines(tmp_path / "e.jsonl", SAMPLE)

    run_import(path, owner.tenant)
    run_import(path, second_tenant, "--batch-size", "2")

    assert derived_state(second_tenant) == derived_state(owner.tenant)


def test_rerunning_the_same_file_imports_nothing_twice(owner, words, tmp_path):
    path = write_lines(
        tmp_path / "e.jsonl",
        [
            {"key": "words", "user": {"id": "u1"}, "value": 5, "timestamp": ts(1)},
            {"key": "words", "user": {"id": "u1"}, "value": 5},  # no timestamp: "now"
            {"key": "words", "user": {"id": "u2"}, "value": 1, "idempotencyKey": "k"},
        ],
    )
    run_import(path, owner.tenant)
    before = derived_state(owner.tenant)

    out, _err = run_import(path, owner.tenant)

    assert "Imported 0 events" in out and "3 skipped as duplicates" in out
    assert Event.objects.count() == 3
    assert derived_state(owner.tenant) == before
    assert MetricTotal.objects.get(user__external_id="u1").total == 10


def test_a_duplicate_line_changes_nothing_of_its_user(api, owner, words, tmp_path):
    """A line whose event is already in the log (a re-run, or a repeated key in the file)
    applies none of the user fields it carries, and later lines do not see them."""
    path = write_lines(
        tmp_path / "e.jsonl",
        [
            {
                "key": "words",
                "user": {"id": "ann", "tz": "Asia/Tokyo"},
                "value": 1,
                "timestamp": ts(1),
            },
            {
                "key": "words",
                "user": {"id": "ann", "name": "Ann"},
                "value": 2,
                "idempotencyKey": "k",
            },
            {
                "key": "words",
                "user": {"id": "ann", "name": "Dup"},
                "value": 2,
                "idempotencyKey": "k",
            },
        ],
    )
    run_import(path, owner.tenant)
    user = EndUser.objects.get(external_id="ann")
    assert (user.name, user.tz) == ("Ann", "Asia/Tokyo")
    # The user changes since; a re-run of the file must not change it back.
    assert (
        api.put("/v1/users/ann", {"tz": "Europe/Paris", "name": "Anna"}, format="json").status_code
        == 200
    )
    later = write_lines(
        tmp_path / "later.jsonl",
        [
            *json.loads("[" + ",".join(path.read_text().splitlines()) + "]"),
            # a new line after the duplicates: dated in the user's zone as it is now
            {"key": "words", "user": {"id": "ann"}, "value": 4, "timestamp": ts(2, 23)},
        ],
    )

    out, _err = run_import(later, owner.tenant)

    assert "Imported 1 events" in out and "3 skipped as duplicates" in out
    user.refresh_from_db()
    assert (user.name, user.tz) == ("Anna", "Europe/Paris")
    newest = Event.objects.get(value=4)
    assert newest.local_date.isoformat() == "2025-03-03"  # 23:00 UTC is past midnight in Paris


def test_identical_lines_in_one_file_are_distinct_events(owner, words, tmp_path):
    line = {"key": "words", "user": {"id": "u1"}, "value": 3, "timestamp": ts(1)}
    run_import(write_lines(tmp_path / "e.jsonl", [line, line]), owner.tenant)

    total = MetricTotal.objects.get()
    assert (total.total, total.event_count) == (6, 2)
    keys = set(Event.objects.values_list("idempotency_key", flat=True))
    raw = json.dumps(line)
    assert keys == {derived_idempotency_key(raw, 1), derived_idempotency_key(raw, 2)}


def test_a_key_repeated_within_the_file_keeps_the_first_event(owner, words, tmp_path):
    path = write_lines(
        tmp_path / "e.jsonl",
        [
            {"key": "words", "user": {"id": "u1"}, "value": 1, "idempotencyKey": "k"},
            {"key": "words", "user": {"id": "u1"}, "value": 99, "idempotencyKey": "k"},
        ],
    )
    out, _err = run_import(path, owner.tenant)

    assert "Imported 1 events" in out and "1 skipped as duplicates" in out
    assert Event.objects.get().value == 1


def test_explicit_idempotency_keys_are_shared_with_the_http_api(api, owner, words, tmp_path):
    first = api.post(
        URL.format("words"),
        {"user": {"id": "u1"}, "value": 5},
        format="json",
        HTTP_IDEMPOTENCY_KEY="k1",
    )
    assert first.status_code == 201
    path = write_lines(
        tmp_path / "e.jsonl",
        [
            {"key": "words", "user": {"id": "u1"}, "value": 50, "idempotencyKey": "k1"},
            {"key": "words", "user": {"id": "u1"}, "value": 7, "idempotencyKey": "k2"},
        ],
    )

    out, _err = run_import(path, owner.tenant)
    replay = api.post(
        URL.format("words"),
        {"user": {"id": "u1"}, "value": 1},
        format="json",
        HTTP_IDEMPOTENCY_KEY="k2",
    )

    assert "Imported 1 events" in out and "1 skipped as duplicates" in out
    assert replay.status_code == 202 and replay.json()["total"] == 12
    assert MetricTotal.objects.get().total == 12 and Event.objects.count() == 2


def test_invalid_lines_are_reported_with_their_number_and_skipped(owner, words, tmp_path):
    AttributeFactory(tenant=owner.tenant, key="source", type="event")
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    ok = {"key": "words", "user": {"id": "u1"}, "value": 1, "timestamp": ts(1)}
    path = write_lines(
        tmp_path / "e.jsonl",
        [
            ok,  # 1
            "{not json",  # 2
            {"key": "nope", "user": {"id": "u1"}, "value": 1},  # 3
            {"key": "words", "user": {"id": "u1"}, "value": "1"},  # 4
            {"key": "words", "user": {"id": "u1"}, "value": 1e13},  # 5
            {"key": "words", "user": {"id": "u1"}, "value": 1, "timestamp": future},  # 6
            {"key": "words", "user": {"id": "u1"}, "value": 1, "timestamp": "2025-03-01T10:00:00"},
            {"key": "words", "user": {"id": "u1"}, "value": 1, "attributes": {"plan": "x"}},  # 8
            {"key": "words", "user": {"id": "u1", "tz": "Mars/Olympus"}, "value": 1},  # 9
            {"key": "words", "user": {"name": "no id"}, "value": 1},  # 10
            "[1, 2]",  # 11
            "",  # 12: blank lines are ignored
            {"key": "words", "user": {"id": "u2"}, "value": 2, "attributes": {"source": "web"}},
        ],
    )

    out, err = run_import(path, owner.tenant, "--batch-size", "4")

    assert "Imported 2 events" in out and "10 invalid" in out
    reported = [int(n) for n in re.findall(r"invalid line (\d+):", err)]
    assert reported == list(range(2, 12))
    assert "line 2: invalid JSON" in err
    assert "line 3: Metric with key 'nope' not found." in err
    assert "line 4: value: must be a finite number." in err
    assert "line 5: value: must be between -1e12 and 1e12." in err
    assert "line 6: timestamp: must not be more than 5 minutes in the future." in err
    assert "line 7: timestamp: must include a UTC offset" in err
    assert "line 8: Invalid attribute keys: plan." in err
    assert "line 9: user.tz: 'Mars/Olympus' is not a valid IANA time zone name." in err
    assert "line 10: user.id: This field is required." in err
    assert "line 11: expected a JSON object, got list." in err
    assert set(EndUser.objects.values_list("external_id", "tz")) == {("u1", None), ("u2", None)}
    assert Event.objects.count() == 2


def test_unknown_or_missing_tenant_is_a_command_error(owner, tmp_path):
    path = write_lines(tmp_path / "e.jsonl", [])
    organization = str(owner.organization.id)
    cases = [
        (["--tenant", str(uuid.uuid4())], "No tenant with id"),
        (["--tenant", "default"], "is not a tenant id"),
        (["--organization", organization, "--customer-id", "nope"], "No tenant with customer id"),
        (["--organization", organization], "must be given together"),
        ([], "Name the tenant"),
    ]
    for args, message in cases:
        with pytest.raises(CommandError, match=message):
            call_command("import_events", str(path), *args, stdout=io.StringIO())
    with pytest.raises(CommandError, match="No such file"):
        call_command("import_events", str(tmp_path / "missing"), "--tenant", str(owner.tenant.id))


def test_organization_and_customer_id_select_the_tenant(owner, second_tenant, tmp_path):
    path = write_lines(tmp_path / "e.jsonl", [{"key": "words", "user": {"id": "u1"}, "value": 2}])
    call_command(
        "import_events",
        str(path),
        "--organization",
        str(owner.organization.id),
        "--customer-id",
        "second",
        stdout=io.StringIO(),
        stderr=io.StringIO(),
    )
    assert Event.objects.get().tenant == second_tenant


def test_new_users_are_created_with_the_fields_sent_and_existing_ones_updated(
    owner, words, tmp_path
):
    AttributeFactory(tenant=owner.tenant, key="plan", type="user")
    EndUserFactory(tenant=owner.tenant, external_id="old", name="Old", attributes={"plan": "free"})
    path = write_lines(
        tmp_path / "e.jsonl",
        [
            {
                "key": "words",
                "user": {
                    "id": "new",
                    "email": "new@example.com",
                    "name": "New",
                    "tz": "Europe/Paris",
                    "deviceTokens": ["t1"],
                    "attributes": {"plan": "pro"},
                },
                "value": 1,
            },
            {"key": "words", "user": {"id": "new", "subscribeToEmails": False}, "value": 1},
            {"key": "words", "user": {"id": "old", "name": "Renamed"}, "value": 1},
        ],
    )

    run_import(path, owner.tenant)

    new = EndUser.objects.get(tenant=owner.tenant, external_id="new")
    assert (new.name, new.tz, new.device_tokens, new.attributes) == (
        "New",
        "Europe/Paris",
        ["t1"],
        {"plan": "pro"},
    )
    # Trophy forgets the email of a user who unsubscribes, on import as over HTTP.
    assert new.subscribe_to_emails is False and new.email is None
    old = EndUser.objects.get(tenant=owner.tenant, external_id="old")
    assert old.name == "Renamed" and old.attributes == {"plan": "free"}
    assert MetricTotal.objects.get(user=old).total == 1


def test_local_date_uses_the_event_tz_then_the_stored_tz_then_the_tenant_default(
    owner, words, tmp_path
):
    Tenant.objects.filter(pk=owner.tenant.pk).update(default_timezone="America/Los_Angeles")
    owner.tenant.refresh_from_db()
    EndUserFactory(tenant=owner.tenant, external_id="tokyo", tz="Asia/Tokyo")
    moment = "2025-03-10T23:30:00+00:00"
    path = write_lines(
        tmp_path / "e.jsonl",
        [
            {"key": "words", "user": {"id": "tokyo"}, "value": 1, "timestamp": moment},
            {
                "key": "words",
                "user": {"id": "paris", "tz": "Europe/Paris"},
                "value": 1,
                "timestamp": moment,
            },
            {"key": "words", "user": {"id": "nowhere"}, "value": 1, "timestamp": moment},
            # the tz sent with an event wins for that event, and is stored
            {"key": "words", "user": {"id": "tokyo", "tz": "UTC"}, "value": 2, "timestamp": moment},
            {"key": "words", "user": {"id": "tokyo"}, "value": 4, "timestamp": moment},
        ],
    )

    run_import(path, owner.tenant)

    dates = {
        (e.user.external_id, e.value): e.local_date.isoformat()
        for e in Event.objects.select_related("user")
    }
    assert dates == {
        ("tokyo", Decimal(1)): "2025-03-11",
        ("paris", Decimal(1)): "2025-03-11",
        ("nowhere", Decimal(1)): "2025-03-10",
        ("tokyo", Decimal(2)): "2025-03-10",
        ("tokyo", Decimal(4)): "2025-03-10",
    }
    assert EndUser.objects.get(external_id="tokyo").tz == "UTC"


def test_other_tenants_are_untouched(owner, outsider, words, tmp_path):
    theirs = Metric.objects.create(tenant=outsider.tenant, key="words", name="Words")
    path = write_lines(tmp_path / "e.jsonl", [{"key": "words", "user": {"id": "u1"}, "value": 2}])

    run_import(path, owner.tenant)

    assert Event.objects.get().metric == words
    assert not Event.objects.filter(metric=theirs).exists()
    assert not EndUser.objects.filter(tenant=outsider.tenant).exists()


def test_large_chunks_give_the_same_state_as_small_ones(owner, second_tenant, tmp_path):
    """Chunks of many rows take the COPY path on PostgreSQL, small ones the VALUES path:
    the same file gives the same users, events and derived rows both ways, with whole
    values (sent as ints) and fractional ones."""
    for tenant in (owner.tenant, second_tenant):
        AttributeFactory(tenant=tenant, key="source", type="event")
    items = [
        {
            "key": "words",
            "user": {"id": f"u{i % 60}", **({"tz": "Asia/Tokyo"} if i % 3 == 0 else {})},
            "value": (i % 7) - 2.5 if i % 2 else i % 5,
            **({"attributes": {"source": ["ios", "web"][i % 3 % 2]}} if i % 4 else {}),
            # each user's events on days 0, 1, 3, 4, 5: a streak run that ended, one going
            "timestamp": (
                datetime(2025, 3, 1, tzinfo=UTC)
                + timedelta(days=i // 60 + (i // 60 >= 2), hours=i % 24)
            ).isoformat(),
        }
        for i in range(300)
    ]
    path = write_lines(tmp_path / "e.jsonl", items)

    run_import(path, owner.tenant, "--batch-size", "1000")
    run_import(path, second_tenant, "--batch-size", "7")

    state = derived_state(owner.tenant)
    assert len(state["DailyRollup"]) > 100 and len(attribute_rows(tenant=owner.tenant)) > 100
    assert len(state["StreakRun"]) > 10
    assert derived_state(second_tenant) == state
    assert event_log(second_tenant) == event_log(owner.tenant)
    users = EndUser.objects.filter(tenant=second_tenant).values_list("external_id", "tz")
    assert sorted(users) == sorted(
        EndUser.objects.filter(tenant=owner.tenant).values_list("external_id", "tz")
    )
    # and a replay (one chunk of 300 events) rebuilds exactly the imported rows
    derived_state_rebuild(tenant=owner.tenant)
    assert derived_state(owner.tenant) == state


def test_a_partly_imported_file_adds_only_its_new_lines_in_one_large_chunk(
    owner, second_tenant, tmp_path
):
    """An interrupted import finished by a re-run, with old and new lines in one chunk
    (the COPY path on PostgreSQL): the same state as importing the file once."""
    items = [
        {
            "key": "words",
            "user": {"id": f"u{i % 20}"},
            "value": i,
            "timestamp": (datetime(2025, 3, 1, tzinfo=UTC) + timedelta(hours=7 * i)).isoformat(),
        }
        for i in range(200)
    ]
    first_half = write_lines(tmp_path / "half.jsonl", items[:100])
    whole = write_lines(tmp_path / "whole.jsonl", items)

    run_import(first_half, owner.tenant, "--batch-size", "1000")
    out, _ = run_import(whole, owner.tenant, "--batch-size", "1000")
    run_import(whole, second_tenant, "--batch-size", "1000")

    assert "Imported 100 events" in out and "100 skipped as duplicates" in out
    assert Event.objects.filter(tenant=owner.tenant).count() == 200
    assert derived_state(owner.tenant) == derived_state(second_tenant)
    assert event_log(owner.tenant) == event_log(second_tenant)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_import_waits_for_a_lock_held_on_its_users_and_counts_once(owner, words, tmp_path):
    """A rebuild locks the users it rebuilds (SELECT ... FOR UPDATE); an import chunk locks
    its existing users before inserting their events, so it waits for the rebuild to
    commit instead of adding events the rebuild might count again."""
    path = write_lines(tmp_path / "e.jsonl", [{"key": "words", "user": {"id": "ann"}, "value": 2}])
    run_import(path, owner.tenant)
    ann = EndUser.objects.get(tenant=owner.tenant, external_id="ann")
    later = write_lines(
        tmp_path / "later.jsonl", [{"key": "words", "user": {"id": "ann"}, "value": 3}]
    )
    finished = threading.Event()

    def import_later() -> None:
        try:
            run_import(later, owner.tenant)
        finally:
            connection.close()
            finished.set()

    with transaction.atomic():
        # What a rebuild of ann does first; held until this block ends.
        EndUser.objects.select_for_update().get(pk=ann.pk)
        importer = threading.Thread(target=import_later, daemon=True)
        importer.start()
        # The import waits before writing anything: at the lock of the chunk's users
        # (the events' foreign-key checks would only wait at commit, after the rollups).
        waiting = lock_waiters()
        assert len(waiting) == 1 and "FROM events_enduser" in waiting[0].query, waiting
        assert "FOR UPDATE" in waiting[0].query
        assert not finished.is_set()
    assert finished.wait(30)
    total = MetricTotal.objects.get(user=ann, metric=words)
    assert (total.total, total.event_count) == (Decimal(5), 2)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_parallel_writers_give_the_same_state_as_one_writer(owner, second_tenant, tmp_path):
    """Outside a transaction, on PostgreSQL, several writer threads split the users among
    them. Users whose time zone changes mid-file (the local date of their later events
    depends on it), duplicates, invalid lines and small batches give exactly what one
    writer gives, and a replay rebuilds the same derived rows."""
    for tenant in (owner.tenant, second_tenant):
        AttributeFactory(tenant=tenant, key="source", type="event")
    start = datetime(2025, 3, 1, 22, tzinfo=UTC)
    items: list[Any] = []
    for i in range(400):
        user: dict[str, Any] = {"id": f"u{i % 37}"}
        if i % 74 == 5:
            # u5 changes its time zone on every other line of its own: the lines between
            # take their local date from the last change, so order matters.
            user["tz"] = ["Asia/Tokyo", "America/New_York", "Europe/Paris"][i % 3]
        item: dict[str, Any] = {
            "key": "words",
            "user": user,
            "value": (i % 5) + 0.5,
            "timestamp": (start + timedelta(hours=7 * i)).isoformat(),
            **({"attributes": {"source": ["ios", "web"][i % 2]}} if i % 3 else {}),
        }
        if i % 37 in (3, 4):
            item["idempotencyKey"] = f"k{i % 2}"  # the user's later lines are duplicates
        items.append(item)
        if i % 97 == 0:
            items.append({"key": "words", "user": {"id": ""}, "value": 1})  # invalid
    path = write_lines(tmp_path / "e.jsonl", items)

    parallel_out, parallel_err = run_import(
        path, owner.tenant, "--writers", "3", "--batch-size", "40", "--no-progress"
    )
    single_out, single_err = run_import(path, second_tenant, "--writers", "1", "--no-progress")

    assert parallel_out.replace(str(owner.tenant.id), "") == single_out.replace(
        str(second_tenant.id), ""
    ).replace("'second'", "'default'")
    assert "5 invalid" in parallel_out and "18 skipped as duplicates" in parallel_out
    assert sorted(parallel_err.splitlines()) == sorted(single_err.splitlines())
    state = derived_state(owner.tenant)
    assert state == derived_state(second_tenant)
    assert event_log(owner.tenant) == event_log(second_tenant)
    assert sorted(
        EndUser.objects.filter(tenant=owner.tenant).values_list("external_id", "tz")
    ) == sorted(EndUser.objects.filter(tenant=second_tenant).values_list("external_id", "tz"))
    derived_state_rebuild(tenant=owner.tenant)
    assert derived_state(owner.tenant) == state


def test_each_user_has_one_writer_and_keeps_its_lines_in_order():
    from events.services.imports import LineError, _Chunk, _split
    from events.services.users import UserInput

    def chunk(numbers: range, users: int) -> _Chunk:
        lines: list[Any] = [
            (n, None, UserInput(external_id=f"u{n % users}", changes={}), Decimal(n), {}, None, "")
            for n in numbers
        ]
        return _Chunk(
            now=datetime.now(UTC), size=len(lines) + 1, lines=lines, errors=[LineError(0, "bad")]
        )

    writer_of: dict[str, int] = {}
    # Two different chunks (other lines, other mixes of users): a user keeps its writer.
    for parts in (_split(chunk(range(1, 200), 7), 3), _split(chunk(range(200, 260), 5), 3)):
        for index, part in enumerate(parts):
            numbers = [line[0] for line in part.lines]
            assert numbers == sorted(numbers)
            for line in part.lines:
                assert writer_of.setdefault(line[2].external_id, index) == index
        assert parts[0].errors == [LineError(0, "bad")]
        assert sum(part.size for part in parts) == sum(len(p.lines) for p in parts) + 1
    assert len(set(writer_of.values())) > 1


def test_writers_must_be_at_least_one(owner, words, tmp_path):
    path = write_lines(tmp_path / "e.jsonl", [{"key": "words", "user": {"id": "a"}, "value": 1}])
    with pytest.raises(CommandError, match="--writers"):
        run_import(path, owner.tenant, "--writers", "0")
    assert not Event.objects.exists()


def test_an_out_of_range_timestamp_is_one_invalid_line(owner, words, tmp_path):
    path = write_lines(
        tmp_path / "e.jsonl",
        [
            {
                "key": "words",
                "user": {"id": "a"},
                "value": 1,
                "timestamp": "0001-01-01T00:00:00+01:00",
            },
            {"key": "words", "user": {"id": "a"}, "value": 2, "timestamp": ts(1)},
        ],
    )
    out, err = run_import(path, owner.tenant, "--no-progress")
    assert "Imported 1 events" in out and "1 invalid" in out
    assert "line 1: timestamp" in err


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_after_a_writer_fails_none_of_its_queued_lines_commit(owner, words, tmp_path, monkeypatch):
    """A user's later lines must not be written after an earlier line of theirs failed
    (they would see the wrong user state, and a re-run would skip them as duplicates)."""
    import events.services.imports as imports

    real = imports._import_chunk

    def failing_on_line_one(tenant, config, cache, chunk, result, on_invalid):
        if any(line[0] == 1 for line in chunk.lines):
            raise RuntimeError("the database went away")
        return real(tenant, config, cache, chunk, result, on_invalid)

    monkeypatch.setattr(imports, "_import_chunk", failing_on_line_one)
    path = write_lines(
        tmp_path / "e.jsonl",
        [
            {
                "key": "words",
                "user": {"id": "ann", "tz": "Asia/Tokyo"},
                "value": n,
                "timestamp": ts(1),
            }
            for n in range(1, 6)
        ],
    )

    with pytest.raises(RuntimeError, match="went away"):
        run_import(path, owner.tenant, "--batch-size", "1", "--writers", "2", "--no-progress")

    assert not Event.objects.exists()
    assert not EndUser.objects.filter(external_id="ann").exists()


def test_a_parsed_line_survives_the_trip_from_the_parser_process():
    """Parsed lines are pickled from the parser process to the writers."""
    import pickle

    from events.services.users import UserInput

    user = UserInput(external_id="u1", changes={"tz": "Asia/Tokyo", "attributes": {"a": "b"}})
    line = (7, uuid.uuid4(), user, 12, {"k": "v"}, datetime(2026, 1, 2, tzinfo=UTC), "key")

    copy = pickle.loads(pickle.dumps(line, protocol=pickle.HIGHEST_PROTOCOL))

    assert copy == line and isinstance(copy[2], UserInput)
    assert copy[2].external_id == "u1" and copy[2].changes == user.changes


def test_the_cycle_collector_is_as_it_was_after_an_import(owner, words, tmp_path):
    """The import holds automatic collection back while it runs (see _fewer_gc_pauses)."""
    import gc

    path = write_lines(tmp_path / "e.jsonl", [{"key": "words", "user": {"id": "u1"}, "value": 1}])
    assert gc.isenabled()
    run_import(path, owner.tenant)
    assert gc.isenabled()

    gc.disable()
    try:
        run_import(path, owner.tenant)
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_a_user_created_by_another_request_mid_chunk_is_used_not_duplicated(
    owner, words, tmp_path, monkeypatch
):
    """Between the chunk's read of its users and its insert of the new ones, another
    request creates one of them: the chunk is worked out again with that user's row,
    whose time zone dates its events."""
    from events.services import imports

    plan = imports._plan
    interfered: list[EndUser] = []

    def plan_then_interfere(*args: Any, **kwargs: Any) -> Any:
        planned = plan(*args, **kwargs)
        if not interfered:  # what a concurrent event for "ann" does, once
            user = EndUserFactory.create(
                tenant=owner.tenant, external_id="ann", tz="Pacific/Kiritimati"
            )
            interfered.append(user)
        return planned

    monkeypatch.setattr(imports, "_plan", plan_then_interfere)
    line = {"key": "words", "user": {"id": "ann"}, "value": 2, "timestamp": ts(1, 20)}
    out, _ = run_import(write_lines(tmp_path / "e.jsonl", [line]), owner.tenant)

    assert "Imported 1 events" in out and "0 new users" in out, out
    ann = EndUser.objects.get(tenant=owner.tenant, external_id="ann")
    assert ann.pk == interfered[0].pk and ann.tz == "Pacific/Kiritimati"
    event = Event.objects.get(user=ann)
    assert str(event.local_date) == "2025-03-02"  # 20:00 UTC is the next day at UTC+14
    assert MetricTotal.objects.get(user=ann).total == 2
