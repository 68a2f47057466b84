"""The project's URLs plus `/bench/baseline` (see bench/baseline/views.py)."""

from django.urls import include, path

from bench.baseline.views import BaselineView

urlpatterns = [
    path("bench/baseline", BaselineView.as_view()),
    path("", include("trophy_site.urls")),
]

handler404 = "events.api.errors.json_not_found"
handler500 = "events.api.errors.json_server_error"
