"""Numbers on the wire: values arrive as JSON numbers, are stored as Decimal, and whole
numbers go out as integers (750, not 750.0), per SEMANTICS A2."""

from __future__ import annotations

import math
from decimal import Decimal

MAX_ABS_VALUE = Decimal("1e12")
# Event values are stored with this many decimal places (models.log.DECIMAL_PLACES);
# a value with more is refused, never rounded.
DECIMAL_PLACES = 6
QUANTUM = Decimal(1).scaleb(-DECIMAL_PLACES)


def fits_places(value: Decimal) -> bool:
    """Whether `value` (finite, within MAX_ABS_VALUE) has at most DECIMAL_PLACES decimal
    places once trailing zeros are dropped (1.5000000 fits, 0.0000001 does not)."""
    return value.quantize(QUANTUM) == value


def to_decimal(value: int | float | Decimal) -> Decimal:
    if isinstance(value, Decimal):
        return value.quantize(QUANTUM)
    return Decimal(repr(value) if isinstance(value, float) else value).quantize(QUANTUM)


def compact(value: Decimal) -> int | Decimal:
    """The same number, as an int when it is whole (most event values are): adding up,
    pickling and sending ints in bulk costs a fraction of Decimals, and sums of ints,
    or of ints and Decimals, are exact."""
    whole = int(value)
    return whole if whole == value else value


def to_json_number(value: Decimal | int | float | None) -> int | float:
    if value is None:
        return 0
    if isinstance(value, float):
        if math.isfinite(value) and value == int(value):
            return int(value)
        return value
    dec = Decimal(value)
    if dec == dec.to_integral_value():
        return int(dec)
    return float(dec)
