"""Wrapped in the Django admin: tenants' settings, the stored summaries (fresh or stale,
readable), recomputing selected summaries and precomputing a tenant's year."""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import BooleanField, Case, QuerySet, Value, When
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from events.models import Tenant

from .models import WrappedSettings, WrappedSummary
from .periods import latest_year
from .services import (
    chunks,
    fresh_condition,
    populations_refresh,
    summaries_precompute,
    users_to_precompute,
)
from .tasks import precompute_summaries


class WrappedSettingsForm(forms.ModelForm):
    class Meta:
        model = WrappedSettings
        fields = ("tenant", "activity_metric", "min_population")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        metric, tenant = data.get("activity_metric"), data.get("tenant")
        if metric is not None and tenant is not None and metric.tenant_id != tenant.pk:
            raise ValidationError({"activity_metric": "Choose a metric of this tenant."})
        return data


@admin.register(WrappedSettings)
class WrappedSettingsAdmin(admin.ModelAdmin):
    form = WrappedSettingsForm
    list_display = ("tenant", "activity_metric", "min_population")
    list_select_related = ("tenant", "activity_metric")
    autocomplete_fields = ()


class PrecomputeForm(forms.Form):
    tenant = forms.ModelChoiceField(queryset=Tenant.objects.order_by("name"))
    year = forms.IntegerField(min_value=1)

    def clean_year(self) -> int:
        year = self.cleaned_data["year"]
        if year > latest_year(timezone.now()):
            raise ValidationError("A year to recap has begun: at most the current year.")
        return int(year)


@admin.register(WrappedSummary)
class WrappedSummaryAdmin(admin.ModelAdmin):
    list_display = ("user_label", "tenant", "year", "fresh", "computed_at")
    list_filter = ("year", ("tenant", admin.RelatedOnlyFieldListFilter))
    list_select_related = ("user", "tenant")
    search_fields = ("user__external_id",)
    show_full_result_count = False
    actions = ["recompute"]
    fields = (
        "user_link",
        "tenant",
        "year",
        "fresh",
        "computed_at",
        "stamp",
        "config_version",
        "population_version",
        "schema_version",
        "readable_activity",
    )
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[WrappedSummary]:
        return (
            super()
            .get_queryset(request)
            .annotate(
                is_fresh=Case(
                    When(fresh_condition(), then=Value(True)),
                    default=Value(False),
                    output_field=BooleanField(),
                )
            )
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # computed, never written by hand

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="user", ordering="user__external_id")
    def user_label(self, obj: WrappedSummary) -> str:
        return obj.user.external_id

    @admin.display(description="user")
    def user_link(self, obj: WrappedSummary) -> str:
        url = reverse("admin:events_enduser_change", args=[obj.user_id])
        return format_html('<a href="{}">{}</a>', url, obj.user.external_id)

    @admin.display(description="fresh", boolean=True, ordering="is_fresh")
    def fresh(self, obj: Any) -> bool:
        return bool(obj.is_fresh)

    @admin.display(description="activity (as served)")
    def readable_activity(self, obj: WrappedSummary) -> str:
        try:
            text = json.dumps(json.loads(obj.activity), indent=2, ensure_ascii=False)
        except ValueError:
            text = obj.activity
        return format_html('<pre style="white-space: pre-wrap">{}</pre>', text)

    @admin.action(description="Recompute the selected summaries now")
    def recompute(self, request: HttpRequest, queryset: QuerySet[WrappedSummary]) -> None:
        groups: dict[tuple[Any, int], list[int]] = defaultdict(list)
        tenants: dict[Any, Tenant] = {}
        for summary in queryset.select_related("tenant"):
            groups[(summary.tenant_id, summary.year)].append(summary.user_id)
            tenants[summary.tenant_id] = summary.tenant
        done = sum(
            summaries_precompute(tenant=tenants[tenant_id], year=year, user_ids=users)
            for (tenant_id, year), users in groups.items()
        )
        self.message_user(request, f"Recomputed {done} summaries.", messages.SUCCESS)

    def get_urls(self) -> list:
        urls = [
            path(
                "precompute/",
                self.admin_site.admin_view(self.precompute_view),
                name="wrapped_wrappedsummary_precompute",
            )
        ]
        return urls + super().get_urls()

    def precompute_view(self, request: HttpRequest) -> HttpResponse:
        """Precompute a tenant's year: the population statistics now, the users' summaries
        by the Celery workers (in this request when no broker is configured)."""
        if not self.has_view_permission(request):
            return HttpResponse(status=403)
        form = PrecomputeForm(request.POST or None, initial={"year": timezone.now().year - 1})
        if request.method == "POST" and form.is_valid():
            tenant, year = form.cleaned_data["tenant"], form.cleaned_data["year"]
            populations_refresh(tenant=tenant, year=year)
            todo = users_to_precompute(tenant, year)
            for part in chunks(todo, settings.WRAPPED_CHUNK_SIZE):
                precompute_summaries.delay(str(tenant.pk), year, part)
            self.message_user(
                request,
                f"Wrapped {year} of {tenant}: {len(todo)} users without a fresh summary "
                "handed to the workers (or computed already, without a broker).",
                messages.SUCCESS,
            )
            return redirect(reverse("admin:wrapped_wrappedsummary_changelist") + f"?year={year}")
        context = {
            **self.admin_site.each_context(request),
            "title": "Precompute a tenant's Wrapped",
            "opts": self.opts,
            "form": form,
        }
        return TemplateResponse(request, "admin/wrapped/wrappedsummary/precompute.html", context)
