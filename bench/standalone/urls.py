"""URLs of the standalone baseline: `POST /event` and `GET /documents/<id>`."""

from django.urls import path

from .views import DocumentView, EventView

urlpatterns = [
    path("event", EventView.as_view()),
    path("documents/<int:pk>", DocumentView.as_view()),
]
