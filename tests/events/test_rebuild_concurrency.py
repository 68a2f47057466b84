"""A rebuild on PostgreSQL locks only the users it rebuilds: their events wait for it and
are counted exactly once; other users keep ingesting meanwhile."""

from __future__ import annotations

import threading
from decimal import Decimal

import httpx
import pytest
from django.db import connection, transaction

from events.models import EndUser, MetricTotal
from events.services.rebuild import derived_state_rebuild
from tests.factories import EndUserFactory
from tests.pg import lock_waiters

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

TIMEOUT = 30


def test_event_during_a_rebuild_waits_and_is_counted_once(live_server, owner, words):
    url = f"{live_server.url}/v1/metrics/words/event"
    headers = {"X-API-KEY": owner.key}
    with httpx.Client(timeout=TIMEOUT) as client:
        for user_id in ("replayed", "other"):
            assert (
                client.post(
                    url, json={"user": {"id": user_id}, "value": 10}, headers=headers
                ).status_code
                == 201
            )
    replayed_user = EndUser.objects.get(tenant=owner.tenant, external_id="replayed")

    responses: dict[str, int] = {}

    def send(user_id: str) -> None:
        with httpx.Client(timeout=TIMEOUT) as client:
            body = {"user": {"id": user_id}, "value": 5}
            responses[user_id] = client.post(url, json=body, headers=headers).status_code

    with transaction.atomic():
        derived_state_rebuild(tenant=owner.tenant, user=replayed_user)
        # The rebuild's transaction is still open and holds the user's row lock.
        blocked = threading.Thread(target=send, args=("replayed",), daemon=True)
        blocked.start()
        free = threading.Thread(target=send, args=("other",), daemon=True)
        free.start()
        free.join(TIMEOUT)
        assert responses.get("other") == 201, "another user's event must not wait for the rebuild"
        # The rebuilt user's event waits for the rebuild, at its user's row lock.
        waiting = lock_waiters()
        assert len(waiting) == 1 and "FOR UPDATE" in waiting[0].query, waiting
        assert "events_enduser" in waiting[0].query
        assert "replayed" not in responses
        assert connection.in_atomic_block
    blocked.join(TIMEOUT)
    assert responses.get("replayed") == 201

    totals = {
        t.user.external_id: (t.total, t.event_count)
        for t in MetricTotal.objects.select_related("user").filter(metric=words)
    }
    assert totals == {"replayed": (Decimal(15), 2), "other": (Decimal(15), 2)}


def test_recompute_in_processes_reports_a_child_failure_however_long(owner, monkeypatch):
    """A child's traceback can outgrow the pipe between the processes: the parent reads it
    while waiting, so it neither hangs nor loses the failure."""
    from events.engine import record
    from events.selectors.config import tenant_config

    EndUserFactory(tenant=owner.tenant, sequential_stale=True)

    def fail(*args: object) -> int:
        raise ValueError("x" * 300_000)  # beyond a pipe's buffer (64 KiB on Linux)

    monkeypatch.setattr(record, "_recompute_share", fail)
    with pytest.raises(RuntimeError, match="work in a child process failed") as failed:
        record.recompute_stale(tenant=owner.tenant, config=tenant_config(owner.tenant), workers=2)
    assert "ValueError: " + "x" * 1000 in str(failed.value)
    assert str(failed.value).count("Traceback") == 2  # one per child
