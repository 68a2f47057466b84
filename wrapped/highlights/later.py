"""The blocks of features still to come, registered now so that every period has them:
`points` (points systems), `achievements` (completions in the period) and `leaderboards`
(best ranks in the period). They answer empty until the points, achievements and
leaderboards work registers highlights that fill them (replacing these)."""

from __future__ import annotations

from typing import Any

from ..periods import Period
from .registry import Highlight, UserYear


def no_points(ctx: UserYear, period: Period) -> dict[str, Any]:
    return {}


def no_achievements(ctx: UserYear, period: Period) -> list[Any]:
    return []


def no_leaderboards(ctx: UserYear, period: Period) -> dict[str, Any]:
    return {}


POINTS = Highlight("points", "period", no_points)
ACHIEVEMENTS = Highlight("achievements", "period", no_achievements, empty=list)
LEADERBOARDS = Highlight("leaderboards", "period", no_leaderboards)
