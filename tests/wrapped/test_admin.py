"""Wrapped in the Django admin: summaries listed fresh or stale, shown as readable JSON,
recomputed by an action; a tenant's year precomputed from a form; settings validated."""

from __future__ import annotations

import time_machine
from django.urls import reverse

from events.models import Metric, Tenant
from tests.wrapped.reference import NOW, load_reference
from wrapped.models import WrappedSettings, WrappedSummary
from wrapped.services import users_to_precompute

CHANGELIST = reverse("admin:wrapped_wrappedsummary_changelist")


def test_summaries_are_listed_fresh_or_stale_and_shown_as_json(admin_client, owner, api):
    load_reference(api, owner.tenant)
    with time_machine.travel(NOW, tick=False):
        for user in ("ann", "kai"):
            assert api.get(f"/v1/users/{user}/wrapped", {"year": 2025}).status_code == 200
        body = {"user": {"id": "kai"}, "value": 1, "timestamp": "2025-05-01T00:00:00Z"}
        assert api.post("/v1/metrics/words/event", body, format="json").status_code == 201

    listing = admin_client.get(CHANGELIST).content.decode()
    ann = WrappedSummary.objects.get(user__external_id="ann")
    page = admin_client.get(reverse("admin:wrapped_wrappedsummary_change", args=[ann.pk]))

    assert listing.count('alt="True"') == 1 and listing.count('alt="False"') == 1  # kai: stale
    assert page.status_code == 200
    assert "&quot;daysActive&quot;: 8" in page.content.decode()  # indented JSON
    assert admin_client.get(reverse("admin:wrapped_wrappedsummary_add")).status_code == 403


def test_the_recompute_action_makes_selected_summaries_fresh(admin_client, owner, api):
    load_reference(api, owner.tenant)
    with time_machine.travel(NOW, tick=False):
        api.get("/v1/users/kai/wrapped", {"year": 2025})
        body = {"user": {"id": "kai"}, "value": 1, "timestamp": "2025-05-01T00:00:00Z"}
        api.post("/v1/metrics/words/event", body, format="json")
    kai = WrappedSummary.objects.get(user__external_id="kai")

    response = admin_client.post(
        CHANGELIST, {"action": "recompute", "_selected_action": [kai.pk]}, follow=True
    )

    assert "Recomputed 1 summaries." in response.content.decode()
    kai.refresh_from_db()
    assert '"daysActive":2' in kai.activity


def test_precomputing_a_tenants_year_from_the_admin(admin_client, owner, api):
    load_reference(api, owner.tenant)
    url = reverse("admin:wrapped_wrappedsummary_precompute")
    assert admin_client.get(url).status_code == 200

    refused = admin_client.post(url, {"tenant": owner.tenant.pk, "year": 3000})
    assert refused.status_code == 200 and "at most the current year" in refused.content.decode()
    assert not WrappedSummary.objects.exists()

    response = admin_client.post(url, {"tenant": owner.tenant.pk, "year": 2025}, follow=True)

    assert "users without a fresh summary" in response.content.decode()
    assert users_to_precompute(owner.tenant, 2025) == []  # eager: computed in the request


def test_settings_take_a_metric_of_the_same_tenant_only(admin_client, owner, outsider):
    theirs = Metric.objects.create(tenant=outsider.tenant, key="x", name="X")
    mine = Metric.objects.create(tenant=owner.tenant, key="y", name="Y")
    url = reverse("admin:wrapped_wrappedsettings_add")
    version = Tenant.objects.get(pk=owner.tenant.pk).config_version

    refused = admin_client.post(
        url, {"tenant": owner.tenant.pk, "activity_metric": theirs.pk, "min_population": 5}
    )
    assert "Choose a metric of this tenant." in refused.content.decode()
    too_small = admin_client.post(
        url, {"tenant": owner.tenant.pk, "activity_metric": "", "min_population": 1}
    )
    assert too_small.status_code == 200 and not WrappedSettings.objects.exists()

    saved = admin_client.post(
        url, {"tenant": owner.tenant.pk, "activity_metric": mine.pk, "min_population": 3}
    )
    assert saved.status_code == 302
    assert WrappedSettings.objects.get().activity_metric == mine
    # Saving moves the version: stored summaries are stale, processes reload the settings.
    assert Tenant.objects.get(pk=owner.tenant.pk).config_version == version + 1
