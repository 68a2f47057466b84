"""The daily rollup's sums per event-attribute value (`events/attribute_sums.py`): exact,
written the same way whether Python adds them up (many events at once) or the database
does (one event after another, with the upsert's function), on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from datetime import date
from decimal import Decimal

import pytest
from django.db import connection

from events import attribute_sums
from events.models import DailyRollup, EndUser
from events.numbers import compact, to_decimal
from tests.derived import apply_contributions
from tests.factories import EndUserFactory

DAY = date(2026, 3, 1)


def test_numbers_are_written_exactly_and_without_trailing_zeros():
    assert attribute_sums.number_text(12) == "12"
    assert attribute_sums.number_text(Decimal("12.000000")) == "12"
    assert attribute_sums.number_text(Decimal("-0.500")) == "-0.5"
    assert attribute_sums.number_text(Decimal("1E+3")) == "1000"
    assert attribute_sums.number_text(Decimal("0.000001")) == "0.000001"
    assert attribute_sums.number_text(Decimal("123456789012.123456")) == "123456789012.123456"


def test_texts_round_trip_with_exact_decimals_and_awkward_strings():
    sums: attribute_sums.AttributeSums = {'a "key"': {"é\n": [Decimal("0.1"), 1], "": [7, 2]}}
    text = attribute_sums.dumps(sums)

    assert attribute_sums.loads(text) == sums
    assert attribute_sums.loads(text)['a "key"']["é\n"][0] == Decimal("0.1")


def test_adding_sums_per_value_leaves_both_operands_alone():
    a: attribute_sums.AttributeSums = {"device": {"ios": [1, 1]}}
    b: attribute_sums.AttributeSums = {
        "device": {"ios": [Decimal("0.5"), 1], "web": [2, 1]},
        "plan": {"pro": [3, 1]},
    }

    assert attribute_sums.add(a, b) == {
        "device": {"ios": [Decimal("1.5"), 2], "web": [2, 1]},
        "plan": {"pro": [3, 1]},
    }
    assert a == {"device": {"ios": [1, 1]}}
    assert attribute_sums.add_texts("{}", attribute_sums.dumps(b)) == attribute_sums.dumps(b)
    assert attribute_sums.add_texts(None, "{}") is None


@pytest.fixture
def user(owner) -> EndUser:
    user = EndUserFactory(tenant=owner.tenant)
    assert isinstance(user, EndUser)
    return user


# (value, attributes) of one day's events: whole and fractional values, values of one
# attribute that recur, events without attributes, a sum that comes out whole.
EVENTS: list[tuple[int | Decimal, dict[str, str]]] = [
    (Decimal("1.25"), {"device": "ios", "plan": "pro"}),
    (3, {"device": "web"}),
    (Decimal("1.75"), {"device": "ios"}),
    (Decimal("0.1"), {}),
    (Decimal("0.1"), {"plan": "pro"}),
    (Decimal("0.2"), {"plan": "pro", "device": "web"}),
]
EXPECTED = {
    "device": {"ios": [3, 2], "web": [Decimal("3.2"), 2]},
    "plan": {"pro": [Decimal("1.55"), 3]},
}


def stored(user: EndUser) -> tuple[dict, str]:
    """The row's sums, decoded and as the database holds their text."""
    rollup = DailyRollup.objects.get(user=user)
    with connection.cursor() as cursor:
        cast = "::text" if connection.vendor == "postgresql" else ""
        cursor.execute(
            f"SELECT by_attribute{cast} FROM events_dailyrollup WHERE id = %s", [rollup.pk]
        )
        (text,) = cursor.fetchone()
    return rollup.by_attribute, text


@pytest.mark.parametrize("one_at_a_time", [False, True], ids=["summed in Python", "in SQL"])
def test_a_days_events_give_exact_sums_per_attribute_value(owner, words, user, one_at_a_time):
    rows = [(user.pk, words.pk, DAY, value, attrs) for value, attrs in EVENTS]
    for part in [[row] for row in rows] if one_at_a_time else [rows]:
        apply_contributions(owner.tenant.pk, part)

    sums, text = stored(user)
    assert sums == EXPECTED
    # A whole sum is an integer, a fraction carries no trailing zeros: the text is the
    # same whichever side added the values up.
    assert isinstance(sums["device"]["ios"][0], int)
    assert str(sums["plan"]["pro"][0]) == "1.55"
    assert "3.0" not in text and "1.550" not in text
    assert DailyRollup.objects.get(user=user).total == sum(value for value, _ in EVENTS)


def test_events_without_attributes_leave_the_sums_empty(owner, words, user):
    apply_contributions(owner.tenant.pk, [(user.pk, words.pk, DAY, 5, {})])
    apply_contributions(owner.tenant.pk, [(user.pk, words.pk, DAY, 5, {})])

    assert stored(user)[0] == {}


def test_key_path_lookups_encode_their_values(owner, words, user):
    """Django sends a lookup's value through the field's encoder too: plain JSON, not
    only the column's own shape."""
    apply_contributions(owner.tenant.pk, [(user.pk, words.pk, DAY, 2, {"device": "ios"})])

    rollups = DailyRollup.objects.filter(user=user)
    assert rollups.filter(by_attribute__device__ios=[2, 1]).count() == 1
    assert rollups.filter(by_attribute__device__ios=[3, 1]).count() == 0
    assert rollups.filter(by_attribute__device__has_key="ios").count() == 1


def test_the_encoder_writes_any_json_exactly_and_honours_ensure_ascii():
    encoder = attribute_sums.Encoder
    # a column value: the same text as the bulk writes' `dumps`
    sums: attribute_sums.AttributeSums = {"é": {"x": [Decimal("0.50"), 2], 'q"': [7, 1]}}
    assert json.dumps(sums, cls=encoder) == attribute_sums.dumps(sums)
    assert json.dumps([Decimal("1.50"), 2, None, True], cls=encoder) == "[1.5,2,null,true]"
    assert json.dumps({"é": {"x": [1, 1]}}, cls=encoder) == '{"\\u00e9":{"x":[1,1]}}'
    assert json.dumps({"é": {"x": [1, 1]}}, cls=encoder, ensure_ascii=False) == '{"é":{"x":[1,1]}}'


@pytest.mark.postgres
def test_the_postgresql_function_adds_like_python_on_random_events(db):
    """Folding events one by one (and chunk by chunk) through the database's function
    gives the numbers Python's `add` gives: whole, fractional, negative, tiny and
    large values, recurring and new keys and values."""
    rng = random.Random(11)
    values: list[Callable[[], int | Decimal]] = [
        lambda: rng.randint(0, 1000),
        lambda: Decimal(rng.randint(0, 10**7)) / 10**6,
        lambda: Decimal(rng.randint(1, 9)) / 10**6,
        lambda: Decimal(rng.randint(0, 10**18)) / 10**6,
        lambda: -Decimal(rng.randint(0, 10**7)) / 10**6,
    ]
    with connection.cursor() as cursor:
        for _case in range(100):
            expected: attribute_sums.AttributeSums = {}
            folded = chunked = "{}"
            chunk: attribute_sums.AttributeSums = {}
            for _event in range(rng.randint(1, 12)):
                value = compact(to_decimal(rng.choice(values)()))
                attributes = {rng.choice("abc"): rng.choice(["x", "y", "é", 'q"t']) for _ in "ab"}
                one: attribute_sums.AttributeSums = {}
                for sums in (one, expected, chunk):
                    attribute_sums.accumulate(sums, attributes, value)
                cursor.execute(
                    f"SELECT {attribute_sums.ADD_FUNCTION}(%s::jsonb, %s::jsonb)::text",
                    [folded, attribute_sums.dumps(one)],
                )
                (folded,) = cursor.fetchone()
                if rng.random() < 0.3:
                    cursor.execute(
                        f"SELECT {attribute_sums.ADD_FUNCTION}(%s::jsonb, %s::jsonb)::text",
                        [chunked, attribute_sums.dumps(chunk)],
                    )
                    (chunked,) = cursor.fetchone()
                    chunk = {}
            cursor.execute(
                f"SELECT {attribute_sums.ADD_FUNCTION}(%s::jsonb, %s::jsonb)::text, %s::jsonb::text",
                [chunked, attribute_sums.dumps(chunk), attribute_sums.dumps(expected)],
            )
            chunked, expected_text = cursor.fetchone()
            assert folded == chunked == expected_text
            assert attribute_sums.loads(folded) == expected
