"""The project's URLs plus `/bench/baseline`: the standalone baseline's view (bench/standalone/views.py)."""

from django.urls import include, path

from bench.standalone.views import EventView

urlpatterns = [
    path("bench/baseline", EventView.as_view()),
    path("", include("trophy_site.urls")),
]

handler404 = "events.api.errors.json_not_found"
handler500 = "events.api.errors.json_server_error"
