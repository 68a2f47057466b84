"""A day's sums per event-attribute value, kept in the daily rollup row itself.

`DailyRollup.by_attribute` holds, for the events of its (user, metric, day), the sum and
count of the events carrying each value of each event attribute:

    {"device": {"ios": [12.5, 3], "android": [4, 1]}, "plan": {"pro": [16.5, 4]}}

Sums are JSON numbers written exactly (a whole sum as an integer, a fraction in plain
notation, never a float's approximation) and read back as `Decimal` (`Decoder`), so they
are as exact as the rollup's own `total`. Events are added to a row with `add`, which
the upsert calls as the SQL function `ADD_FUNCTION`: a PL/pgSQL function on PostgreSQL
(migration 0007, `POSTGRESQL_FUNCTION`), this module's `add_texts` registered on every
SQLite connection (`events.apps`). Both give the same sums.

Why a column and not a table of its own (until migration 0007, `DailyAttributeRollup`,
one row per day and attribute value): that table took two rows and six index entries
per imported event here, half of PostgreSQL's work in `import_events`; the JSON adds a
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

# The same sums as `add`: values of a key are added per value; a sum keeps no trailing
# zeros (trim_scale), as `number_text` writes it. Empty objects are the common case on
# both sides (an event without attributes, a day's first events) and return at once.
POSTGRESQL_FUNCTION = f"""
CREATE OR REPLACE FUNCTION {ADD_FUNCTION}(a jsonb, b jsonb) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
BEGIN
    IF b = '{{}}'::jsonb THEN
        RETURN a;
    END IF;
    IF a = '{{}}'::jsonb THEN
        RETURN b;
    END IF;
    RETURN (
        SELECT jsonb_object_agg(name, per_value)
        FROM (
            SELECT name, jsonb_object_agg(item, jsonb_build_array(trim_scale(total), count))
                AS per_value
            FROM (
                SELECT e.name, v.item, sum((v.pair->>0)::numeric) AS total,
                    sum((v.pair->>1)::bigint) AS count
                FROM (SELECT * FROM jsonb_each(a) UNION ALL SELECT * FROM jsonb_each(b))
                    AS e(name, items),
                    jsonb_each(e.items) AS v(item, pair)
                GROUP BY e.name, v.item
            ) AS summed
            GROUP BY name
        ) AS per_name
    );
END
$$
"""
DROP_POSTGRESQL_FUNCTION = f"DROP FUNCTION IF EXISTS {ADD_FUNCTION}(jsonb, jsonb)"


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
    return format(value.normalize(), "f")


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
    """The JSON text of `sums`, with exact numbers (`number_text`)."""
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
    """For the field: `json.dumps(sums, cls=Encoder)` is `dumps(sums)`."""

    def encode(self, o: Any) -> str:
        return dumps(o)


class Decoder(json.JSONDecoder):
    """For the field: fractional sums read back as exact Decimals."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("parse_float", Decimal)
        super().__init__(*args, **kwargs)


def loads(text: str) -> AttributeSums:
    sums: AttributeSums = json.loads(text, parse_float=Decimal)
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
