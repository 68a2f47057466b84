"""Input at the edges: no input produces a 500, a refused request changes nothing, and
what is accepted is stored as it was sent (SEMANTICS A2, A5). Each case was once a bug."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django.test import Client

from events.api.import_lines import import_lines
from events.models import Attribute, EndUser, Event, EventBatch, MetricTotal, Tenant
from tests.factories import AttributeFactory

EVENT_URL = "/v1/metrics/words/event"
BATCH_URL = "/admin-api/v1/metrics/events"


def raw(client, method: str, url: str, body: str):
    """Send `body` as the JSON text it is (not re-encoded by the test client)."""
    return getattr(client, method)(url, body, content_type="application/json")


def assert_error(response, status: int, fragment: str = "") -> None:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"} and isinstance(body["error"], str) and body["error"]
    assert fragment in body["error"], body["error"]


# --- timestamps before the calendar ---------------------------------------------------


EARLY = "0001-01-01T00:00:00Z"  # before year 1 in America/New_York


def test_a_timestamp_with_no_local_date_is_422_on_the_event_path(api, words):
    body = {"user": {"id": "ann", "tz": "America/New_York"}, "value": 1, "timestamp": EARLY}

    response = api.post(EVENT_URL, body, format="json")

    assert_error(response, 422, "timestamp: must be on or after 0001-01-02T00:00:00Z")
    assert not EndUser.objects.exists() and not Event.objects.exists()


def test_the_earliest_timestamp_is_accepted_in_every_time_zone(api, words):
    for tz in ("America/New_York", "Pacific/Kiritimati", "Pacific/Pago_Pago"):
        body = {"user": {"id": tz, "tz": tz}, "value": 1, "timestamp": "0001-01-02T00:00:00Z"}
        assert api.post(EVENT_URL, body, format="json").status_code == 201, tz


def test_a_batch_item_with_such_a_timestamp_refuses_the_batch_naming_the_item(api, words):
    items = [
        {"key": "words", "user": {"id": "ann"}, "value": 1},
        {
            "key": "words",
            "user": {"id": "ann", "tz": "America/New_York"},
            "value": 1,
            "timestamp": EARLY,
        },
    ]

    response = api.post(BATCH_URL, items, format="json")

    assert_error(response, 422, "[1].timestamp")
    assert not EventBatch.objects.exists()


def test_an_import_line_with_such_a_timestamp_is_one_invalid_line(owner, words):
    lines = [
        json.dumps({"key": "words", "user": {"id": "ann"}, "value": 1, "timestamp": EARLY}),
        json.dumps({"key": "words", "user": {"id": "ann"}, "value": 2}),
    ]

    result = import_lines(tenant=owner.tenant, lines=lines)

    assert (result.imported, result.invalid) == (1, 1)
    assert result.errors[0].line == 1 and "timestamp" in result.errors[0].message


# --- the end of the calendar -----------------------------------------------------------


@pytest.mark.parametrize("aggregation", ["daily", "weekly", "monthly"])
def test_an_event_summary_reaching_the_last_day_of_the_calendar(api, words, aggregation):
    assert (
        api.post(EVENT_URL, {"user": {"id": "ann"}, "value": 3}, format="json").status_code == 201
    )
    url = "/v1/users/ann/metrics/words/event-summary"

    response = api.get(
        url, {"aggregation": aggregation, "startDate": "9999-11-01", "endDate": "9999-12-31"}
    )

    assert response.status_code == 200, response.json()
    buckets = response.json()
    assert buckets[-1]["date"] <= "9999-12-31" and all(b["total"] == 3 for b in buckets)
    assert len(buckets) == {"daily": 61, "weekly": 9, "monthly": 2}[aggregation]


# --- bodies nested deeper than the parser recurses ---------------------------------------

NESTED = "[" * 100_000 + "]" * 100_000


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("post", EVENT_URL),
        ("post", "/v1/users"),
        ("put", "/v1/users/ann"),
        ("patch", "/v1/users/ann"),
        ("patch", "/v1/users/ann/preferences"),
        ("post", "/admin-api/v1/attributes"),
        ("patch", "/admin-api/v1/metrics"),
        ("post", "/admin-api/v1/tenants"),
        ("post", BATCH_URL),
    ],
)
def test_a_deeply_nested_body_is_400_on_every_json_endpoint(api, words, method, url):
    assert_error(raw(api, method, url, NESTED), 400, "Malformed request body")
    assert not EndUser.objects.exists() and not Attribute.objects.exists()


def test_a_deeply_nested_import_line_is_one_invalid_line(owner, words):
    lines = [NESTED, json.dumps({"key": "words", "user": {"id": "ann"}, "value": 2})]

    result = import_lines(tenant=owner.tenant, lines=lines)

    assert (result.imported, result.invalid) == (1, 1)
    assert "nests too deeply" in result.errors[0].message


# --- NUL bytes and over-long ids in paths ------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "/v1/users/a%00b",
        "/v1/users/a%00b/metrics",
        "/v1/users/a%00b/metrics/words",
        "/v1/users/ann/metrics/w%00rds/event-summary?aggregation=daily",
        "/v1/metrics/w%00rds/event",
        "/admin-api/v1/attributes/a%00b",
        "/admin-api/v1/tenants/a%00b",
    ],
)
def test_a_nul_byte_in_a_path_id_is_a_404(api, words, url):
    assert_error(api.get(url), 404)
    assert_error(api.put(url, {}, format="json"), 404)


def test_put_with_an_id_longer_than_255_is_400_and_creates_nothing(api):
    response = api.put("/v1/users/" + "x" * 256, {"name": "Ann"}, format="json")

    assert_error(response, 400, "id: Ensure this field has no more than 255 characters.")
    assert not EndUser.objects.exists()
    assert api.put("/v1/users/" + "x" * 255, {}, format="json").status_code == 200


# --- what was sent is what is stored -----------------------------------------------------


def test_ids_values_and_keys_keep_their_surrounding_spaces(api, owner, words):
    AttributeFactory(tenant=owner.tenant, key="device", type="event")
    body = {"user": {"id": "  sp "}, "value": 1, "attributes": {"device": " ios "}}

    first = api.post(EVENT_URL, body, format="json", HTTP_IDEMPOTENCY_KEY=" k ")
    again = api.post(EVENT_URL, body, format="json", HTTP_IDEMPOTENCY_KEY=" k ")
    other = api.post(EVENT_URL, body, format="json", HTTP_IDEMPOTENCY_KEY="k")

    assert (first.status_code, again.status_code, other.status_code) == (201, 202, 201)
    event = Event.objects.order_by("timestamp", "id").first()
    assert event is not None
    assert (event.user.external_id, event.attributes, event.idempotency_key) == (
        "  sp ",
        {"device": " ios "},
        " k ",
    )
    found = api.get("/v1/users/%20%20sp%20")
    assert found.status_code == 200 and found.json()["id"] == "  sp "
    assert api.get("/v1/users/sp").status_code == 404


def test_batch_and_import_keys_keep_their_spaces_too(api, owner, words):
    item = {"key": "words", "user": {"id": " b "}, "value": 1, "idempotencyKey": " k "}

    assert api.post(BATCH_URL, [item], format="json").status_code == 202
    import_lines(tenant=owner.tenant, lines=[json.dumps({**item, "user": {"id": " i "}})])

    assert EventBatch.objects.get().items[0]["user"]["id"] == " b "
    assert EventBatch.objects.get().items[0]["idempotencyKey"] == " k "
    assert Event.objects.get(user__external_id=" i ").idempotency_key == " k "


# --- time zones: IANA names only ----------------------------------------------------------


@pytest.mark.parametrize("name", ["localtime", "posixrules", "Nowhere/City"])
def test_a_name_that_is_not_an_iana_zone_is_refused(api, words, name):
    assert_error(api.put("/v1/users/ann", {"tz": name}, format="json"), 400, "tz")
    body = {"user": {"id": "bob", "tz": name}, "value": 1}
    assert_error(api.post(EVENT_URL, body, format="json"), 400, "user.tz")
    assert not EndUser.objects.exists()


def test_the_django_admin_refuses_localtime_as_a_tenants_time_zone(admin_client, owner):
    tenant = owner.tenant
    response = admin_client.post(
        f"/admin/events/tenant/{tenant.pk}/change/",
        {"customer_id": tenant.customer_id, "name": tenant.name, "default_timezone": "localtime"},
    )

    assert response.status_code == 200  # the form again, with its error
    assert "is not a valid IANA time zone name" in response.content.decode()
    assert Tenant.objects.get(pk=tenant.pk).default_timezone == "UTC"


# --- numbers ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "status", "fragment"),
    [
        ("0.0000001", 422, "value: must have at most 6 decimal places."),
        ("1e400", 422, "value: must be between -1e12 and 1e12."),
        ("1e1000000", 422, "value: must be between -1e12 and 1e12."),
        ("1e-1000000", 422, "value: must have at most 6 decimal places."),
        ("-1e400", 422, "value: must be between -1e12 and 1e12."),
        ("1e13", 422, "value: must be between -1e12 and 1e12."),
        ("NaN", 400, "Malformed request body"),
        ("Infinity", 400, "Malformed request body"),
    ],
)
def test_values_out_of_range_or_precision_are_refused(api, words, text, status, fragment):
    response = raw(api, "post", EVENT_URL, f'{{"user": {{"id": "ann"}}, "value": {text}}}')

    assert_error(response, status, fragment)
    assert not Event.objects.exists()


def test_a_huge_exponent_is_refused_in_a_batch_and_an_import_too(api, owner, words):
    text = '{"key": "words", "user": {"id": "ann"}, "value": 1e1000000}'

    assert_error(raw(api, "post", BATCH_URL, f"[{text}]"), 422, "[0].value")
    result = import_lines(tenant=owner.tenant, lines=[text, text.replace("1e1000000", "2")])

    assert (result.imported, result.invalid) == (1, 1)
    assert "value: must be between" in result.errors[0].message


def test_values_are_stored_exactly_as_written(api, words):
    for text in ("1.5000000", "0.000001", "999999999999.999999", "1E+3"):
        response = raw(api, "post", EVENT_URL, f'{{"user": {{"id": "ann"}}, "value": {text}}}')
        assert response.status_code == 201, (text, response.json())

    total = MetricTotal.objects.get().total
    assert total == Decimal("1.5") + Decimal("0.000001") + Decimal("999999999999.999999") + 1000


# --- unknown API paths with DEBUG on ---------------------------------------------------------


@pytest.mark.parametrize(
    "url", ["/v1/nothing-here", "/v1/users/ann/elsewhere", "/admin-api/v1/nothing/here"]
)
def test_unknown_api_paths_answer_json_even_with_debug_on(settings, owner, url):
    settings.DEBUG = True
    client = Client(HTTP_X_API_KEY=owner.key)

    for method in ("get", "post", "delete"):
        response = getattr(client, method)(url)
        assert response.status_code == 404, (method, url)
        assert response["Content-Type"] == "application/json"
        assert response.json() == {"error": "Not found"}
