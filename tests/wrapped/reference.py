"""The reference dataset of Wrapped 2025: events sent through the API, whose recaps the
tests work out by hand (test_reference.py).

- ann, in Pacific/Honolulu (UTC-10): a history from 2024, events near local midnight
  on both year ends, a streak crossing 1 January, a negative value, a metric archived
  later, the `device` attribute.
- kai, in Pacific/Tongatapu (UTC+13): events whose UTC year is not their local year.
- p1 … p5, in UTC: March 2025 activity, so that March's and the year's populations have
  five users or more.
- zed: a user without events.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import time_machine

from events.models import Metric, Tenant

NOW = datetime(2026, 1, 15, 12, tzinfo=UTC)
HONOLULU = timedelta(hours=-10)
TONGA = timedelta(hours=13)


def local(text: str, offset: timedelta) -> str:
    """An ISO timestamp with the offset of a local wall-clock time."""
    wall = datetime.fromisoformat(text)
    return (wall - offset).replace(tzinfo=UTC).isoformat()


# (user, metric, value, attributes, timestamp)
ANN = [
    ("words", 1000, {"device": "ios"}, local("2024-06-15T12:00", HONOLULU)),
    ("words", 100, {"device": "ios"}, local("2024-12-30T10:00", HONOLULU)),
    # 09:30 on 1 January in UTC, still 31 December in Honolulu
    ("words", 50, {"device": "web"}, local("2024-12-31T23:30", HONOLULU)),
    ("words", 30, {"device": "ios"}, local("2025-01-01T00:30", HONOLULU)),
    ("lessons", 1, {}, local("2025-01-02T12:00", HONOLULU)),
    ("words", 20, {}, local("2025-01-03T12:00", HONOLULU)),
    ("words", 200, {"device": "ios"}, local("2025-03-10T12:00", HONOLULU)),
    ("words", 300, {"device": "web"}, local("2025-03-11T09:00", HONOLULU)),
    ("words", -50, {"device": "web"}, local("2025-03-11T10:00", HONOLULU)),
    ("lessons", 2, {}, local("2025-03-12T12:00", HONOLULU)),
    ("old", 4, {}, local("2025-03-12T13:00", HONOLULU)),  # "old" is archived afterwards
    ("words", 10, {}, local("2025-06-01T12:00", HONOLULU)),
    # 08:00 on 1 January 2026 in UTC, still 2025 in Honolulu
    ("words", 5, {}, local("2025-12-31T22:00", HONOLULU)),
    ("words", 7, {}, local("2026-01-02T12:00", HONOLULU)),
]
KAI = [
    ("words", 9, {}, local("2024-12-31T23:30", TONGA)),
    # 11:30 on 31 December 2024 in UTC, already 2025 in Tonga
    ("words", 40, {"device": "web"}, local("2025-01-01T00:30", TONGA)),
    # 2025 in UTC, 2026 in Tonga
    ("words", 3, {}, local("2026-01-01T00:30", TONGA)),
]
MARCH = {"p1": (100, "ios"), "p2": (450, "web"), "p3": (600, "ios"), "p4": (50, "ios")}
MARCH["p5"] = (1000, "ios")


def load_reference(client: Any, tenant: Tenant) -> None:
    """Create the metrics and attribute and send every event, as an integrator would."""
    for key, name, units in (
        ("words", "Words written", "words"),
        ("lessons", "Lessons", ""),
        ("old", "Old metric", ""),
    ):
        Metric.objects.create(tenant=tenant, key=key, name=name, units=units)
    created = client.post(
        "/admin-api/v1/attributes",
        [{"key": "device", "name": "Device", "type": "event"}],
        format="json",
    )
    assert created.status_code == 201, created.json()
    sent: list[tuple[str, str, Any, dict[str, str], str]] = [
        *(("ann", *event) for event in ANN),
        *(("kai", *event) for event in KAI),
        *(
            (user, "words", value, {"device": device}, "2025-03-15T12:00:00+00:00")
            for user, (value, device) in MARCH.items()
        ),
    ]
    zones = {"ann": "Pacific/Honolulu", "kai": "Pacific/Tongatapu"}
    with time_machine.travel(NOW, tick=False):
        for user, key, value, attributes, timestamp in sent:
            body = {
                "user": {"id": user, "tz": zones.get(user, "UTC")},
                "value": value,
                "timestamp": timestamp,
            }
            if attributes:
                body["attributes"] = attributes
            response = client.post(f"/v1/metrics/{key}/event", body, format="json")
            assert response.status_code == 201, response.json()
        assert client.put("/v1/users/zed", {"tz": "UTC"}, format="json").status_code in (200, 201)
    old = Metric.objects.get(tenant=tenant, key="old")
    deleted = client.delete(f"/admin-api/v1/metrics?ids={old.pk}")
    assert deleted.status_code == 200 and len(deleted.json()["deleted"]) == 1, deleted.json()
