"""Admin API routes, mounted at /admin-api/v1/ (no trailing slashes, as Trophy has them)."""

from django.urls import path

from . import admin_api as views

urlpatterns = [
    path("attributes", views.AttributesView.as_view(), name="admin-attributes"),
    path("attributes/<str:id>", views.AttributeDetailView.as_view(), name="admin-attribute"),
    path("metrics", views.MetricsView.as_view(), name="admin-metrics"),
    # before metrics/<id>: "events" is not a metric id
    path("metrics/events", views.MetricBatchEventsView.as_view(), name="admin-metric-events"),
    path("metrics/<str:id>", views.MetricDetailView.as_view(), name="admin-metric"),
    path("tenants", views.TenantsView.as_view(), name="admin-tenants"),
    path("tenants/<str:id>", views.TenantDetailView.as_view(), name="admin-tenant"),
]
