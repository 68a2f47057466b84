"""`metrics` of each period: Trophy's `WrappedMetric` per metric key (SEMANTICS A4).

Every active metric of which the user has an event on or before the period's last day,
with its running total at the end of the period, its change in the period, the percent
change, the percentile among the tenant's users (weeks, months and the year only) and
the same statistics per event-attribute value found on the metric's events in the period.
"""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal
from typing import Any

from events.numbers import to_json_number

from ..periods import Period
from .days import ROLLUPS, UserDays
from .registry import Highlight, UserYear

TENTH = Decimal("0.1")


def percent_change(total: Decimal, change: Decimal) -> int | float:
    """100 x change / |total at the start of the period|, truncated toward zero to one
    decimal place; 0 without change; ±100 from a start of 0."""
    if change == 0:
        return 0
    start = total - change
    if start == 0:
        return 100 if change > 0 else -100
    return to_json_number((100 * change / abs(start)).quantize(TENTH, rounding=ROUND_DOWN))


def statistics(
    ctx: UserYear,
    metric: Any,
    period: Period,
    total: Decimal,
    change: Decimal,
    *,
    attribute: str = "",
    value: str = "",
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": metric.name,
        "units": metric.units or None,
        "currentTotal": to_json_number(total),
        "changeThisPeriod": to_json_number(change),
        "percentChange": percent_change(total, change),
    }
    if period.kind != "day":
        percentile = ctx.percentiles.percentile(
            metric.pk,
            period,
            change,
            minimum=ctx.options.min_population,
            attribute=attribute,
            value=value,
        )
        if percentile is not None:
            out["percentileThisPeriod"] = percentile
    return out


def metrics(ctx: UserYear, period: Period) -> dict[str, Any]:
    days: UserDays | None = ctx.loaded(ROLLUPS)
    out: dict[str, Any] = {}
    if days is None:
        return out
    for metric_id, metric in ctx.metrics.items():
        series = days.metrics.get(metric_id)
        if series is None or not series.any_by(period.end):
            continue
        total, change = series.totals(period)
        entry = statistics(ctx, metric, period, total, change)
        entry["byAttribute"] = {
            name: {
                item: statistics(
                    ctx, metric, period, item_total, item_change, attribute=name, value=item
                )
                for item, (item_total, item_change) in values.items()
            }
            for name, values in series.by_attribute(period).items()
        }
        out[metric.key] = entry
    return out


METRICS = Highlight("metrics", "period", metrics, sources=(ROLLUPS,))
