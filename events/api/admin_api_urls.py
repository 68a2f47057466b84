"""Admin API routes, mounted at /admin-api/v1/ (no trailing slashes, as Trophy has them)."""

from django.urls import path, re_path

from . import admin_api as views
from . import converters  # noqa: F401 (registers the `id` path converter)
from .errors import api_not_found

urlpatterns = [
    path("attributes", views.AttributesView.as_view(), name="admin-attributes"),
    path("attributes/<id:id>", views.AttributeDetailView.as_view(), name="admin-attribute"),
    path("metrics", views.MetricsView.as_view(), name="admin-metrics"),
    # before metrics/<id>: "events" is not a metric id
    path("metrics/events", views.MetricBatchEventsView.as_view(), name="admin-metric-events"),
    path("metrics/<id:id>", views.MetricDetailView.as_view(), name="admin-metric"),
    path("tenants", views.TenantsView.as_view(), name="admin-tenants"),
    path("tenants/<id:id>", views.TenantDetailView.as_view(), name="admin-tenant"),
    # Anything else under /admin-api/v1/ is an API 404 in JSON, with DEBUG on too.
    re_path(r"^.*$", api_not_found),
]
