"""Wrapped's routes under /v1/ (trophy_site.urls mounts them before the events API)."""

from django.urls import path

from events.api import converters  # noqa: F401 (registers the `id` path converter)

from . import api

urlpatterns = [
    path("users/<id:user_id>/wrapped", api.UserWrappedView.as_view(), name="user-wrapped"),
]
