"""Which time zone names are accepted: IANA zone names only (SEMANTICS §1.5), as the
`tzdata` package lists them. The system's zone directory also holds files that are
not zones of the IANA database (`localtime`, a link to the machine's own zone, whose
meaning changes with the machine), which `zoneinfo.available_timezones()` would accept."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources


@lru_cache(maxsize=1)
def iana_zones() -> frozenset[str]:
    return frozenset(resources.files("tzdata").joinpath("zones").read_text().split())


def is_iana_zone(name: str) -> bool:
    return name in iana_zones()
