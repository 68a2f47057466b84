"""Wrapped 2025 of the reference dataset (reference.py), worked out by hand, field by
field, from SEMANTICS A4."""

from __future__ import annotations

from typing import Any

import pytest
import time_machine

from tests.wrapped.reference import NOW, load_reference


@pytest.fixture
def reference(owner, api):
    load_reference(api, owner.tenant)
    return api


def wrapped(client: Any, user: str, year: int = 2025) -> dict[str, Any]:
    with time_machine.travel(NOW, tick=False):
        response = client.get(f"/v1/users/{user}/wrapped", {"year": year})
    assert response.status_code == 200, response.content
    return response.json()


def stats(total: Any, change: Any, percent: Any, percentile: int | None = None, **more: Any):
    out = {"currentTotal": total, "changeThisPeriod": change, "percentChange": percent}
    if percentile is not None:
        out["percentileThisPeriod"] = percentile
    return {**out, **more}


def words(total: Any, change: Any, percent: Any, percentile: int | None = None, by: Any = None):
    head = {"name": "Words written", "units": "words"}
    return {**head, **stats(total, change, percent, percentile), "byAttribute": by or {}}


def device(**values: dict[str, Any]) -> dict[str, Any]:
    return {
        "device": {
            value: {"name": "Words written", "units": "words", **figures}
            for value, figures in values.items()
        }
    }


def lessons(total: Any, change: Any, percent: Any) -> dict[str, Any]:
    return {"name": "Lessons", "units": None, **stats(total, change, percent), "byAttribute": {}}


NOTHING_ELSE: dict[str, Any] = {"points": {}, "achievements": [], "leaderboards": {}}


def test_ann(reference):
    body = wrapped(reference, "ann")

    assert body["user"]["id"] == "ann" and body["user"]["tz"] == "Pacific/Honolulu"
    activity = body["activity"]
    # Active local dates in 2025: 1, 2, 3 January; 10, 11, 12 March; 1 June; 31 December
    # (31 December 2024 and 2 January 2026 are other years, in Honolulu).
    assert activity["daysActive"] == 8
    # ISO weeks from 30 December 2024, 10 March, 26 May (1 June is a Sunday), 29 December.
    assert activity["weeksActive"] == 4
    assert activity["monthsActive"] == 4  # January, March, June, December

    # Most events: 11 March (two) ties with 12 March (a lesson, and one event of the
    # archived metric, which was an event): the earliest wins. Words: running total at
    # the end of the day 1650, change 300 - 50 = 250, from 1400: 17.857… → 17.8; no
    # percentile for a day. Lessons had an event before (2 January): listed, unchanged.
    assert activity["mostActiveDay"] == {
        "date": "2025-03-11",
        "metrics": {
            "words": words(
                1650,
                250,
                17.8,
                by=device(web=stats(300, 250, 500)),  # web: 50 before, 300 - 50 that day
            ),
            "lessons": lessons(1, 0, 0),
        },
        **NOTHING_ELSE,
    }
    # Five events in the week of 30 December 2024 (two of them in 2024), five in the week
    # of 10 March: the earliest. Its statistics cover the whole week. Words 100 + 50 +
    # 30 + 20 = 200 from 1000: 20 %. Only ann and kai were active that week: below the
    # minimum population of 5, no percentile.
    assert activity["mostActiveWeek"] == {
        "start": "2024-12-30",
        "end": "2025-01-05",
        "metrics": {
            "words": words(
                1200,
                200,
                20,
                by=device(
                    ios=stats(1130, 130, 13),  # 1000 before; 100 + 30
                    web=stats(50, 50, 100),  # from nothing: 100
                ),
            ),
            "lessons": lessons(1, 1, 100),
        },
        **NOTHING_ELSE,
    }
    # March: 200 + 300 - 50 = 450 words from 1200: 37.5 %. Population (non-zero words in
    # March): p4 50, p1 100, ann 450, p2 450, p3 600, p5 1000: two below ann, of 5 others:
    # 40. ios in March: p4 50, p1 100, ann 200, p3 600, p5 1000: 2 / 4 → 50. web in
    # March: ann and p2 only: no percentile.
    assert activity["mostActiveMonth"] == {
        "month": 2,
        "metrics": {
            "words": words(
                1650,
                450,
                37.5,
                40,
                by=device(
                    ios=stats(1330, 200, 17.6, 50),  # 200 / 1130 = 17.69… → 17.6
                    web=stats(300, 250, 500),
                ),
            ),
            "lessons": lessons(3, 2, 200),
        },
        **NOTHING_ELSE,
    }
    # 2025: 30 + 20 + 200 + 250 + 10 + 5 = 515 words from 1150 (44.78… → 44.7); the
    # running total at 31 December excludes 2 January 2026. Population: kai 40, p4 50,
    # p1 100, p2 450, ann 515, p3 600, p5 1000: 4 of 6 below → 66.67 → 67.
    # The streak of 30 December 2024 - 3 January 2025 counts 3 days within 2025, as
    # does 10-12 March: the earliest, started in 2024.
    assert activity["entireYear"] == {
        "metrics": {
            "words": words(
                1665,
                515,
                44.7,
                67,
                by=device(
                    ios=stats(1330, 230, 20.9, 50),  # 230 / 1100; p4, p1 below; N = 5
                    web=stats(300, 250, 500),  # ann, p2, kai: below the minimum
                ),
            ),
            "lessons": lessons(3, 3, 100),
        },
        **NOTHING_ELSE,
        "longestStreak": {
            "length": 3,
            "frequency": "daily",
            "periodStart": "2025-01-01",
            "periodEnd": "2025-01-03",
            "started": "2024-12-30",
        },
    }


def test_kai_across_the_date_line(reference):
    activity = wrapped(reference, "kai")["activity"]

    # Only 1 January 2025 (local) is in 2025: the event of 31 December 2025 in UTC is
    # 1 January 2026 in Tonga.
    assert (activity["daysActive"], activity["weeksActive"], activity["monthsActive"]) == (1, 1, 1)
    assert activity["mostActiveDay"]["date"] == "2025-01-01"
    assert (activity["mostActiveWeek"]["start"], activity["mostActiveWeek"]["end"]) == (
        "2024-12-30",
        "2025-01-05",
    )
    assert activity["mostActiveMonth"]["month"] == 0
    # 40 from 9 (444.44… → 444.4); the smallest change of seven: percentile 0.
    assert activity["entireYear"]["metrics"] == {
        "words": words(49, 40, 444.4, 0, by=device(web=stats(40, 40, 100)))
    }
    # 31 December 2024 - 1 January 2025: one day of it in 2025.
    assert activity["entireYear"]["longestStreak"] == {
        "length": 1,
        "frequency": "daily",
        "periodStart": "2025-01-01",
        "periodEnd": "2025-01-01",
        "started": "2024-12-31",
    }


def test_a_user_without_events(reference):
    activity = wrapped(reference, "zed")["activity"]

    empty = {"metrics": {}, **NOTHING_ELSE}
    assert activity == {
        "daysActive": 0,
        "weeksActive": 0,
        "monthsActive": 0,
        "mostActiveDay": {"date": "2025-01-01", **empty},
        "mostActiveWeek": {"start": "2024-12-30", "end": "2025-01-05", **empty},
        "mostActiveMonth": {"month": 0, **empty},
        "entireYear": {
            **empty,
            "longestStreak": {
                "length": 0,
                "frequency": "daily",
                "periodStart": None,
                "periodEnd": None,
                "started": None,
            },
        },
    }


def test_a_year_without_activity_between_two_with_some(reference):
    """lea (UTC) wrote in June 2024 and on 2 January 2026, a day of 2025's last ISO week
    (29 December 2025 to 4 January 2026), and never in 2025: the most active periods are
    the placeholders, empty; the year lists the metric she had, unchanged."""
    with time_machine.travel(NOW, tick=False):
        for value, timestamp in ((70, "2024-06-01T12:00:00Z"), (5, "2026-01-02T12:00:00Z")):
            body = {"user": {"id": "lea", "tz": "UTC"}, "value": value, "timestamp": timestamp}
            response = reference.post("/v1/metrics/words/event", body, format="json")
            assert response.status_code == 201, response.json()

    activity = wrapped(reference, "lea")["activity"]

    empty = {"metrics": {}, **NOTHING_ELSE}
    assert activity["daysActive"] == activity["weeksActive"] == activity["monthsActive"] == 0
    assert activity["mostActiveDay"] == {"date": "2025-01-01", **empty}
    assert activity["mostActiveWeek"] == {"start": "2024-12-30", "end": "2025-01-05", **empty}
    assert activity["mostActiveMonth"] == {"month": 0, **empty}
    assert activity["entireYear"]["metrics"] == {"words": words(70, 0, 0)}


def test_the_year_before_a_users_history_lists_no_metrics(reference):
    activity = wrapped(reference, "p1", year=2024)["activity"]
    assert activity["daysActive"] == 0 and activity["entireYear"]["metrics"] == {}


def test_most_active_by_the_change_of_a_chosen_metric(reference, owner):
    from events.models import Metric
    from wrapped.models import WrappedSettings

    words_metric = Metric.objects.get(tenant=owner.tenant, key="words")
    WrappedSettings.objects.create(tenant=owner.tenant, activity_metric=words_metric)

    activity = wrapped(reference, "ann")["activity"]

    # Words per day: 11 March 250 (the most), 10 March 200. Per week: 10-16 March 450,
    # 30 December - 5 January 200. Per month: March 450.
    assert activity["mostActiveDay"]["date"] == "2025-03-11"
    assert (activity["mostActiveWeek"]["start"], activity["mostActiveWeek"]["end"]) == (
        "2025-03-10",
        "2025-03-16",
    )
    assert activity["mostActiveMonth"]["month"] == 2
    assert activity["daysActive"] == 8  # active days still count every event
