"""Calendar dates in a user's time zone: the one place they are computed (SEMANTICS A1)."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from ..exceptions import Unprocessable

_zones: dict[str, ZoneInfo] = {}


def zone(name: str) -> ZoneInfo:
    """The IANA zone `name`, built once per process (the import asks for a few zones a
    million times)."""
    found = _zones.get(name)
    if found is None:
        found = _zones[name] = ZoneInfo(name)
    return found


def local_date(moment: datetime, tz: str) -> date:
    """The calendar date at `moment` (aware) in the zone `tz`: an event's `local_date`,
    a user's "today". A moment whose date in that zone falls outside the calendar
    (before year 1) is refused (422)."""
    try:
        return moment.astimezone(zone(tz)).date()
    except OverflowError:
        raise Unprocessable(
            f"timestamp: {moment.isoformat()} has no calendar date in time zone {tz}."
        ) from None
