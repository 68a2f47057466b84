"""The Django admin: how operators look into (and, where safe, change) every model.

Built for debugging: every list is searchable by the ids an integrator would quote (user
id, email, idempotency key, key prefix), filtered by tenant, and loads related rows in
the same query. Writes that carry a rule go through the same services as the API:
organizations get their default tenant from `organization_create`, keys come from
`api_key_create` (the secret is shown once and never stored, not even in a message
cookie), and configuration edits bump the tenant's config version. The event log and
derived state are read-only: the log is append-only and the rest is rebuilt by `rebuild`.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, ClassVar

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import flatten
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext

from .attribute_sums import number_text
from .models import (
    ApiKey,
    Attribute,
    DailyRollup,
    EndUser,
    Event,
    EventBatch,
    Metric,
    MetricTotal,
    Organization,
    StreakRun,
    Tenant,
)
from .models.config import ConfigStatus
from .selectors.users import user_recent_activity
from .services.admin_config import (
    BulkResult,
    Change,
    NewAttribute,
    NewMetric,
    NewTenant,
    attributes_create,
    attributes_delete,
    attributes_update,
    metrics_create,
    metrics_delete,
    metrics_update,
    tenants_create,
    tenants_delete,
    tenants_update,
)
from .services.organizations import api_key_create, organization_create
from .timezones import is_iana_zone

# --- shared pieces -------------------------------------------------------------------


def _validate_timezone(name: str) -> str:
    if not is_iana_zone(name):
        raise forms.ValidationError(f"{name!r} is not a valid IANA time zone name.")
    return name


def as_written(value: Decimal) -> str:
    """A number as the integrator wrote it: `9`, `2.5`, `0.000001`, never the column's six
    places (`9.000000`) nor an exponent (`1E+1`). The same text as the JSON sums."""
    return number_text(value)


def number_display(field: str) -> Any:
    """An admin display of the Decimal `field` as written, sorting by the field itself
    (Django's own shows every decimal place the column keeps)."""

    @admin.display(description=field, ordering=field)
    def display(model_admin: Any, obj: Model) -> str:
        return as_written(getattr(obj, field))

    return display


def _tenant_link(tenant: Tenant) -> str:
    url = reverse("admin:events_tenant_change", args=[tenant.pk])
    return format_html('<a href="{}">{}</a>', url, str(tenant))


class BaseAdmin(admin.ModelAdmin):
    """Every admin here: objects and tenants are named by labels made for people, not by
    `str()` (a derived row's is ids and a raw decimal).
    An existing row's tenant never changes, so its page shows it as `tenant_link`."""

    def object_label(self, obj: Any) -> str:
        return str(obj)

    @admin.display(description="tenant", ordering="tenant__name")
    def tenant_name(self, obj: Any) -> str:
        return str(obj.tenant)

    @admin.display(description="tenant")
    def tenant_link(self, obj: Any) -> str:
        return _tenant_link(obj.tenant)

    # The page's heading and title; templates/admin/events/change_form.html puts it in
    # the breadcrumbs too.
    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: Any = None,
    ) -> Any:
        if obj is not None:
            context["subtitle"] = self.object_label(obj)
        return super().render_change_form(request, context, add, change, form_url, obj)

    def history_view(
        self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None
    ) -> Any:
        response = super().history_view(request, object_id, extra_context)
        obj = getattr(response, "context_data", {}).get("object")
        if obj is not None:  # a TemplateResponse, not yet rendered
            label = self.object_label(obj)
            response.context_data.update(  # type: ignore[attr-defined]
                title=gettext("Change history: %s") % label, object_label=label
            )
        return response


class ReadOnlyAdmin(BaseAdmin):
    """Viewable, never writable: the event log is append-only and derived rows are rebuilt
    from it (`manage.py rebuild`), so an edit here would only create a disagreement."""

    # Large tables: skip the unfiltered COUNT(*) the changelist would run on every page.
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


def _events_link(params: str, label: str) -> str:
    url = reverse("admin:events_event_changelist")
    return format_html('<a href="{}?{}">{}</a>', url, params, label)


def _render_new_secrets(
    request: HttpRequest, *, title: str, created: list[tuple[ApiKey, str]]
) -> HttpResponse:
    """The one place a key's secret is shown: rendered into this response only (admin
    views are never cached), so it never reaches the session, a cookie or a log."""
    context = {
        **admin.site.each_context(request),
        "title": title,
        "created": created,
        "opts": Organization._meta,
        "api_docs_url": "/api/docs/",
    }
    return TemplateResponse(request, "admin/events/api_key_created.html", context)


# --- organizations and API keys ------------------------------------------------------


# Django's tabular template titles each row with `str(row)` ("MetricTotal object (3)"); this
# one shows only the row's link, its columns say the rest.
TABULAR_INLINE_TEMPLATE = "admin/events/edit_inline/tabular.html"


class ApiKeyInline(admin.TabularInline):
    model = ApiKey
    template = TABULAR_INLINE_TEMPLATE
    fields = ("prefix", "name", "created", "last_used", "expires_at", "revoked_at")
    readonly_fields = ("prefix", "created", "last_used", "expires_at", "revoked_at")
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False  # keys come only from "Create API key", which shows the secret once


class OrganizationAddForm(forms.ModelForm):
    default_timezone = forms.CharField(
        initial="UTC", help_text="IANA name, for the default tenant (e.g. Europe/Berlin)."
    )

    class Meta:
        model = Organization
        fields = ("name",)

    def clean_default_timezone(self) -> str:
        return _validate_timezone(self.cleaned_data["default_timezone"])


class ApiKeyCreateForm(forms.Form):
    name = forms.CharField(required=False, max_length=255, help_text="What the key is for.")
    expires_in_days = forms.IntegerField(
        required=False,
        min_value=1,
        help_text="Optional: the key stops working after this many days (empty: never).",
    )


@admin.register(Organization)
class OrganizationAdmin(BaseAdmin):
    list_display = ("name", "id", "default_tenant_name", "created")
    list_select_related = ("default_tenant",)
    search_fields = ("name", "=id")
    readonly_fields = ("id", "created", "default_tenant_link", "tenants_link")
    fields = ("name", "id", "default_tenant_link", "tenants_link", "created")
    inlines = [ApiKeyInline]
    actions = ["create_api_key"]
    change_form_template = "admin/events/organization/change_form.html"

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False  # its tenants' event logs are protected; archive tenants instead

    @admin.display(description="default tenant", ordering="default_tenant__name")
    def default_tenant_name(self, obj: Organization) -> str:
        return str(obj.default_tenant) if obj.default_tenant else "-"

    @admin.display(description="default tenant")
    def default_tenant_link(self, obj: Organization) -> str:
        return _tenant_link(obj.default_tenant) if obj.default_tenant else "-"

    @admin.display(description="tenants")
    def tenants_link(self, obj: Organization) -> str:
        url = reverse("admin:events_tenant_changelist")
        return format_html(
            '<a href="{}?organization__id__exact={}">{} tenant(s)</a>',
            url,
            obj.pk,
            obj.tenants.count(),
        )

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any):
        if obj is None:
            kwargs["form"] = OrganizationAddForm
            kwargs["fields"] = ("name", "default_timezone")
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request: HttpRequest, obj: Any = None):
        return ("name", "default_timezone") if obj is None else self.fields

    def get_inlines(self, request: HttpRequest, obj: Any):
        return self.inlines if obj is not None else []

    def save_model(self, request: HttpRequest, obj: Organization, form: Any, change: bool) -> None:
        if change:
            obj.save(update_fields=["name"])
            return
        # The service owns the rule "an organization has a default tenant and a key".
        organization, secret = organization_create(
            name=form.cleaned_data["name"],
            default_timezone=form.cleaned_data["default_timezone"],
            key_name="created in admin",
        )
        obj.pk = organization.pk
        obj.created = organization.created
        obj.default_tenant = organization.default_tenant
        obj._state.adding = False
        key = organization.keys.get()
        request._new_api_keys = [(key, secret)]  # type: ignore[attr-defined]

    def response_add(
        self, request: HttpRequest, obj: Organization, post_url_continue: str | None = None
    ) -> HttpResponse:
        created = getattr(request, "_new_api_keys", None)
        if created:
            return _render_new_secrets(
                request, title=f"Organization {obj.name!r} created", created=created
            )
        return super().response_add(request, obj, post_url_continue)

    def get_urls(self) -> list:
        urls = [
            path(
                "<uuid:object_id>/create-api-key/",
                self.admin_site.admin_view(self.create_api_key_view),
                name="events_organization_create_api_key",
            )
        ]
        return urls + super().get_urls()

    def create_api_key_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        organization = get_object_or_404(Organization, pk=object_id)
        if not self.has_change_permission(request, organization):
            return HttpResponse(status=403)
        form = ApiKeyCreateForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            days = form.cleaned_data["expires_in_days"]
            key, secret = api_key_create(
                organization=organization,
                name=form.cleaned_data["name"],
                expires_at=timezone.now() + timedelta(days=days) if days else None,
            )
            self.log_change(request, organization, f"Created API key {key.prefix}.")
            return _render_new_secrets(
                request, title=f"API key created for {organization.name}", created=[(key, secret)]
            )
        context = {
            **self.admin_site.each_context(request),
            "title": f"Create an API key for {organization.name}",
            "opts": self.opts,
            "original": organization,
            "form": form,
        }
        return TemplateResponse(request, "admin/events/organization/create_api_key.html", context)

    @admin.action(description="Create API key (the secret is shown once)")
    def create_api_key(self, request: HttpRequest, queryset: QuerySet[Organization]) -> Any:
        created = [
            api_key_create(organization=organization, name="created in admin")
            for organization in queryset
        ]
        return _render_new_secrets(request, title="API keys created", created=created)


@admin.register(ApiKey)
class ApiKeyAdmin(BaseAdmin):
    list_display = (
        "prefix",
        "organization",
        "name",
        "created",
        "last_used",
        "expires_at",
        "revoked",
    )
    list_select_related = ("organization",)
    list_filter = (("revoked_at", admin.EmptyFieldListFilter), "organization")
    search_fields = ("=prefix", "name", "organization__name")
    # body_hash is deliberately absent: nothing on screen helps guess a key.
    fields = ("organization", "name", "prefix", "created", "last_used", "expires_at", "revoked_at")
    readonly_fields = ("organization", "prefix", "created", "last_used", "revoked_at")
    actions = ["revoke", "reactivate"]

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False  # revoke instead: the row keeps the key's history (created, last used)

    @admin.display(boolean=True, description="revoked", ordering="revoked_at")
    def revoked(self, obj: ApiKey) -> bool:
        return obj.revoked_at is not None

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # only through Organization → "Create API key"

    # Authentication reads revoked_at on every request, so both take effect at once.
    @admin.action(description="Revoke selected keys (requests with them get 401)")
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        count = queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
        self.message_user(request, f"Revoked {count} key(s).", messages.SUCCESS)

    @admin.action(description="Reactivate selected keys")
    def reactivate(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        count = queryset.filter(revoked_at__isnull=False).update(revoked_at=None)
        self.message_user(request, f"Reactivated {count} key(s).", messages.SUCCESS)


# --- tenants and configuration -------------------------------------------------------


class ServiceBackedAdmin(BaseAdmin):
    """Saves go through the Admin API's services (events/services/admin_config.py), so the
    rules live once: unique keys among active items, currency units, the default tenant's
    customerId, and the config-version bump every process's cache depends on. A refused
    save shows the service's issue and returns to the form, as the API's `issues` would."""

    def service_save(self, obj: Any, fields: dict[str, Any], change: bool) -> BulkResult:
        raise NotImplementedError

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        fields = {name: form.cleaned_data[name] for name in form.changed_data}
        if change and not fields:
            return  # nothing edited: no write, and no needless config-version bump
        result = self.service_save(obj, fields, change)
        if result.issues:
            request._service_issues = [issue.message for issue in result.issues]  # type: ignore[attr-defined]
        elif not change:
            created = result.done[0]
            obj.pk, obj.created, obj.updated = created.pk, created.created, created.updated
            obj._state.adding = False
        else:
            obj.refresh_from_db()

    def _refused(self, request: HttpRequest) -> HttpResponse | None:
        issues = getattr(request, "_service_issues", None)
        if not issues:
            return None
        for message in issues:
            self.message_user(request, message, messages.ERROR)
        return HttpResponseRedirect(request.get_full_path())

    def response_add(self, request: HttpRequest, obj: Any, post_url_continue: Any = None):
        return self._refused(request) or super().response_add(request, obj, post_url_continue)

    def response_change(self, request: HttpRequest, obj: Any) -> HttpResponse:
        return self._refused(request) or super().response_change(request, obj)

    def log_addition(self, request: HttpRequest, obj: Any, message: Any) -> Any:
        if not getattr(request, "_service_issues", None):
            return super().log_addition(request, obj, message)
        return None

    def log_change(self, request: HttpRequest, obj: Any, message: Any) -> Any:
        if not getattr(request, "_service_issues", None):
            return super().log_change(request, obj, message)
        return None

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Archived items are history: the services (like the Admin API) change active ones.
        if obj is not None and obj.status == ConfigStatus.ARCHIVED:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False  # "Archive" instead: the event log keeps pointing at archived items

    def _report(self, request: HttpRequest, results: list[BulkResult]) -> None:
        done = sum(len(r.done) for r in results)
        self.message_user(request, f"Archived {done} item(s).", messages.SUCCESS)
        for result in results:
            for issue in result.issues:
                self.message_user(request, f"{issue.id}: {issue.message}", messages.ERROR)


class TenantForm(forms.ModelForm):
    class Meta:
        model = Tenant
        fields = ("organization", "customer_id", "name", "default_timezone")

    def clean_default_timezone(self) -> str:
        return _validate_timezone(self.cleaned_data["default_timezone"])


@admin.register(Tenant)
class TenantAdmin(ServiceBackedAdmin):
    form = TenantForm
    list_display = (
        "name",
        "customer_id",
        "organization",
        "status",
        "default_timezone",
        "config_version",
        "created",
    )
    list_select_related = ("organization",)
    list_filter = ("status", "organization")
    search_fields = ("customer_id", "name", "=id")
    readonly_fields = ("id", "status", "config_version", "created", "updated", "data_links")
    actions = ["archive"]

    def object_label(self, obj: Tenant) -> str:
        return str(obj)

    def get_fields(self, request: HttpRequest, obj: Any = None):
        if obj is None:  # a new tenant takes the default tenant's time zone, as in the API
            return ("organization", "customer_id", "name")
        return ("organization", "customer_id", "name", "default_timezone", *self.readonly_fields)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None):
        # Tenancy of existing data never moves between organizations.
        extra = ("organization",) if obj is not None else ()
        return (*extra, *self.readonly_fields)

    def service_save(self, obj: Tenant, fields: dict[str, Any], change: bool) -> BulkResult:
        if change:
            return tenants_update(
                organization=obj.organization, items=[Change(id=str(obj.pk), fields=fields)]
            )
        item = NewTenant(index=0, customer_id=obj.customer_id, name=obj.name)
        return tenants_create(organization=obj.organization, items=[item])

    @admin.action(description="Archive selected tenants (not a default tenant)")
    def archive(self, request: HttpRequest, queryset: QuerySet[Tenant]) -> None:
        by_organization: dict[Any, list[str]] = defaultdict(list)
        for tenant_id, organization_id in queryset.values_list("pk", "organization_id"):
            by_organization[organization_id].append(str(tenant_id))
        organizations = Organization.objects.in_bulk(list(by_organization))
        results = [
            tenants_delete(organization=organizations[org_id], ids=ids)
            for org_id, ids in by_organization.items()
        ]
        self._report(request, results)

    @admin.display(description="data")
    def data_links(self, obj: Tenant) -> str:
        if obj.pk is None:
            return "-"
        links = [
            (reverse(f"admin:events_{model}_changelist"), label)
            for model, label in (
                ("enduser", "users"),
                ("metric", "metrics"),
                ("attribute", "attributes"),
                ("event", "events"),
            )
        ]
        return format_html(
            " · ".join(['<a href="{}?tenant__id__exact={}">{}</a>'] * len(links)),
            *[part for url, label in links for part in (url, obj.pk, label)],
        )


class ConfigItemAdmin(ServiceBackedAdmin):
    """Metrics and attributes. Deleting is archiving, as in the Admin API; an archived key
    can be used again by a new item."""

    list_select_related = ("tenant", "tenant__organization")
    search_fields = ("key", "name", "=id")
    readonly_fields = ("id", "status", "created", "updated")
    actions = ["archive"]
    archive_service: Any = None

    def get_fields(self, request: HttpRequest, obj: Any = None):
        fields = super().get_fields(request, obj)
        if obj is None:
            return fields
        return ["tenant_link" if name == "tenant" else name for name in fields]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None):
        # The key and tenant are what events point at; changing them would re-label history.
        extra = ("tenant_link", "key") if obj is not None else ()
        return (*extra, *self.readonly_fields)

    @admin.action(description="Archive selected (soft delete)")
    def archive(self, request: HttpRequest, queryset: QuerySet) -> None:
        by_tenant: dict[Any, list[str]] = defaultdict(list)
        for item_id, tenant_id in queryset.values_list("pk", "tenant_id"):
            by_tenant[tenant_id].append(str(item_id))
        tenants = Tenant.objects.in_bulk(list(by_tenant))
        results = [
            type(self).archive_service(tenant=tenants[tenant_id], ids=ids)
            for tenant_id, ids in by_tenant.items()
        ]
        self._report(request, results)


@admin.register(Metric)
class MetricAdmin(ConfigItemAdmin):
    list_display = ("key", "name", "tenant_name", "unit_type", "units", "status", "created")
    list_filter = ("status", "tenant", "unit_type")
    fields = ("tenant", "key", "name", "unit_type", "units", "status", "id", "created", "updated")
    archive_service = metrics_delete

    def service_save(self, obj: Metric, fields: dict[str, Any], change: bool) -> BulkResult:
        if change:
            return metrics_update(tenant=obj.tenant, items=[Change(id=str(obj.pk), fields=fields)])
        item = NewMetric(
            index=0, key=obj.key, name=obj.name, unit_type=obj.unit_type, units=obj.units
        )
        return metrics_create(tenant=obj.tenant, items=[item])


@admin.register(Attribute)
class AttributeAdmin(ConfigItemAdmin):
    list_display = ("key", "name", "type", "tenant_name", "status", "created")
    list_filter = ("type", "status", "tenant")
    fields = ("tenant", "type", "key", "name", "status", "id", "created", "updated")
    archive_service = attributes_delete

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None):
        extra = ("type",) if obj is not None else ()
        return (*extra, *super().get_readonly_fields(request, obj))

    def service_save(self, obj: Attribute, fields: dict[str, Any], change: bool) -> BulkResult:
        if change:
            return attributes_update(
                tenant=obj.tenant, items=[Change(id=str(obj.pk), fields=fields)]
            )
        item = NewAttribute(index=0, key=obj.key, name=obj.name, type=obj.type)
        return attributes_create(tenant=obj.tenant, items=[item])


# --- end users -----------------------------------------------------------------------

ACTIVITY_DAYS = 90


def _events_text(count: int) -> str:
    return f"{count} event{'' if count == 1 else 's'}"


def activity_svg(days: list[date], counts: dict[date, int]) -> str:
    """A bar per day for the events that day (all metrics), drawn on the server: a day
    without events is an empty slot, each slot's `<title>` (its tooltip) says its count
    and date, and the chart's label sums it all up."""
    slot, bar, plot_height, left, top = 6, 5, 48, 30, 4
    baseline = top + plot_height
    width, height = left + slot * len(days), baseline + 14
    peak = max(counts.values(), default=0)
    label = (
        f"Events per day, {days[0]} to {days[-1]}: {_events_text(sum(counts.values()))} on "
        f"{len(counts)} of {len(days)} days" + (f", at most {peak} in a day" if peak else "")
    )

    def bar_rect(x: int, count: int) -> str:
        if not count:
            return ""
        # At least a pixel, so a quiet day beside a busy one still shows.
        bar_height = max(1.0, round(plot_height * count / peak, 1))
        return format_html(
            '<rect x="{}" y="{}" width="{}" height="{}" style="fill: var(--primary, #79aec8)"/>',
            x,
            baseline - bar_height,
            bar,
            bar_height,
        )

    slots = format_html_join(
        "",
        '<g><title>{} on {}</title><rect x="{}" y="{}" width="{}" height="{}"/>{}</g>',
        (
            (
                _events_text(counts.get(day, 0)),
                day,
                left + i * slot,
                top,
                bar,
                plot_height,
                bar_rect(left + i * slot, counts.get(day, 0)),
            )
            for i, day in enumerate(days)
        ),
    )
    return format_html(
        '<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{label}" '
        'width="{width}" height="{height}" viewBox="0 0 {width} {height}">'
        "<title>{label}</title>"
        '<g style="fill: var(--hairline-color, #e8e8e8)">{slots}</g>'
        '<g font-size="10" style="fill: var(--body-quiet-color, #666)">'
        '<text x="{y_axis}" y="{peak_y}" text-anchor="end">{peak}</text>'
        '<text x="{y_axis}" y="{baseline}" text-anchor="end">0</text>'
        '<text x="{left}" y="{date_y}">{first}</text>'
        '<text x="{width}" y="{date_y}" text-anchor="end">{last}</text>'
        "</g></svg>",
        label=label,
        width=width,
        height=height,
        slots=slots,
        y_axis=left - 4,
        peak_y=top + 8,
        peak=peak or "",
        baseline=baseline,
        left=left,
        date_y=height - 2,
        first=days[0],
        last=days[-1],
    )


class MetricTotalInline(admin.TabularInline):
    model = MetricTotal
    template = TABULAR_INLINE_TEMPLATE
    fields = ("metric", "total_as_written", "event_count")
    readonly_fields = fields
    total_as_written = number_display("total")
    extra = 0
    can_delete = False
    verbose_name_plural = "metric totals (derived; rebuilt by rebuild)"

    def get_queryset(self, request: HttpRequest) -> QuerySet[MetricTotal]:
        return super().get_queryset(request).select_related("metric")

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


@admin.register(EndUser)
class EndUserAdmin(BaseAdmin):
    list_display = ("external_id", "email", "name", "tz", "tenant_name", "created", "events")
    list_select_related = ("tenant",)
    list_filter = ("tenant", "control", "subscribe_to_emails")
    # `id` is Trophy's user id (external_id); both exact and partial matches are useful.
    search_fields = ("external_id", "email", "name")
    show_full_result_count = False
    inlines = [MetricTotalInline]
    fields = (
        "tenant_link",
        "external_id",
        "email",
        "name",
        "tz",
        "attributes",
        "device_tokens",
        "subscribe_to_emails",
        "notification_preferences",
        "streak_enabled",
        "control",
        "created",
        "updated",
        ("events", "activity"),
        # what the event engine has applied (rebuilt from the log by `rebuild`)
        ("newest_event_at", "derived_stamp", "sequential_stale"),
        "sequential_state",
    )
    # Writes to users carry rules (attribute keys, tz, email opt-out) that live in the
    # user services and the API; the admin shows users and does not edit them.
    readonly_fields = tuple(flatten(fields))

    def get_queryset(self, request: HttpRequest) -> QuerySet[EndUser]:
        # The change page reads the tenant twice: its link and the chart's time zone.
        return super().get_queryset(request).select_related("tenant")

    @admin.display(description="events")
    def events(self, obj: EndUser) -> str:
        # The log's (user, timestamp) index serves it; the tenant keeps the link scoped.
        return _events_link(
            f"tenant__id__exact={obj.tenant_id}&user__id__exact={obj.pk}", "event log →"
        )

    @admin.display(description=f"last {ACTIVITY_DAYS} days")
    def activity(self, obj: EndUser) -> str:
        days, counts = user_recent_activity(user=obj, days=ACTIVITY_DAYS, now=timezone.now())
        return activity_svg(days, counts)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False  # it would take the user's events with it


# --- the event log and derived state -------------------------------------------------


@admin.register(Event)
class EventAdmin(ReadOnlyAdmin):
    list_display = (
        "timestamp",
        "local_date",
        "tenant_name",
        "user_link",
        "metric_key",
        "value_as_written",
        "attributes",
        "idempotency_key",
    )
    list_select_related = ("tenant", "user", "metric")
    # No date_hierarchy: its drill-down runs SELECT DISTINCT over the whole event log,
    # which is slow at millions of rows; the date filters below are range queries.
    list_filter = ("tenant", "metric", "local_date", "timestamp")
    # Exact matches: the users' (tenant, external_id) index and the primary key serve
    # theirs; no index starts with the idempotency key (the log's is (user, metric, key)).
    search_fields = ("=user__external_id", "=idempotency_key", "=id")
    search_help_text = "Exact user id, idempotency key or event id."
    # uuid7 ids grow with arrival time, so "-id" is newest-received first via the primary
    # key index, without sorting the table by timestamp.
    ordering = ("-id",)
    list_per_page = 100
    fields = (
        "id",
        "tenant_link",
        "user",
        "metric",
        "value_as_written",
        "attributes",
        "timestamp",
        "local_date",
        "received_at",
        "idempotency_key",
    )
    readonly_fields = fields
    value_as_written = number_display("value")

    def object_label(self, obj: Event) -> str:
        return (
            f"{obj.user.external_id}: {obj.metric.key} {as_written(obj.value)}"
            f" at {obj.timestamp:%Y-%m-%d %H:%M:%S}"
        )

    @admin.display(description="user", ordering="user__external_id")
    def user_link(self, obj: Event) -> str:
        return _events_link(
            f"tenant__id__exact={obj.tenant_id}&user__id__exact={obj.user_id}",
            obj.user.external_id,
        )

    @admin.display(description="metric", ordering="metric__key")
    def metric_key(self, obj: Event) -> str:
        return obj.metric.key


@admin.register(EventBatch)
class EventBatchAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "tenant_name",
        "status",
        "item_count",
        "processed",
        "received_at",
        "finished_at",
    )
    list_select_related = ("tenant",)
    list_filter = ("status", "tenant")
    search_fields = ("=id",)
    date_hierarchy = "received_at"
    fields = (
        "id",
        "tenant_link",
        "status",
        "items",
        "processed",
        "error",
        "received_at",
        "finished_at",
    )
    readonly_fields = fields

    @admin.display(description="items")
    def item_count(self, obj: EventBatch) -> int:
        return len(obj.items)


class DerivedAdmin(ReadOnlyAdmin):
    list_select_related = ("tenant", "user", "metric")
    list_filter: ClassVar[tuple[Any, ...]] = ("tenant", "metric")
    search_fields = ("=user__external_id",)
    raw_id_fields = ("user",)
    total_as_written = number_display("total")

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        # The change page's label names the user and metric.
        return super().get_queryset(request).select_related("tenant", "user", "metric")


@admin.register(MetricTotal)
class MetricTotalAdmin(DerivedAdmin):
    list_display = ("user", "metric", "tenant_name", "total_as_written", "event_count")
    fields = ("tenant_link", "user", "metric", "total_as_written", "event_count")
    readonly_fields = fields

    def object_label(self, obj: MetricTotal) -> str:
        return f"{obj.user.external_id}: {obj.metric.key} total {as_written(obj.total)}"


@admin.register(DailyRollup)
class DailyRollupAdmin(DerivedAdmin):
    list_display = (
        "local_date",
        "user",
        "metric",
        "tenant_name",
        "total_as_written",
        "event_count",
        "by_attribute",
    )
    list_filter = ("tenant", "local_date")
    ordering = ("-local_date", "-id")
    fields = (
        "tenant_link",
        "user",
        "metric",
        "local_date",
        "total_as_written",
        "event_count",
        "by_attribute",
    )
    readonly_fields = fields

    def object_label(self, obj: DailyRollup) -> str:
        return (
            f"{obj.user.external_id}: {obj.metric.key} {as_written(obj.total)} on {obj.local_date}"
        )


@admin.register(StreakRun)
class StreakRunAdmin(ReadOnlyAdmin):
    """Ended runs of the default daily streak (the run still going is in the user's
    sequential state, on the user's page)."""

    list_display = ("user", "started", "ended", "length", "tenant_name")
    list_select_related = ("tenant", "user")
    list_filter = ("tenant",)
    search_fields = ("=user__external_id",)
    raw_id_fields = ("user",)
    ordering = ("-ended", "-id")
    fields = ("tenant_link", "user", "started", "ended", "length")
    readonly_fields = fields

    def object_label(self, obj: StreakRun) -> str:
        return f"{obj.user.external_id}: {obj.started} to {obj.ended} ({obj.length})"


admin.site.site_header = "Trophy-compatible service: operations"
admin.site.site_title = "Operations"
admin.site.index_title = "Organizations, tenants, users and the event log"
