"""A day's sums per event-attribute value, kept in the daily rollup row itself.

`DailyRollup.by_attribute` holds, for the events of its (user, metric, day), the sum and
count of the events carrying each value of each event attribute:

    {"device": {"ios": [12.5, 3], "android": [4, 1]}, "plan": {"pro": [16.5, 4]}}

Sums are JSON numbers written exactly (a whole sum as an integer, a fraction in plain
notation without trailing zeros, never a float's approximation) and, when the column is
read whole, read back as `Decimal` (`Decoder`), so they are as exact as the rollup's own
`total`. (A key path read in SQL, `by_attribute__device__ios__0`, is the database's
number: a float on SQLite.) Events are added to a row with `add`, which the upsert calls
as the SQL function `ADD_FUNCTION`: PL/pgSQL on PostgreSQL, created by migration 0001;
this module's `add_texts` on SQLite, registered on every connection (`events.apps`).
Both write the same numbers.

Cost: the upsert rewrites the row's JSON, so an event costs more the more distinct values
its user's day already holds. Attributes are meant for a few values each (a device, a
plan, a language); an attribute with a new value on every event (an id) makes a user's
busy day quadratic in its events. docs/architecture.md says so.

Why a column and not a table of its own (as the foundation first had,
`DailyAttributeRollup`, one row per day and attribute value): that table took two rows
and six index entries per imported event here, a third of PostgreSQL's work in `import_events`; the JSON adds a
few dozen bytes to a row that is written anyway. Its readers (Wrapped's `byAttribute`)
read a user's daily rollups of a metric for a period, which now carry the breakdown.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

# {attribute key: {attribute value: [sum, count]}}
AttributeSums = dict[str, dict[str, list[Any]]]

ADD_FUNCTION = "trophy_add_attribute_sums"


def accumulate(sums: AttributeSums, attributes: dict[str, str], value: int | Decimal) -> None:
    """Add one event (its attributes and value) to `sums`, in place."""
    for name, item in attributes.items():
        per_value = sums.get(name)
        if per_value is None:
            sums[name] = {item: [value, 1]}
            continue
        pair = per_value.get(item)
        if pair is None:
            per_value[item] = [value, 1]
        else:
            pair[0] += value
            pair[1] += 1


def add(a: AttributeSums, b: AttributeSums) -> AttributeSums:
    """The sums of the events of `a` and of `b` (neither is changed)."""
    out: AttributeSums = {name: {item: list(pair) for item, pair in a[name].items()} for name in a}
    for name, per_value in b.items():
        mine = out.setdefault(name, {})
        for item, (total, count) in per_value.items():
            pair = mine.get(item)
            if pair is None:
                mine[item] = [total, count]
            else:
                pair[0] += total
                pair[1] += count
    return out


def number_text(value: int | Decimal) -> str:
    """A sum as exact JSON: an integer when it is whole, else plain decimal notation
    without trailing zeros (what PostgreSQL's trim_scale gives)."""
    if isinstance(value, int):
        return str(value)
    if value == value.to_integral_value():
        return str(int(value))
    return format(value, "f").rstrip("0")  # a fraction: a "." precedes the zeros


# Quoted keys and values by their text: an import writes the same few thousand times.
_quoted: dict[str, str] = {}


def _quote(text: str) -> str:
    quoted = _quoted.get(text)
    if quoted is None:
        if len(_quoted) >= 65536:
            _quoted.clear()
        quoted = _quoted[text] = json.dumps(text)
    return quoted


def dumps(sums: AttributeSums) -> str:
    """The JSON text of `sums`, with exact numbers (`number_text`); the hot path of bulk
    writes (about 2 µs for a row with two attributes)."""
    return (
        "{"
        + ",".join(
            _quote(name)
            + ":{"
            + ",".join(
                f"{_quote(item)}:[{number_text(total)},{count}]"
                for item, (total, count) in per_value.items()
            )
            + "}"
            for name, per_value in sums.items()
        )
        + "}"
    )


class Encoder(json.JSONEncoder):
    """For the field: any JSON (a column value, the value of a key path lookup such as
    `by_attribute__device__ios=[3, 2]`, the admin's display), with Decimals written
    exactly; a column value comes out as `dumps` writes it. Bulk writes call `dumps`
    directly (`AttributeSumsField.json_text`)."""

    def encode(self, o: Any) -> str:
        return _exact(o, self.ensure_ascii)


def _exact(o: Any, ascii: bool) -> str:
    if isinstance(o, Decimal):
        return number_text(o)
    if isinstance(o, dict):
        items = (
            f"{json.dumps(str(k), ensure_ascii=ascii)}:{_exact(v, ascii)}" for k, v in o.items()
        )
        return "{" + ",".join(items) + "}"
    if isinstance(o, list | tuple):
        return "[" + ",".join(_exact(item, ascii) for item in o) + "]"
    return json.dumps(o, ensure_ascii=ascii)


class Decoder(json.JSONDecoder):
    """For the field: fractional sums read back as exact Decimals."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("parse_float", Decimal)
        super().__init__(*args, **kwargs)


_DECODER = Decoder()


def loads(text: str) -> AttributeSums:
    """One shared decoder: `json.loads(text, cls=...)` builds a decoder per call, a third
    of the cost of reading a small row (Wrapped reads tens of thousands at a time)."""
    if text == "{}":
        return {}
    sums: AttributeSums = _DECODER.decode(text)
    return sums


def add_texts(a: str | None, b: str | None) -> str | None:
    """`add` on JSON texts: the SQLite form of `ADD_FUNCTION` (NULL in, NULL out, like
    the STRICT PostgreSQL function)."""
    if a is None or b is None:
        return None
    if b == "{}":
        return a
    if a == "{}":
        return b
    return dumps(add(loads(a), loads(b)))
