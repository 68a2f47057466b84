"""The highlights a recap is made of, registered in one place (registry.py says how a
highlight and its source are defined). The order here is the order of the keys in the
response."""

from .activity import DAYS_ACTIVE, MONTHS_ACTIVE, WEEKS_ACTIVE
from .days import ROLLUPS, MetricDays, UserDays
from .later import ACHIEVEMENTS, LEADERBOARDS, POINTS
from .metrics import METRICS
from .registry import Highlight, Highlights, Source, UserYear, WrappedOptions
from .streak import LONGEST_STREAK

HIGHLIGHTS = Highlights(
    DAYS_ACTIVE,
    WEEKS_ACTIVE,
    MONTHS_ACTIVE,
    METRICS,
    POINTS,
    ACHIEVEMENTS,
    LEADERBOARDS,
    LONGEST_STREAK,
)

__all__ = [
    "HIGHLIGHTS",
    "ROLLUPS",
    "Highlight",
    "Highlights",
    "MetricDays",
    "Source",
    "UserDays",
    "UserYear",
    "WrappedOptions",
]
