"""What a share page and card say, from a summary's `activity` alone: the hero rule, the
top metric, "top X%", plurals, the tenant's locale, and the sections later features fill."""

from __future__ import annotations

from typing import Any

import pytest

from wrapped.recap import recap_of, top_share


def activity(
    *,
    days: int = 40,
    weeks: int = 12,
    months: int = 5,
    streak: int = 3,
    frequency: str = "daily",
    metrics: dict[str, Any] | None = None,
    **entire: Any,
) -> dict[str, Any]:
    return {
        "daysActive": days,
        "weeksActive": weeks,
        "monthsActive": months,
        "mostActiveDay": {"date": "2025-03-11"},
        "mostActiveWeek": {"start": "2025-03-10", "end": "2025-03-16"},
        "mostActiveMonth": {"month": 2},
        "entireYear": {
            "metrics": metrics
            if metrics is not None
            else {
                "words": {"name": "Words written", "units": "words", "changeThisPeriod": 12345},
                "lessons": {
                    "name": "Lessons completed",
                    "changeThisPeriod": 80,
                    "percentileThisPeriod": 91,
                },
            },
            "points": {},
            "achievements": [],
            "leaderboards": {},
            "longestStreak": {"length": streak, "frequency": frequency},
            **entire,
        },
    }


def test_a_streak_of_seven_days_or_more_is_the_hero():
    recap = recap_of(activity(streak=7), year=2025, name="Ann")
    assert recap.hero is not None
    assert (recap.hero.value, recap.hero.label) == ("7", "days in a row")
    # The days active move to the supporting facts, after the top metric, month and weeks.
    assert [fact.label for fact in recap.facts] == [
        "lessons completed",
        "most active month",
        "weeks active",
        "days active",
    ]


def test_a_shorter_streak_leaves_the_hero_to_the_days_active():
    recap = recap_of(activity(streak=6), year=2025, name="Ann")
    assert recap.hero is not None
    assert (recap.hero.value, recap.hero.label) == ("40", "days active")
    assert recap.streak is not None and recap.streak.label == "days in a row"


def test_a_weekly_streak_counts_weeks():
    recap = recap_of(activity(streak=9, frequency="weekly"), year=2025, name="Ann")
    assert recap.hero is not None and recap.hero.label == "weeks in a row"


def test_the_top_metric_has_the_highest_percentile_else_the_greatest_change():
    recap = recap_of(activity(), year=2025, name="Ann")
    assert recap.facts[0].value == "80" and recap.facts[0].note == "top 9%"
    assert [line.key for line in recap.metrics] == ["lessons", "words"]

    no_percentiles = activity(
        metrics={
            "a": {"name": "A", "changeThisPeriod": 5},
            "b": {"name": "B", "changeThisPeriod": 50},
            "c": {"name": "C", "changeThisPeriod": 0},  # no change: left out
        }
    )
    recap = recap_of(no_percentiles, year=2025, name="Ann")
    assert [line.key for line in recap.metrics] == ["b", "a"]


@pytest.mark.parametrize(
    ("percentile", "shown"),
    [(100, "top 1%"), (99, "top 1%"), (90, "top 10%"), (50, "top 50%"), (49, ""), (None, "")],
)
def test_top_share(percentile, shown):
    assert top_share(percentile) == shown


def test_one_of_each_reads_in_the_singular():
    recap = recap_of(activity(days=1, weeks=1, months=1, streak=1), year=2025, name="Ann")
    labels = {fact.label for fact in recap.active}
    assert labels == {"day active", "week active", "month active"}
    assert recap.hero is not None and recap.hero.label == "day active"
    assert recap.streak is not None and recap.streak.label == "day in a row"


def test_no_activity_has_no_hero_and_no_facts():
    recap = recap_of(activity(days=0, weeks=0, months=0, streak=0), year=2025, name="")
    assert recap.hero is None and recap.facts == () and recap.metrics == ()
    assert recap.headline == "Your 2025 starts here."
    assert recap.title == "My 2025 in review"


def test_numbers_follow_the_locale():
    recap = recap_of(activity(), year=2025, name="Ann", locale="de")
    assert [line.change for line in recap.metrics] == ["80", "12.345"]
    assert recap_of(activity(), year=2025, name="Ann").metrics[1].change == "12,345"


def test_the_days_and_periods_are_named():
    recap = recap_of(activity(), year=2025, name="Ann")
    assert [fact.value for fact in recap.most_active] == [
        "Tuesday 11 March",
        "10–16 March",
        "March",
    ]


def test_later_features_appear_only_when_present():
    plain = recap_of(activity(), year=2025, name="Ann")
    assert plain.points == () and plain.achievements == () and plain.leaderboards == ()

    full = recap_of(
        activity(
            points={"xp": {"name": "XP", "changeThisPeriod": 1500}, "none": {"name": "N"}},
            achievements=[{"name": "First lesson", "badgeUrl": "https://cdn/b.png"}],
            leaderboards={"weekly": {"name": "Weekly words", "rank": 3}, "off": {"rank": None}},
        ),
        year=2025,
        name="Ann",
    )
    assert [(f.value, f.label) for f in full.points] == [("1,500", "XP")]
    assert full.achievements == (("First lesson", "https://cdn/b.png"),)
    assert [(f.value, f.label) for f in full.leaderboards] == [("#3", "Weekly words")]
