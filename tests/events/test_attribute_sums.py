"""The daily rollup's sums per event-attribute value (`events/attribute_sums.py`): exact,
written the same way whether Python adds them up (many events at once) or the database
does (one event after another, with the upsert's function), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.db import connection

from events import attribute_sums
from events.models import DailyRollup, EndUser
from events.services.derived import apply_contributions
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
