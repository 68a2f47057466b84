"""Reading the derived sums per event-attribute value in tests."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from events.models import DailyRollup


def attribute_rows(*fields: str, **scope: Any) -> list[tuple[Any, ...]]:
    """The sums per attribute value of the daily rollups in `scope`, one tuple per day and
    value: the rollup's `fields`, then (attribute key, value, sum, count); sorted."""
    rows = []
    for *named, sums in DailyRollup.objects.filter(**scope).values_list(*fields, "by_attribute"):
        for name, per_value in sums.items():
            for item, (total, count) in per_value.items():
                rows.append((*named, name, item, Decimal(total), count))
    return sorted(rows)
