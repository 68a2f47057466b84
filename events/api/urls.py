"""Application API routes, mounted at /v1/ (no trailing slashes, as Trophy has them)."""

from django.urls import path

from . import application as views

urlpatterns = [
    path("metrics/<str:key>/event", views.MetricEventView.as_view(), name="metric-event"),
    path("users", views.UserCreateView.as_view(), name="users"),
    path("users/<str:user_id>", views.UserDetailView.as_view(), name="user"),
    path(
        "users/<str:user_id>/preferences",
        views.UserPreferencesView.as_view(),
        name="user-preferences",
    ),
    path("users/<str:user_id>/metrics", views.UserMetricsView.as_view(), name="user-metrics"),
    path(
        "users/<str:user_id>/metrics/<str:key>",
        views.UserMetricView.as_view(),
        name="user-metric",
    ),
    path(
        "users/<str:user_id>/metrics/<str:key>/event-summary",
        views.UserMetricEventSummaryView.as_view(),
        name="user-metric-event-summary",
    ),
]
