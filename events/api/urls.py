"""Application API routes, mounted at /v1/ (no trailing slashes, as Trophy has them)."""

from django.urls import path, re_path

from . import application as views
from . import converters  # noqa: F401 (registers the `id` path converter)
from .errors import api_not_found

urlpatterns = [
    path("metrics/<id:key>/event", views.MetricEventView.as_view(), name="metric-event"),
    path("users", views.UserCreateView.as_view(), name="users"),
    path("users/<id:user_id>", views.UserDetailView.as_view(), name="user"),
    path(
        "users/<id:user_id>/preferences",
        views.UserPreferencesView.as_view(),
        name="user-preferences",
    ),
    path("users/<id:user_id>/metrics", views.UserMetricsView.as_view(), name="user-metrics"),
    path(
        "users/<id:user_id>/metrics/<id:key>",
        views.UserMetricView.as_view(),
        name="user-metric",
    ),
    path(
        "users/<id:user_id>/metrics/<id:key>/event-summary",
        views.UserMetricEventSummaryView.as_view(),
        name="user-metric-event-summary",
    ),
    # Anything else under /v1/ is an API 404 in JSON, with DEBUG on too (Django's
    # debug 404 page is HTML).
    re_path(r"^.*$", api_not_found),
]
