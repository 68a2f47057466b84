"""Wrapped's routes under /v1/ (trophy_site.urls mounts them before the events API)."""

from django.urls import path, re_path

from events.api import converters  # noqa: F401 (registers the `id` path converter)

from . import api, pages

urlpatterns = [
    path("users/<id:user_id>/wrapped", api.UserWrappedView.as_view(), name="user-wrapped"),
    path(
        "users/<id:user_id>/wrapped/share",
        api.UserWrappedShareView.as_view(),
        name="user-wrapped-share",
    ),
]

# The public share page and its cards, mounted at /w/ (trophy_site.urls). Any segment
# is routed to the views, so that every token that shows nothing (unknown, revoked,
# malformed) gets the very same 404 from them.
page_urlpatterns = [
    re_path(r"^(?P<token>[^/]+)/$", pages.share_page, name="share-page"),
    re_path(r"^(?P<token>[^/]+)/(?P<fmt>[^/]+)\.png$", pages.share_card, name="share-card"),
]
