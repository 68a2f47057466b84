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
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from events.models import Tenant

from .branding import palette
from .cards import FORMATS, render_card
from .models import Branding, ShareLink, WrappedSettings, WrappedSummary
from .pages import page_html
from .periods import latest_year
from .services import (
    chunks,
    fresh_condition,
    populations_refresh,
    summaries_precompute,
    users_to_precompute,
)
from .sharing import Rendition, Shared, base_url, brand_of, branding_of, host_of, rendition_of
from .tasks import precompute_summaries

LOGO_MAX_BYTES = 512 * 1024
LOGO_FORMATS = {"PNG", "JPEG", "WEBP"}
LOGO_MAX_PIXELS = 16_000_000  # the cards leave larger ones off (wrapped/cards)


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
        "preview",
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

    @admin.display(description="share page and cards")
    def preview(self, obj: WrappedSummary) -> str:
        if not obj.activity:
            return "not computed yet"
        page = reverse("admin:wrapped_wrappedsummary_preview", args=[obj.pk])
        cards = [
            format_html(
                '<a href="{}" target="_blank">{}</a>',
                reverse("admin:wrapped_wrappedsummary_card", args=[obj.pk, fmt]),
                fmt,
            )
            for fmt in FORMATS
        ]
        return format_html(
            '<a href="{}" target="_blank">page</a> · cards: {}',
            page,
            format_html_join(" · ", "{}", ((card,) for card in cards)),
        )

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
            ),
            path(
                "<int:pk>/preview/",
                self.admin_site.admin_view(self.preview_view),
                name="wrapped_wrappedsummary_preview",
            ),
            path(
                "<int:pk>/preview/<str:fmt>.png",
                self.admin_site.admin_view(self.card_view),
                name="wrapped_wrappedsummary_card",
            ),
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

    def _rendition(self, request: HttpRequest, pk: int) -> Rendition | None:
        summary = WrappedSummary.objects.select_related("tenant", "user").filter(pk=pk).first()
        if summary is None or not summary.activity or not self.has_view_permission(request):
            return None
        shared = Shared(summary.tenant, summary.user, summary.year, branding_of(summary.tenant))
        base = base_url(request)
        return rendition_of(shared, summary.activity, host=host_of(base))

    def preview_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """The share page of a stored summary as its user would see it once shared
        (whether or not they have), with the cards drawn now."""
        rendered = self._rendition(request, pk)
        if rendered is None:
            raise Http404("No such summary.")
        images = {
            fmt: reverse("admin:wrapped_wrappedsummary_card", args=[pk, fmt]) for fmt in FORMATS
        }
        html = page_html(rendered, page_url=request.build_absolute_uri(), images=images)
        response = HttpResponse(html)
        response["X-Robots-Tag"] = "noindex"
        return response

    def card_view(self, request: HttpRequest, pk: int, fmt: str) -> HttpResponse:
        rendered = self._rendition(request, pk)
        if rendered is None or fmt not in FORMATS:
            raise Http404("No such summary or card format.")
        png = render_card(rendered.recap, rendered.shared.brand, fmt, host=rendered.host)
        return HttpResponse(png, content_type="image/png")


class BrandingForm(forms.ModelForm):
    class Meta:
        model = Branding
        fields = (
            "tenant",
            "display_name",
            "background_color",
            "accent_color",
            "logo",
            "locale",
            "allow_indexing",
        )
        widgets = {
            "background_color": forms.TextInput(attrs={"type": "color"}),
            "accent_color": forms.TextInput(attrs={"type": "color"}),
        }

    def clean_logo(self) -> Any:
        logo = self.cleaned_data.get("logo")
        if not logo or not hasattr(logo, "image"):  # unchanged, or cleared
            return logo
        if logo.size > LOGO_MAX_BYTES:
            raise ValidationError(f"A logo of at most {LOGO_MAX_BYTES // 1024} KiB, please.")
        if logo.image.format not in LOGO_FORMATS:
            raise ValidationError("A PNG, JPEG or WebP logo, please.")
        width, height = logo.image.size
        if width * height > LOGO_MAX_PIXELS:
            raise ValidationError("A logo of at most 16 million pixels, please.")
        return logo


@admin.register(Branding)
class BrandingAdmin(admin.ModelAdmin):
    """A tenant's name, colours and logo on share pages and cards."""

    form = BrandingForm
    list_display = ("tenant", "display_name", "background_color", "accent_color", "allow_indexing")
    list_select_related = ("tenant",)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        # The tenant is the row's key: changing it would copy the branding, not move it.
        return ("tenant", "contrast") if obj is not None else ("contrast",)

    @admin.display(description="colours as drawn")
    def contrast(self, obj: Branding) -> str:
        if not obj.pk:
            return "-"
        colors = palette(brand_of(obj.tenant, obj)).css()
        return format_html(
            '<span style="background:{};color:{};padding:.5em 1em;font-weight:bold">'
            'text</span> <span style="background:{};color:{};padding:.5em 1em;'
            'font-weight:bold;font-size:1.5em">123</span> (colours are adjusted for contrast)',
            colors["background"],
            colors["text"],
            colors["background"],
            colors["hero"],
        )


@admin.register(ShareLink)
class ShareLinkAdmin(admin.ModelAdmin):
    """Users' share links: revoking (deleting) one turns its page and cards off."""

    list_display = ("user_label", "tenant", "year", "created", "page")
    list_filter = ("year", ("tenant", admin.RelatedOnlyFieldListFilter))
    list_select_related = ("user", "tenant")
    search_fields = ("user__external_id",)
    fields = ("user_label", "tenant", "year", "created", "page")
    readonly_fields = fields
    actions = ["delete_selected"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # made through the API, by the user's own choice

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="user", ordering="user__external_id")
    def user_label(self, obj: ShareLink) -> str:
        return obj.user.external_id

    @admin.display(description="page")
    def page(self, obj: ShareLink) -> str:
        url = reverse("share-page", args=[obj.token])
        return format_html('<a href="{}" target="_blank">open</a>', url)
