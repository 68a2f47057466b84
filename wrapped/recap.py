"""What a share page and a card say, taken from a stored summary alone (its `activity`,
the user's display name and the year): pure, so pages and cards agree and tests can
build any case by hand.

The rules (CARDS.md; docs/sharing.md):
- The hero is the user's best fact: the longest streak when it is 7 or more (days, or
  weeks for a weekly streak), else the days active. No activity: no hero, and the page
  and cards say "Your YEAR starts here".
- The top metric is the one with the highest percentile of the year, else (no
  percentile) the greatest change. "top X%" is shown for percentiles of 50 and more
  (percentile 90 → "top 10%"; 100 → "top 1%").
- Supporting facts, in order: the top metric (unless it is the hero), the most active
  month by name, weeks active, days active (unless it is the hero). Empty facts are
  left out, never shown as zeros.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from django.utils import formats, numberformat

MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@dataclass(frozen=True)
class Fact:
    """A number (or a word, such as a month) and its label in words."""

    value: str
    label: str
    note: str = ""  # e.g. "top 10%"


@dataclass(frozen=True)
class MetricLine:
    key: str
    name: str
    change: str
    units: str
    top: str  # "top 10%" or ""


@dataclass(frozen=True)
class Recap:
    year: int
    name: str  # the display name, "" when the user has none (never an id or email)
    hero: Fact | None  # None: no activity in the year
    facts: tuple[Fact, ...]  # supporting facts, best first
    # The page's fuller sections (empty tuples and "" when there is nothing to show).
    active: tuple[Fact, ...] = ()  # days, weeks and months active
    most_active: tuple[Fact, ...] = ()  # the most active day, week and month
    metrics: tuple[MetricLine, ...] = ()
    streak: Fact | None = None
    points: tuple[Fact, ...] = ()
    achievements: tuple[tuple[str, str], ...] = ()  # (name, badge URL or "")
    leaderboards: tuple[Fact, ...] = ()  # value "#3", label the leaderboard's name

    @property
    def title(self) -> str:
        who = f"{self.name}’s" if self.name else "My"
        return f"{who} {self.year} in review"

    @property
    def headline(self) -> str:
        """One sentence with the hero: the page's description and the cards' alt text."""
        if self.hero is None:
            return f"Your {self.year} starts here."
        return f"{self.hero.value} {self.hero.label} in {self.year}."

    @property
    def description(self) -> str:
        """The hero and the supporting facts in words (Open Graph description, alt text)."""
        parts = [self.headline.rstrip(".")]
        for fact in self.facts:
            text = f"{fact.value} {fact.label}"
            parts.append(f"{text} ({fact.note})" if fact.note else text)
        return "; ".join(parts) + "."


def plural(count: int | Decimal, one: str, many: str) -> str:
    return one if count == 1 else many


def number(value: int | float | Decimal, locale: str = "en") -> str:
    """A number with the locale's thousands and decimal separators (Django's formats;
    "en" by default): 1234567 → "1,234,567", 12.5 → "12.5"."""
    amount = Decimal(str(value))
    if amount == amount.to_integral_value():
        amount = amount.quantize(Decimal(1))
    return numberformat.format(
        amount,
        formats.get_format("DECIMAL_SEPARATOR", lang=locale, use_l10n=True),
        grouping=3,
        thousand_sep=formats.get_format("THOUSAND_SEPARATOR", lang=locale, use_l10n=True),
        force_grouping=True,
    )


def words(name: str) -> str:
    """A metric's name as a label inside a sentence: "Lessons completed" → "lessons
    completed"; names starting with an acronym ("XP earned") are kept."""
    if len(name) > 1 and name[0].isupper() and name[1].islower():
        return name[0].lower() + name[1:]
    return name


def top_share(percentile: Any) -> str:
    if not isinstance(percentile, int | float) or percentile < 50:
        return ""
    return f"top {max(1, 100 - int(percentile))}%"


def _day(text: str) -> str:
    day = date.fromisoformat(text)
    return f"{WEEKDAYS[day.weekday()]} {day.day} {MONTHS[day.month - 1]}"


def _week(start: str, end: str) -> str:
    first, last = date.fromisoformat(start), date.fromisoformat(end)
    if first.month == last.month:
        return f"{first.day}–{last.day} {MONTHS[last.month - 1]}"
    return f"{first.day} {MONTHS[first.month - 1]} – {last.day} {MONTHS[last.month - 1]}"


def _metrics(entire: dict[str, Any], locale: str) -> list[tuple[tuple[Any, ...], MetricLine]]:
    ranked = []
    for key, stats in (entire.get("metrics") or {}).items():
        change = Decimal(str(stats.get("changeThisPeriod", 0)))
        if change <= 0:
            continue
        percentile = stats.get("percentileThisPeriod")
        line = MetricLine(
            key=key,
            name=str(stats.get("name") or key),
            change=number(change, locale),
            units=str(stats.get("units") or ""),
            top=top_share(percentile),
        )
        rank = (percentile if isinstance(percentile, int | float) else -1, change)
        ranked.append((rank, line))
    ranked.sort(key=lambda item: item[0], reverse=True)
    return ranked


def recap_of(activity: dict[str, Any], *, year: int, name: str, locale: str = "en") -> Recap:
    """The recap of a summary's `activity` (Trophy's WrappedActivity)."""
    days = int(activity.get("daysActive") or 0)
    weeks = int(activity.get("weeksActive") or 0)
    months = int(activity.get("monthsActive") or 0)
    entire = activity.get("entireYear") or {}
    display = (name or "").strip()
    if days == 0:
        return Recap(year=year, name=display, hero=None, facts=())

    ranked = _metrics(entire, locale)
    lines = tuple(line for _, line in ranked)
    top = lines[0] if lines else None
    top_fact = Fact(top.change, words(top.name), note=top.top) if top is not None else None

    streak_data = entire.get("longestStreak") or {}
    streak_length = int(streak_data.get("length") or 0)
    unit = "week" if streak_data.get("frequency") == "weekly" else "day"
    streak = (
        Fact(number(streak_length, locale), f"{plural(streak_length, unit, unit + 's')} in a row")
        if streak_length > 0
        else None
    )
    days_fact = Fact(number(days, locale), plural(days, "day active", "days active"))

    month = activity.get("mostActiveMonth") or {}
    month_name = MONTHS[int(month["month"])] if "month" in month else ""
    month_fact = Fact(month_name, "most active month") if month_name else None
    weeks_fact = (
        Fact(number(weeks, locale), plural(weeks, "week active", "weeks active")) if weeks else None
    )

    if streak is not None and streak_length >= 7:
        hero: Fact = streak
        rest = [top_fact, month_fact, weeks_fact, days_fact]
    else:
        hero = days_fact
        rest = [top_fact, month_fact, weeks_fact]
    facts = tuple(fact for fact in rest if fact is not None)

    day = activity.get("mostActiveDay") or {}
    week = activity.get("mostActiveWeek") or {}
    return Recap(
        year=year,
        name=display,
        hero=hero,
        facts=facts,
        active=(
            days_fact,
            Fact(number(weeks, locale), plural(weeks, "week active", "weeks active")),
            Fact(number(months, locale), plural(months, "month active", "months active")),
        ),
        most_active=tuple(
            fact
            for fact in (
                Fact(_day(day["date"]), "most active day") if "date" in day else None,
                Fact(_week(week["start"], week["end"]), "most active week")
                if "start" in week
                else None,
                month_fact,
            )
            if fact is not None
        ),
        metrics=lines,
        streak=streak,
        points=tuple(
            Fact(number(p.get("changeThisPeriod", 0), locale), str(p.get("name") or key))
            for key, p in (entire.get("points") or {}).items()
            if p.get("changeThisPeriod")
        ),
        achievements=tuple(
            (str(a.get("name") or ""), str(a.get("badgeUrl") or ""))
            for a in entire.get("achievements") or []
            if a.get("name")
        ),
        leaderboards=tuple(
            Fact(f"#{number(board['rank'], locale)}", str(board.get("name") or key))
            for key, board in (entire.get("leaderboards") or {}).items()
            if board.get("rank")
        ),
    )
