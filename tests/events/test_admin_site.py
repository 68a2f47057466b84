"""The Django admin at /admin/: every page loads, keys are shown once and only hashed,
configuration edits reach the API at once, and the event log is read-only and not N+1."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.apps import apps as django_apps
from django.contrib import admin
from django.contrib.admin.models import LogEntry
from django.db import connection
from django.db.models import Model
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from events.admin import as_written
from events.models import (
    ApiKey,
    Attribute,
    DailyRollup,
    EndUser,
    Event,
    EventBatch,
    Metric,
    MetricTotal,
    Organization,
    Tenant,
)
from events.models.tenancy import hash_key_body
from tests.factories import AttributeFactory, EndUserFactory

EVENT_URL = "/v1/metrics/{}/event"
SECRET = re.compile(r'<code class="api-key-secret">([^<]+)</code>')


def admin_url(model: type[Model], view: str, *args: object) -> str:
    return reverse(f"admin:events_{model._meta.model_name}_{view}", args=args)


def post_event(client, key: str, user: dict, value: float = 1, **headers):
    return client.post(
        EVENT_URL.format(key), {"user": user, "value": value}, format="json", **headers
    )


def api_client(secret: str):
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_X_API_KEY=secret)
    return client


@pytest.fixture
def populated(owner, api, words):
    """One row of every model, made through the API where the API makes them."""
    AttributeFactory.create(tenant=owner.tenant, key="source", type="event")
    body = {"user": {"id": "ann", "email": "ann@example.com"}, "value": 1}
    response = api.post(
        EVENT_URL.format("words"), {**body, "attributes": {"source": "web"}}, format="json"
    )
    assert response.status_code == 201
    # Two days in a row, then a gap: that run of the streak has ended (a StreakRun).
    for timestamp in ("2026-01-01T12:00:00Z", "2026-01-02T12:00:00Z", "2026-01-04T12:00:00Z"):
        response = api.post(
            EVENT_URL.format("words"), {**body, "timestamp": timestamp}, format="json"
        )
        assert response.status_code == 201
    EventBatch.objects.create(tenant=owner.tenant, items=[{"x": 1}], received_at=timezone.now())
    return owner


def test_every_changelist_and_change_page_loads_for_a_superuser(admin_client, populated):
    registered = [m for m in admin.site._registry if m._meta.app_label == "events"]
    # every model of the events app has an admin
    assert len(registered) == len(list(django_apps.get_app_config("events").get_models())) == 11
    for model in registered:
        response = admin_client.get(admin_url(model, "changelist"))
        assert response.status_code == 200, model
        obj = model._default_manager.first()
        assert obj is not None, model
        response = admin_client.get(admin_url(model, "change", obj.pk))
        assert response.status_code == 200, model
        # Nothing is deleted from the admin: keys are revoked, configuration and tenants
        # archived, and the event log (with everything derived from it) is kept.
        assert admin_client.post(admin_url(model, "delete", obj.pk)).status_code == 403, model


def test_add_pages_load_where_adding_is_allowed(admin_client, db):
    for model in (Organization, Tenant, Metric, Attribute):
        assert admin_client.get(admin_url(model, "add")).status_code == 200, model


def test_user_search_finds_by_trophy_id_and_by_email(admin_client, owner):
    EndUserFactory(tenant=owner.tenant, external_id="learner-42", email="kim@example.com")
    EndUserFactory(tenant=owner.tenant, external_id="someone-else", email="lee@example.com")
    url = admin_url(EndUser, "changelist")

    by_id = admin_client.get(url, {"q": "learner-42"})
    by_email = admin_client.get(url, {"q": "kim@example.com"})

    for response in (by_id, by_email):
        assert response.status_code == 200
        found = [u.external_id for u in response.context["cl"].result_list]
        assert found == ["learner-42"]


def test_event_log_is_read_only(admin_client, populated):
    event = Event.objects.first()
    assert event is not None

    assert admin_client.get(admin_url(Event, "add")).status_code == 403
    assert admin_client.post(admin_url(Event, "add"), {}).status_code == 403
    response = admin_client.post(admin_url(Event, "change", event.pk), {"value": "999"})
    assert response.status_code == 403
    assert (
        admin_client.post(admin_url(Event, "delete", event.pk), {"post": "yes"}).status_code == 403
    )
    changelist = admin_client.get(admin_url(Event, "changelist"))
    assert changelist.context["action_form"] is None  # not even "delete selected"
    assert set(Event.objects.values_list("value", flat=True)) == {Decimal(1)}


def test_event_search_by_user_id_and_idempotency_key(admin_client, owner, api, words):
    post_event(api, "words", {"id": "ann"}, HTTP_IDEMPOTENCY_KEY="retry-7")
    post_event(api, "words", {"id": "bob"})
    url = admin_url(Event, "changelist")

    by_user = admin_client.get(url, {"q": "bob"}).context["cl"].result_list
    by_key = admin_client.get(url, {"q": "retry-7"}).context["cl"].result_list
    by_user_link = admin_client.get(
        url, {"user__id__exact": EndUser.objects.get(external_id="ann").pk}
    )

    assert [e.user.external_id for e in by_user] == ["bob"]
    assert [e.user.external_id for e in by_key] == ["ann"]
    assert [e.user.external_id for e in by_user_link.context["cl"].result_list] == ["ann"]


def test_event_changelist_query_count_does_not_grow_with_rows(admin_client, owner, words):
    other_metric = Metric.objects.create(tenant=owner.tenant, key="minutes", name="Minutes")
    url = admin_url(Event, "changelist")
    now = timezone.now()

    def add_events(n: int) -> None:
        for i in range(n):
            user = EndUser.objects.create(
                tenant=owner.tenant, external_id=f"u{n}-{i}", created=now, updated=now
            )
            Event.objects.create(
                tenant=owner.tenant,
                user=user,
                metric=words if i % 2 else other_metric,
                value=i,
                timestamp=now,
                local_date=now.date(),
                received_at=now,
                idempotency_key=f"k{i}",
            )

    add_events(2)
    admin_client.get(url)  # warm the session and content types
    with CaptureQueriesContext(connection) as few:
        assert admin_client.get(url).status_code == 200
    add_events(30)
    with CaptureQueriesContext(connection) as many:
        response = admin_client.get(url)
    assert response.status_code == 200 and len(response.context["cl"].result_list) == 32
    # session, user, the tenant and metric filters' choices, count, the page (events
    # joined with tenant, user and metric). No date hierarchy: it would scan the log.
    assert len(many) == len(few) == 6, "\n".join(q["sql"][:150] for q in many.captured_queries)


def _create_key_through_admin(admin_client, organization: Organization) -> str:
    url = reverse("admin:events_organization_create_api_key", args=[organization.pk])
    assert admin_client.get(url).status_code == 200
    response = admin_client.post(url, {"name": "ops laptop"})
    assert response.status_code == 200
    (secret,) = SECRET.findall(response.content.decode())
    return secret


def test_create_api_key_shows_a_working_secret_once_and_stores_only_its_hash(
    admin_client, owner, words
):
    secret = _create_key_through_admin(admin_client, owner.organization)

    prefix, body = secret.split(".")
    key = ApiKey.objects.get(prefix=prefix)
    assert key.name == "ops laptop" and key.body_hash == hash_key_body(body)
    assert all(body not in str(v) for v in ApiKey.objects.values_list().get(pk=key.pk))
    # Not left in a message or the session for a later page to show again.
    change_page = admin_client.get(admin_url(Organization, "change", owner.organization.pk))
    assert body not in change_page.content.decode()
    assert body not in str(admin_client.session.items())
    assert post_event(api_client(secret), "words", {"id": "ann"}).status_code == 201


def test_create_api_key_admin_action_creates_one_key_per_selected_organization(
    admin_client, owner, outsider, words
):
    response = admin_client.post(
        admin_url(Organization, "changelist"),
        {
            "action": "create_api_key",
            "_selected_action": [owner.organization.pk, outsider.organization.pk],
        },
    )

    assert response.status_code == 200
    secrets = SECRET.findall(response.content.decode())
    assert len(secrets) == 2 and ApiKey.objects.count() == 4
    owner_secret = next(
        s for s in secrets if ApiKey.objects.get(prefix=s[:8]).organization == owner.organization
    )
    assert post_event(api_client(owner_secret), "words", {"id": "ann"}).status_code == 201


def test_adding_an_organization_creates_its_default_tenant_and_shows_its_key(admin_client, db):
    response = admin_client.post(
        admin_url(Organization, "add"), {"name": "Lingo", "default_timezone": "Europe/Berlin"}
    )

    assert response.status_code == 200
    organization = Organization.objects.get(name="Lingo")
    tenant = organization.default_tenant
    assert tenant is not None
    assert (tenant.customer_id, tenant.default_timezone) == ("default", "Europe/Berlin")
    (secret,) = SECRET.findall(response.content.decode())
    assert ApiKey.objects.get(prefix=secret[:8]).organization == organization
    assert api_client(secret).get("/v1/users/nobody").status_code == 404  # authenticated


def test_adding_an_organization_rejects_an_unknown_timezone(admin_client, db):
    response = admin_client.post(
        admin_url(Organization, "add"), {"name": "Lingo", "default_timezone": "Mars/Olympus"}
    )

    assert response.status_code == 200 and response.context["adminform"].form.errors
    assert not Organization.objects.exists()


def test_revoking_a_key_makes_it_401_and_reactivating_restores_it(admin_client, owner, words):
    client = owner.client()
    key = ApiKey.objects.get(organization=owner.organization)
    url = admin_url(ApiKey, "changelist")

    admin_client.post(url, {"action": "revoke", "_selected_action": [key.pk]})
    revoked = post_event(client, "words", {"id": "ann"})
    admin_client.post(url, {"action": "reactivate", "_selected_action": [key.pk]})
    reactivated = post_event(client, "words", {"id": "ann"})

    assert revoked.status_code == 401 and "error" in revoked.json()
    assert reactivated.status_code == 201


def test_api_key_pages_never_show_the_hash_and_keys_cannot_be_added_there(admin_client, owner):
    key = ApiKey.objects.get(organization=owner.organization)

    change = admin_client.get(admin_url(ApiKey, "change", key.pk)).content.decode()
    inline = admin_client.get(admin_url(Organization, "change", owner.organization.pk))

    assert key.body_hash not in change and key.body_hash not in inline.content.decode()
    assert admin_client.get(admin_url(ApiKey, "add")).status_code == 403


def test_metric_added_in_admin_is_usable_by_the_api_at_once(admin_client, owner, api):
    assert post_event(api, "minutes", {"id": "ann"}).status_code == 404  # warms the cache
    version = Tenant.objects.get(pk=owner.tenant.pk).config_version

    response = admin_client.post(
        admin_url(Metric, "add"),
        {
            "tenant": owner.tenant.pk,
            "key": "minutes",
            "name": "Minutes",
            "unit_type": "number",
            "units": "",
            "status": "active",
        },
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    assert Tenant.objects.get(pk=owner.tenant.pk).config_version == version + 1
    assert post_event(api, "minutes", {"id": "ann"}).status_code == 201


def test_archiving_an_attribute_in_admin_bumps_the_config_version(admin_client, owner, api, words):
    source = Attribute.objects.create(tenant=owner.tenant, key="source", name="S", type="event")
    body = {"user": {"id": "ann"}, "value": 1, "attributes": {"source": "web"}}
    assert api.post(EVENT_URL.format("words"), body, format="json").status_code == 201

    admin_client.post(
        admin_url(Attribute, "changelist"), {"action": "archive", "_selected_action": [source.pk]}
    )

    assert Attribute.objects.get(pk=source.pk).status == "archived"
    assert api.post(EVENT_URL.format("words"), body, format="json").status_code == 400


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def test_admin_refuses_what_the_admin_api_refuses_with_the_same_message(admin_client, owner, words):
    add = admin_url(Metric, "add")
    duplicate = {"tenant": owner.tenant.pk, "key": "words", "name": "Again", "unit_type": "number"}
    currency = {**duplicate, "key": "revenue", "unit_type": "currency", "units": "dollars"}

    for body in (duplicate, currency):
        response = admin_client.post(add, body, follow=True)
        assert response.redirect_chain == [(add, 302)]
        assert any("Key already in use" in m or "currency code" in m for m in messages_of(response))
    assert list(Metric.objects.values_list("key", flat=True)) == ["words"]
    assert not LogEntry.objects.exists()


def test_default_tenant_keeps_its_customer_id_and_cannot_be_archived(admin_client, owner):
    tenant = owner.tenant
    change = admin_url(Tenant, "change", tenant.pk)
    body = {"customer_id": "renamed", "name": tenant.name, "default_timezone": "UTC"}

    renamed = admin_client.post(change, body, follow=True)
    archived = admin_client.post(
        admin_url(Tenant, "changelist"),
        {"action": "archive", "_selected_action": [tenant.pk]},
        follow=True,
    )

    assert "cannot be changed" in " ".join(messages_of(renamed))
    assert "cannot be deleted" in " ".join(messages_of(archived))
    tenant.refresh_from_db()
    assert (tenant.customer_id, tenant.status) == ("default", "active")


def test_tenant_added_in_admin_takes_the_default_time_zone_and_works_as_tenant_id(
    admin_client, owner, words
):
    Tenant.objects.filter(pk=owner.tenant.pk).update(default_timezone="Asia/Tokyo")

    response = admin_client.post(
        admin_url(Tenant, "add"),
        {"organization": owner.organization.pk, "customer_id": "school-9", "name": "School 9"},
    )

    assert response.status_code == 302
    tenant = Tenant.objects.get(customer_id="school-9")
    assert tenant.default_timezone == "Asia/Tokyo"
    Metric.objects.create(tenant=tenant, key="words", name="Words")
    client = owner.client(tenant_id="school-9")
    assert post_event(client, "words", {"id": "ann"}).status_code == 201
    assert Event.objects.get().tenant == tenant


def test_tenant_time_zone_edit_is_validated_and_saved(admin_client, owner):
    change = admin_url(Tenant, "change", owner.tenant.pk)
    body = {"customer_id": "default", "name": "Acme", "default_timezone": "Mars/Olympus"}

    refused = admin_client.post(change, body)
    saved = admin_client.post(change, {**body, "default_timezone": "Europe/Berlin"})

    assert refused.status_code == 200 and refused.context["adminform"].form.errors
    assert saved.status_code == 302
    assert Tenant.objects.get(pk=owner.tenant.pk).default_timezone == "Europe/Berlin"


def test_renaming_a_metric_bumps_the_config_version_and_archived_ones_are_read_only(
    admin_client, owner, words
):
    version = Tenant.objects.get(pk=owner.tenant.pk).config_version
    change = admin_url(Metric, "change", words.pk)

    response = admin_client.post(change, {"name": "Words", "unit_type": "number", "units": ""})
    admin_client.post(
        admin_url(Metric, "changelist"), {"action": "archive", "_selected_action": [words.pk]}
    )

    assert response.status_code == 302
    assert Metric.objects.get(pk=words.pk).name == "Words"
    assert Tenant.objects.get(pk=owner.tenant.pk).config_version == version + 2
    assert Metric.objects.get(pk=words.pk).status == "archived"
    assert admin_client.post(change, {"name": "X", "unit_type": "number"}).status_code == 403


def test_user_change_page_shows_totals_and_links_to_the_users_events(
    admin_client, owner, api, words
):
    post_event(api, "words", {"id": "ann", "email": "ann@example.com"}, value=12)
    user = EndUser.objects.get(external_id="ann")

    page = admin_client.get(admin_url(EndUser, "change", user.pk)).content.decode()

    assert "Words written" in page and "<p>12</p>" in page
    assert f"user__id__exact={user.pk}" in page


def test_event_changelist_filters_by_tenant_metric_and_date(admin_client, owner, outsider, words):
    minutes = Metric.objects.create(tenant=owner.tenant, key="minutes", name="Minutes")
    post_event(owner.client(), "words", {"id": "ann"})
    post_event(owner.client(), "minutes", {"id": "ann"})
    outsider_words = Metric.objects.create(tenant=outsider.tenant, key="words", name="Words")
    post_event(outsider.client(), "words", {"id": "ann"})
    url = admin_url(Event, "changelist")
    today = timezone.now().astimezone(UTC).date()
    yesterday = today - timedelta(days=1)

    def found(**params) -> list[str]:
        response = admin_client.get(url, params)
        assert response.status_code == 200
        return sorted(e.metric.key for e in response.context["cl"].result_list)

    assert found(tenant__id__exact=owner.tenant.pk) == ["minutes", "words"]
    assert found(metric__id__exact=minutes.pk) == ["minutes"]
    assert found(metric__id__exact=outsider_words.pk) == ["words"]
    assert len(found(local_date__gte=today.isoformat())) == 3
    assert found(local_date__lt=yesterday.isoformat()) == []
    assert len(found(local_date__year=today.year)) == 3


@pytest.mark.parametrize(
    ("stored", "shown"),
    [
        ("9.000000", "9"),
        ("2.500000", "2.5"),
        ("0.000001", "0.000001"),
        ("1E-6", "0.000001"),
        ("1E+1", "10"),
        ("-2.500000", "-2.5"),
        ("-0.000000", "0"),
        ("1000000000000.000000", "1000000000000"),
    ],
)
def test_numbers_are_formatted_as_written(stored, shown):
    assert as_written(Decimal(stored)) == shown


def test_numbers_show_as_written_in_changelists_inlines_and_change_pages(
    admin_client, owner, api, words
):
    for value in (9, 2.5, 0.000001):
        assert post_event(api, "words", {"id": "ann"}, value=value).status_code == 201
    nine = Event.objects.get(value=9)
    user = EndUser.objects.get()
    total = "11.500001"

    def page(url: str) -> str:
        response = admin_client.get(url)
        assert response.status_code == 200, url
        text = response.content.decode()
        # no number shown with trailing zeros or an exponent
        assert not re.search(r">\s*-?\d+(\.\d*0|(\.\d+)?E[+-]?\d+)\s*<", text), url
        assert "9.000000" not in text and "2.500000" not in text, url
        return text

    events = page(admin_url(Event, "changelist"))
    event = page(admin_url(Event, "change", nine.pk))
    totals = page(admin_url(MetricTotal, "changelist"))
    rollups = page(admin_url(DailyRollup, "changelist"))
    user_page = page(admin_url(EndUser, "change", user.pk))
    page(admin_url(MetricTotal, "change", MetricTotal.objects.get().pk))
    page(admin_url(DailyRollup, "change", DailyRollup.objects.get().pk))

    for shown in ("9", "2.5", "0.000001"):
        assert f'<td class="field-value_as_written">{shown}</td>' in events
    assert '<div class="readonly">9</div>' in event and "<h2>ann: words 9 at " in event
    assert f'<td class="field-total_as_written">{total}</td>' in totals
    assert f'<td class="field-total_as_written">{total}</td>' in rollups
    assert re.search(rf'<td class="field-total_as_written">\s*<p>{total}</p>', user_page)


def test_decimal_columns_still_sort_by_their_value(admin_client, owner, api, words):
    for value in (9, 10, 2.5):
        post_event(api, "words", {"id": "ann"}, value=value)
    url = admin_url(Event, "changelist")
    column = admin.site._registry[Event].list_display.index("value_as_written")

    def values(order: str) -> list[Decimal]:
        return [e.value for e in admin_client.get(url, {"o": order}).context["cl"].result_list]

    assert values(str(column)) == [Decimal("2.5"), 9, 10]
    assert values(f"-{column}") == [10, 9, Decimal("2.5")]


def test_a_default_tenant_is_labelled_with_its_customer_id_once(admin_client, owner, api, words):
    # organization_create names the default tenant after its organization; its label
    # adds the customer id, once.
    tenant, label = owner.tenant, "Acme (default)"
    assert str(tenant) == label
    school = Tenant.objects.create(
        organization=owner.organization, customer_id="school-9", name="School 9"
    )
    assert str(school) == "School 9 (school-9)"
    post_event(api, "words", {"id": "ann"})
    user = EndUser.objects.get()
    tenant_url = admin_url(Tenant, "change", tenant.pk)
    link = f'<a href="{tenant_url}">{label}</a>'
    column = f'<td class="field-tenant_name">{label}</td>'
    tenant_filter = f'<a href="?tenant__id__exact={tenant.pk}">{label}</a>'
    places = {
        admin_url(Organization, "changelist"): [f'<td class="field-default_tenant_name">{label}<'],
        admin_url(Organization, "change", owner.organization.pk): [f'"readonly">{link}</div>'],
        tenant_url: [
            f"<title>{label} | Change tenant |",
            f"<h2>{label}</h2>",
            f"; {label}\n</div>",
        ],
        admin_url(Tenant, "history", tenant.pk): [
            f"<title>Change history: {label} |",
            f"<h1>Change history: {label}</h1>",
            f"; {link}\n&rsaquo; History",
        ],
        admin_url(EndUser, "changelist"): [column, tenant_filter],
        admin_url(EndUser, "change", user.pk): [f'"readonly">{link}</div>'],
        admin_url(Event, "changelist"): [column, tenant_filter],
        admin_url(Metric, "changelist"): [column, tenant_filter],
        admin_url(Metric, "add"): [f'<option value="{tenant.pk}">{label}</option>'],
        admin_url(Metric, "change", words.pk): [f'"readonly">{link}</div>'],
        admin_url(DailyRollup, "changelist"): [column, tenant_filter],
    }
    for url, expected in places.items():
        response = admin_client.get(url)
        assert response.status_code == 200, url
        page = response.content.decode()
        assert "(default) (default)" not in page, url
        for place in expected:
            assert page.count(place) == 1, (url, place)


def test_inline_rows_are_not_titled_with_raw_object_strings(admin_client, owner, api, words):
    post_event(api, "words", {"id": "ann"}, value=9)
    total, key = MetricTotal.objects.get(), ApiKey.objects.get()
    user_page = admin_client.get(admin_url(EndUser, "change", total.user_id)).content.decode()
    org_page = admin_client.get(admin_url(Organization, "change", key.organization_id))

    for page, raw, link in (
        (user_page, str(total), ""),
        (org_page.content.decode(), str(key), "Change"),
    ):
        assert raw not in page and "object (" not in page
        titles = re.findall(r'<td class="original">(.*?)<input', page, re.DOTALL)
        assert len(titles) == 1  # one row, titled by its link only (the totals have none)
        assert re.sub(r"<[^>]+>", "", titles[0]).strip() == link


# 03:30 UTC on March 11 is still March 10 in New York: the chart ends on the user's date.
@time_machine.travel(datetime(2026, 3, 11, 3, 30, tzinfo=UTC), tick=False)
def test_user_page_charts_the_last_90_days_of_events_per_local_date(
    admin_client, owner, api, words, django_assert_max_num_queries
):
    Metric.objects.create(tenant=owner.tenant, key="minutes", name="Minutes")
    ann = {"id": "ann", "tz": "America/New_York"}
    for key, timestamp in (
        ("words", "2025-12-10T15:00:00Z"),  # a day before the 90
        ("words", "2025-12-11T15:00:00Z"),  # the first of them, three events
        ("words", "2025-12-11T16:00:00Z"),
        ("minutes", "2025-12-11T17:00:00Z"),
        ("words", "2026-03-01T15:00:00Z"),
        ("minutes", "2026-03-01T15:30:00Z"),
        ("words", "2026-03-11T01:00:00Z"),  # 21:00 on March 10 in New York
    ):
        body = {"user": ann, "value": 2.5, "timestamp": timestamp}
        assert api.post(EVENT_URL.format(key), body, format="json").status_code == 201
    user = EndUser.objects.get()
    url = admin_url(EndUser, "change", user.pk)
    admin_client.get(url)  # warm the session and content types

    with django_assert_max_num_queries(5):  # session, admin user, user, inline, the chart
        response = admin_client.get(url)

    page = response.content.decode()
    assert 'class="form-row field-events field-activity"' in page  # beside the event log link
    chart = _svg(page)
    slots = {date.fromisoformat(day): int(n) for n, day in _slot_titles(chart)}
    first = date(2025, 12, 11)
    assert list(slots) == [first + timedelta(days=i) for i in range(90)]
    assert {day: n for day, n in slots.items() if n} == {
        first: 3,
        date(2026, 3, 1): 2,
        date(2026, 3, 10): 1,
    }
    svg = "{http://www.w3.org/2000/svg}"
    label = "Events per day, 2025-12-11 to 2026-03-10: 6 events on 3 of 90 days, at most 3 in a day"
    assert chart.get("aria-label") == chart.findtext(f"{svg}title") == label
    heights = [float(r.get("height", "")) for r in chart.iter(f"{svg}rect") if r.get("style")]
    assert heights == [48, 32, 16]  # bars (the slots' backgrounds have no style of their own)
    axis = [t.text for t in chart.iter(f"{svg}text")]
    assert axis == ["3", "0", "2025-12-11", "2026-03-10"]


@time_machine.travel(datetime(2026, 3, 11, 3, 30, tzinfo=UTC), tick=False)
def test_activity_chart_of_a_user_without_events_or_tz_ends_on_the_tenants_date(
    admin_client, owner
):
    Tenant.objects.filter(pk=owner.tenant.pk).update(default_timezone="Asia/Tokyo")
    user = EndUser.objects.create(
        tenant=owner.tenant, external_id="quiet", created=timezone.now(), updated=timezone.now()
    )

    page = admin_client.get(admin_url(EndUser, "change", user.pk)).content.decode()

    chart = _svg(page)
    slots = _slot_titles(chart)
    assert len(slots) == 90 and {n for n, _day in slots} == {"0"}
    assert slots[-1][1] == "2026-03-11"  # 12:30 in Tokyo
    assert chart.get("aria-label", "").endswith("0 events on 0 of 90 days")


def _svg(page: str) -> ET.Element:
    (svg,) = re.findall(
        r'<div class="flex-container fieldBox field-activity">.*?(<svg.*?</svg>)', page, re.DOTALL
    )
    return ET.fromstring(svg)  # well-formed: everything in it was escaped


def _slot_titles(chart: ET.Element) -> list[tuple[str, str]]:
    titles = [t.text or "" for t in chart.iter("{http://www.w3.org/2000/svg}title")][1:]
    found = [re.fullmatch(r"(\d+) events? on (\d{4}-\d\d-\d\d)", t) for t in titles]
    assert all(found), titles
    return [(m[1], m[2]) for m in found if m]


def test_a_key_created_in_the_admin_may_expire(admin_client, owner, words):
    url = reverse("admin:events_organization_create_api_key", args=[owner.organization.pk])
    response = admin_client.post(url, {"name": "contractor", "expires_in_days": 30})
    (secret,) = SECRET.findall(response.content.decode())
    key = ApiKey.objects.get(prefix=secret.split(".")[0])
    assert key.expires_at is not None
    assert timedelta(days=29, hours=23) < key.expires_at - timezone.now() <= timedelta(days=30)
    listing = admin_client.get(reverse("admin:events_apikey_changelist")).content.decode()
    assert "column-expires_at" in listing and "column-last_used" in listing
    assert post_event(api_client(secret), "words", {"id": "ann"}).status_code == 201
