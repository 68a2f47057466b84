"""GET /v1/users/{id}/wrapped (SEMANTICS A4) through both official SDKs against a live
server, on the reference dataset of tests/wrapped/reference.py.

The Python SDK (`trophy`) and the Node SDK (`@trophyso/node`, node/run.mjs) must parse
every Wrapped body into their own types (SEMANTICS A6); every raw body is also checked
against Trophy's `WrappedResponse` (conftest.Recorder and node_sdk.NodeSdk do it for each
response, and the tests check it explicitly), and every error is Trophy's error body
with nothing else (A5). The values asserted are the hand-worked ones of
tests/wrapped/test_reference.py, so a field the SDK dropped or could not parse fails.

Time: `load_reference` sends its events in-process, travelling to its NOW (15 January
2026) only while it does. The live server then answers at the real date, as in the other
contract tests: 2025 is a past year, and every event of the dataset is in the past.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any, cast
from zoneinfo import ZoneInfo

import httpx
import pytest
import time_machine
import yaml
from pydantic import BaseModel
from rest_framework.test import APIClient
from trophy import NotFoundError, UnauthorizedError, UnprocessableEntityError, WrappedResponse

from events.models import Tenant
from tests.conftest import Account
from tests.wrapped.reference import load_reference

from .conftest import Recorder
from .node_sdk import NodeSdk, Outcome
from .trophy_schema import assert_component, assert_response_conforms, schema_errors

pytestmark = pytest.mark.django_db(transaction=True)

YEAR = 2025  # the reference dataset's year
PATH = "/v1/users/{}/wrapped"
HONOLULU = ZoneInfo("Pacific/Honolulu")  # ann's time zone


@pytest.fixture
def reference(owner: Account, api: APIClient) -> Account:
    """The owner organization (default tenant) holding the reference dataset."""
    assert datetime.now(UTC).year > YEAR, "the reference year must be in the past"
    load_reference(api, owner.tenant)
    return owner


@pytest.fixture
def eu(owner: Account) -> Tenant:
    """A second tenant of the owner's organization, with one user of its own, "eve"."""
    tenant = Tenant.objects.create(organization=owner.organization, customer_id="eu", name="EU")
    created = owner.client(tenant_id="eu").put("/v1/users/eve", {"tz": "UTC"}, format="json")
    assert created.status_code in (200, 201), created.json()
    return tenant


def next_year_for(zone: ZoneInfo) -> int:
    """The first year that is still in the future in `zone`."""
    return datetime.now(zone).year + 1


def assert_error_only(body: Any) -> str:
    """Trophy's error body and nothing else: `{"error": "<message>"}`. Returns the message."""
    assert isinstance(body, dict) and set(body) == {"error"}, body
    assert isinstance(body["error"], str) and body["error"], body
    return body["error"]


def extra_keys(model: Any, where: str = "") -> list[str]:
    """Keys of the body that no field of the SDK's models took (they allow extras): a
    misspelt optional key would otherwise parse silently as absent."""
    if isinstance(model, BaseModel):
        found = [f"{where}/{key}" for key in model.model_extra or {}]
        for name in type(model).model_fields:
            found += extra_keys(getattr(model, name), f"{where}/{name}")
        return found
    if isinstance(model, dict):
        return [k for key, value in model.items() for k in extra_keys(value, f"{where}/{key}")]
    if isinstance(model, list):
        return [k for i, value in enumerate(model) for k in extra_keys(value, f"{where}/{i}")]
    return []


# --- Python SDK: bodies it parses ----------------------------------------------------------


def test_python_sdk_parses_a_rich_wrapped(trophy, recorder: Recorder, reference):
    wrapped = trophy.users.wrapped(id="ann", year=YEAR)

    assert recorder.last.status == 200 and recorder.last.path == PATH.format("ann")
    assert isinstance(wrapped, WrappedResponse)
    assert extra_keys(wrapped) == []
    assert (wrapped.user.id, wrapped.user.tz, wrapped.user.control) == (
        "ann",
        "Pacific/Honolulu",
        False,
    )
    activity = wrapped.activity
    assert (activity.days_active, activity.weeks_active, activity.months_active) == (8, 4, 4)

    day = activity.most_active_day
    assert day.date == "2025-03-11"
    assert day.metrics["words"].percentile_this_period is None  # never for a day
    assert day.metrics["words"].percent_change == 17.8
    assert day.metrics["lessons"].units is None
    assert (activity.most_active_week.start, activity.most_active_week.end) == (
        "2024-12-30",
        "2025-01-05",
    )

    month = activity.most_active_month
    assert month.month == 2  # March, 0-based
    words = month.metrics["words"]
    assert (words.current_total, words.change_this_period, words.percent_change) == (
        1650,
        450,
        37.5,
    )
    assert words.percentile_this_period == 40
    ios, web = words.by_attribute["device"]["ios"], words.by_attribute["device"]["web"]
    assert (ios.name, ios.units, ios.percent_change, ios.percentile_this_period) == (
        "Words written",
        "words",
        17.6,
        50,
    )
    assert web.percentile_this_period is None  # a population below the minimum

    year = activity.entire_year
    assert year.metrics["words"].percentile_this_period == 67
    assert year.metrics["words"].by_attribute["device"]["ios"].current_total == 1330
    assert (year.points, year.achievements, year.leaderboards) == ({}, [], {})
    streak = year.longest_streak
    assert (streak.length, streak.frequency) == (3, "daily")
    assert (streak.period_start, streak.period_end, streak.started) == (
        "2025-01-01",
        "2025-01-03",
        "2024-12-30",
    )


def test_python_sdk_parses_the_wrapped_of_a_user_without_events(
    trophy, recorder: Recorder, reference
):
    wrapped = trophy.users.wrapped(id="zed", year=YEAR)

    assert recorder.last.status == 200
    assert extra_keys(wrapped) == []
    activity = wrapped.activity
    assert (activity.days_active, activity.weeks_active, activity.months_active) == (0, 0, 0)
    assert activity.most_active_day.date == "2025-01-01"
    assert (activity.most_active_week.start, activity.most_active_week.end) == (
        "2024-12-30",
        "2025-01-05",
    )
    assert activity.most_active_month.month == 0
    for period in (
        activity.most_active_day,
        activity.most_active_week,
        activity.most_active_month,
        activity.entire_year,
    ):
        assert (period.metrics, period.points, period.achievements, period.leaderboards) == (
            {},
            {},
            [],
            {},
        )
    streak = activity.entire_year.longest_streak
    assert (streak.length, streak.frequency) == (0, "daily")
    assert (streak.period_start, streak.period_end, streak.started) == (None, None, None)
    body = recorder.last.body
    assert isinstance(body, dict)
    # Null on the wire, not absent: OpenAPI requires the three keys (nullable).
    assert body["activity"]["entireYear"]["longestStreak"]["started"] is None


def test_python_sdk_without_year_gets_the_recap_of_the_current_year(
    trophy, recorder: Recorder, reference
):
    # Which year is current in the user's time zone (around New Year) is tested in-process,
    # with the clock moved: test_the_current_year_is_the_users_own.
    implicit = trophy.users.wrapped(id="ann")
    explicit = trophy.users.wrapped(id="ann", year=datetime.now(HONOLULU).year)

    assert [e.status for e in recorder.exchanges] == [200, 200]
    assert implicit.activity == explicit.activity
    assert recorder.exchanges[0].body == recorder.exchanges[1].body


# --- every body against Trophy's WrappedResponse -------------------------------------------


def test_every_reference_wrapped_body_is_a_valid_wrapped_response(
    trophy, recorder: Recorder, reference
):
    requests = [("ann", YEAR), ("kai", YEAR), ("zed", YEAR), ("p1", YEAR), ("p1", 2024)]
    for user, year in requests:
        trophy.users.wrapped(id=user, year=year)
        assert recorder.last.status == 200, (user, year, recorder.last.body)
        assert_component(recorder.last.body, "WrappedResponse")

    # Beyond their shape, a spot check of what they say (test_reference.py's values).
    bodies: dict[str, Any] = {
        f"{user}/{year}": e.body
        for (user, year), e in zip(requests, recorder.exchanges, strict=True)
    }
    assert bodies["kai/2025"]["activity"]["entireYear"]["metrics"]["words"] == {
        "name": "Words written",
        "units": "words",
        "currentTotal": 49,
        "changeThisPeriod": 40,
        "percentChange": 444.4,
        "percentileThisPeriod": 0,
        "byAttribute": {
            "device": {
                "web": {
                    "name": "Words written",
                    "units": "words",
                    "currentTotal": 40,
                    "changeThisPeriod": 40,
                    "percentChange": 100,
                }
            }
        },
    }
    assert bodies["p1/2025"]["activity"]["mostActiveMonth"]["month"] == 2
    assert bodies["p1/2024"]["activity"]["entireYear"]["metrics"] == {}


BROKEN: list[tuple[str, Callable[[dict[str, Any]], object]]] = [
    ("month 12", lambda body: body["activity"]["mostActiveMonth"].update(month=12)),
    (
        "a null percentile",
        lambda body: body["activity"]["entireYear"]["metrics"]["words"].update(
            percentileThisPeriod=None
        ),
    ),
    (
        "a date-time as a date",
        lambda body: body["activity"]["entireYear"]["longestStreak"].update(
            started="2024-12-30T00:00:00Z"
        ),
    ),
    (
        "no byAttribute",
        lambda body: body["activity"]["mostActiveDay"]["metrics"]["words"].pop("byAttribute"),
    ),
    ("no longestStreak", lambda body: body["activity"]["entireYear"].pop("longestStreak")),
    (
        "achievements null",
        lambda body: body["activity"]["mostActiveWeek"].update(achievements=None),
    ),
    ("a string count", lambda body: body["activity"].update(daysActive="8")),
    ("no user.control", lambda body: body["user"].pop("control")),
]


def test_the_schema_check_rejects_broken_wrapped_bodies(api: APIClient, reference):
    # Otherwise the checks above could pass vacuously.
    response = api.get(PATH.format("ann"), {"year": YEAR})
    assert response.status_code == 200
    good = response.json()
    assert_component(good, "WrappedResponse")

    for name, breaking in BROKEN:
        body = copy.deepcopy(good)
        breaking(body)
        problems = schema_errors(
            body, {"$ref": "#/components/schemas/WrappedResponse"}, "application"
        )
        assert problems, f"the schema check accepted a WrappedResponse with {name}"


# --- Python SDK: errors --------------------------------------------------------------------


@pytest.fixture
def raw_http(live_server: Any, recorder: Recorder) -> Iterator[httpx.Client]:
    """A plain HTTP client for the live server (no SDK: it always sends a key), whose
    responses are recorded and validated like the SDK's."""
    with httpx.Client(
        base_url=live_server.url, timeout=30, event_hooks={"response": [recorder.hook]}
    ) as client:
        yield client


def test_no_api_key_is_401(raw_http: httpx.Client, recorder: Recorder, reference):
    raw_http.get(PATH.format("ann"), params={"year": YEAR})

    assert recorder.last.status == 401
    assert "API key" in assert_error_only(recorder.last.body)


def test_wrong_api_key_is_401(sdk_factory, recorder: Recorder, reference):
    prefix = reference.key.split(".")[0]
    bad = sdk_factory(prefix + ".not-the-right-body-at-all-000000000000")

    with pytest.raises(UnauthorizedError) as caught:
        bad.users.wrapped(id="ann", year=YEAR)

    assert recorder.last.status == 401
    assert_error_only(caught.value.body)


def test_unknown_user_is_404(trophy, recorder: Recorder, reference):
    with pytest.raises(NotFoundError) as caught:
        trophy.users.wrapped(id="ghost", year=YEAR)

    assert recorder.last.status == 404
    assert "ghost" in assert_error_only(caught.value.body)


def test_another_organizations_user_is_404(sdk_factory, recorder: Recorder, reference, outsider):
    other = sdk_factory(outsider.key)

    with pytest.raises(NotFoundError) as caught:
        other.users.wrapped(id="ann", year=YEAR)

    assert recorder.last.status == 404
    assert_error_only(caught.value.body)


def test_another_tenants_user_is_404_through_the_tenant_id_header(
    sdk_factory, recorder: Recorder, reference, eu
):
    in_eu = sdk_factory(reference.key, tenant_id="eu")
    default = sdk_factory(reference.key)

    assert in_eu.users.wrapped(id="eve", year=YEAR).user.id == "eve"  # the header works
    with pytest.raises(NotFoundError) as from_eu:
        in_eu.users.wrapped(id="ann", year=YEAR)
    with pytest.raises(NotFoundError) as from_default:
        default.users.wrapped(id="eve", year=YEAR)

    assert [e.status for e in recorder.exchanges] == [200, 404, 404]
    assert_error_only(from_eu.value.body)
    assert_error_only(from_default.value.body)


# Sent as the SDK sends them: `str(year)` in the query string.
BAD_YEARS: list[Any] = [0, -1, "abc", "2024.5"]


@pytest.mark.parametrize("year", [*BAD_YEARS, "next year"])
def test_invalid_year_is_422(trophy, recorder: Recorder, reference, year):
    if year == "next year":
        year = next_year_for(HONOLULU)

    with pytest.raises(UnprocessableEntityError) as caught:
        trophy.users.wrapped(id="ann", year=cast(int, year))

    assert recorder.last.status == 422
    assert "year" in assert_error_only(caught.value.body)


def test_the_current_year_is_the_users_own(api: APIClient, reference):
    # At noon UTC on 31 December 2026 it is already 2027 in Tonga (kai) but still 2026 in
    # Honolulu (ann) and in UTC (zed). In-process: the live server's thread would not
    # travel with this one reliably.
    with time_machine.travel(datetime(2026, 12, 31, 12, tzinfo=UTC), tick=False):
        kai = api.get(PATH.format("kai"), {"year": 2027})
        kai_default = api.get(PATH.format("kai"))
        ann = api.get(PATH.format("ann"), {"year": 2027})
        zed = api.get(PATH.format("zed"), {"year": 2027})

    assert (kai.status_code, kai_default.status_code) == (200, 200), kai.content
    assert kai.json() == kai_default.json()
    assert kai.json()["activity"]["mostActiveDay"]["date"] == "2027-01-01"
    for response in (kai, kai_default):
        assert_response_conforms("GET", PATH.format("kai"), 200, response.json())
    for user, response in (("ann", ann), ("zed", zed)):
        assert response.status_code == 422, response.content
        assert_response_conforms("GET", PATH.format(user), 422, response.json())
        assert "2026" in assert_error_only(response.json())


# --- Node SDK ------------------------------------------------------------------------------


def without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: without_nulls(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [without_nulls(item) for item in value]
    return value


def assert_node_error(outcome: Outcome, error_class: str, status: int) -> str:
    """The typed error the Node SDK raised (it parsed the body as ErrorBody), with a body
    that is Trophy's error and nothing else."""
    assert (outcome.error_class, outcome.status_code) == (error_class, status), outcome.describe()
    (exchange,) = outcome.exchanges
    assert exchange.status == status
    assert_error_only(exchange.body)
    return assert_error_only(outcome.body)


def test_node_sdk_parses_a_rich_wrapped_and_one_without_events(node: NodeSdk, reference):
    ann, zed = node.run(
        ("users.wrapped", "ann", {"year": YEAR}), ("users.wrapped", "zed", {"year": YEAR})
    )

    assert ann.ok and zed.ok, ann.describe() + "\n" + zed.describe()
    assert [e.status for e in node.exchanges] == [200, 200]
    assert [e.path for e in node.exchanges] == [PATH.format("ann"), PATH.format("zed")]
    for outcome in (ann, zed):
        assert_component(outcome.exchanges[-1].body, "WrappedResponse")
        # The SDK parsed the user's dates into Dates (serialized back as ISO strings).
        assert datetime.fromisoformat(outcome.value["user"]["created"]).tzinfo is not None

    activity = ann.value["activity"]
    assert (activity["daysActive"], activity["weeksActive"], activity["monthsActive"]) == (8, 4, 4)
    assert activity["mostActiveDay"]["date"] == "2025-03-11"
    assert "percentileThisPeriod" not in activity["mostActiveDay"]["metrics"]["words"]
    assert activity["mostActiveMonth"]["month"] == 2
    words = activity["mostActiveMonth"]["metrics"]["words"]
    assert words["percentileThisPeriod"] == 40
    assert words["byAttribute"]["device"]["ios"]["percentileThisPeriod"] == 50
    assert activity["entireYear"]["metrics"]["words"]["percentileThisPeriod"] == 67
    assert activity["entireYear"]["longestStreak"] == {
        "length": 3,
        "frequency": "daily",
        "periodStart": "2025-01-01",
        "periodEnd": "2025-01-03",
        "started": "2024-12-30",
    }
    # Nothing of the activity was lost or changed in parsing (Node drops an optional
    # field's null, such as the units of "lessons").
    assert activity == without_nulls(ann.exchanges[-1].body["activity"])

    empty = zed.value["activity"]
    assert (empty["daysActive"], empty["mostActiveMonth"]["month"]) == (0, 0)
    assert empty["entireYear"]["metrics"] == {} and empty["entireYear"]["achievements"] == []
    streak = empty["entireYear"]["longestStreak"]
    assert (streak["length"], streak["frequency"]) == (0, "daily")
    # Optional in Node: null parses (to null or absent), it is not a ParseError.
    assert all(streak.get(key) is None for key in ("periodStart", "periodEnd", "started"))


def test_node_sdk_parses_every_reference_wrapped(node: NodeSdk, reference):
    outcomes = node.run(
        ("users.wrapped", "kai", {"year": YEAR}),
        ("users.wrapped", "p1", {"year": YEAR}),
        ("users.wrapped", "p1", {"year": 2024}),
        ("users.wrapped", "ann", {}),  # the current year
    )

    for outcome in outcomes:
        assert outcome.ok, outcome.describe()
        assert_component(outcome.exchanges[-1].body, "WrappedResponse")
    kai = outcomes[0].value["activity"]
    assert kai["entireYear"]["metrics"]["words"]["percentileThisPeriod"] == 0
    assert kai["entireYear"]["longestStreak"]["started"] == "2024-12-31"


def test_node_sdk_errors(node: NodeSdk, node_factory, reference, outsider: Account, eu):
    prefix = reference.key.split(".")[0]
    bad_key = node_factory(prefix + ".not-the-right-body-at-all-000000000000")
    in_eu = node_factory(reference.key, tenant_id="eu")

    (unauthorized,) = bad_key.run(("users.wrapped", "ann", {"year": YEAR}))
    (foreign,) = node_factory(outsider.key).run(("users.wrapped", "ann", {"year": YEAR}))
    eve, ann_from_eu = in_eu.run(
        ("users.wrapped", "eve", {"year": YEAR}), ("users.wrapped", "ann", {"year": YEAR})
    )
    ghost, eve_from_default, *bad_years = node.run(
        ("users.wrapped", "ghost", {"year": YEAR}),
        ("users.wrapped", "eve", {"year": YEAR}),
        *[
            ("users.wrapped", "ann", {"year": year})
            for year in [*BAD_YEARS, next_year_for(HONOLULU)]
        ],
    )

    assert_node_error(unauthorized, "UnauthorizedError", 401)
    assert eve.ok and eve.value["user"]["id"] == "eve", eve.describe()  # the header works
    for outcome in (foreign, ann_from_eu, ghost, eve_from_default):
        assert_node_error(outcome, "NotFoundError", 404)
    assert [e.path for e in bad_years[0].exchanges] == [PATH.format("ann")]
    for outcome in bad_years:
        assert "year" in assert_node_error(outcome, "UnprocessableEntityError", 422)


# --- the project's own schema ----------------------------------------------------------------


def test_the_projects_schema_documents_the_operation_for_schemathesis(api: APIClient):
    # test_schemathesis.py tests every operation of /api/schema/: this one must be there.
    response = api.get("/api/schema/?format=json")
    assert response.status_code == 200
    operation = yaml.safe_load(response.content)["paths"]["/v1/users/{user_id}/wrapped"]["get"]
    assert operation["operationId"] == "users_wrapped"
    assert "year" in [p["name"] for p in operation["parameters"]]
    assert {"200", "404", "422"} <= set(operation["responses"])
