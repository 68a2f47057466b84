"""The public share page `/w/<token>/` and its cards `/w/<token>/<format>.png`.

No key, no session: the token is the permission. An unknown and a revoked token get
the very same 404 (`NOT_FOUND`), for the page and for every image. The page is served
with an ETag and `Cache-Control: no-cache` (a repeat is a 304, and a revocation is seen
at once); a card whose URL names its version (`?v=`, as the page and the API give it)
is cached for a year, as that URL's content never changes.

Link-preview bots (Slack, iMessage, X, Facebook) fetch the same page and the `og` card:
nothing is different for them.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.template.loader import render_to_string
from django.utils.cache import get_conditional_response, patch_vary_headers
from django.views.decorators.http import require_safe

from events.exceptions import NotFound

from .branding import palette
from .cards import FORMATS
from .recap import Recap
from .sharing import (
    Rendition,
    Shared,
    base_url,
    card_png,
    host_of,
    rendition,
    share_urls,
    shared_by_token,
)

NOT_FOUND_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>Not found</title></head>
<body><main><h1>This recap is not available</h1>
<p>The link may have been turned off by its owner.</p></main></body></html>
"""

CARD_MAX_AGE = 365 * 24 * 3600
PAGE_CACHE = "public, no-cache"  # stored, but revalidated (ETag) on every use


def not_found() -> HttpResponse:
    """One 404 for every token that shows nothing, whatever the reason."""
    response = HttpResponse(NOT_FOUND_PAGE, status=404, content_type="text/html; charset=utf-8")
    response["Cache-Control"] = "no-store"
    response["X-Robots-Tag"] = "noindex"
    return response


def page_html(rendered: Rendition, *, page_url: str, images: dict[str, str]) -> str:
    """The share page of a recap (also the admin's preview, with other image URLs)."""
    shared: Shared = rendered.shared
    recap: Recap = rendered.recap
    brand = shared.brand
    width, height = FORMATS["og"]
    story_width, story_height = FORMATS["story"]
    context: dict[str, Any] = {
        "recap": recap,
        "brand": brand,
        # Only a logo that could be read (the cards are drawn without a missing one).
        "logo_url": shared.branding.logo.url if shared.branding and brand.logo else "",
        "colors": palette(brand).css(),
        "page_url": page_url,
        "images": images,
        "og_width": width,
        "og_height": height,
        "story_width": story_width,
        "story_height": story_height,
        "noindex": not shared.allow_indexing,
    }
    return render_to_string("wrapped/share.html", context)


def _cached(
    response: HttpResponseBase, shared: Shared, etag: str, cache_control: str
) -> HttpResponseBase:
    """The caching and robots headers, on a 200 and on a 304 alike."""
    response["ETag"] = etag
    response["Cache-Control"] = cache_control
    if not shared.allow_indexing:
        response["X-Robots-Tag"] = "noindex"
    return response


def _rendition(shared: Shared, request: HttpRequest) -> Rendition | None:
    """The shared recap as of now; None if its user was deleted meanwhile."""
    try:
        return rendition(shared, host=host_of(base_url(request)))
    except NotFound:
        return None


@require_safe
def share_page(request: HttpRequest, token: str) -> HttpResponseBase:
    shared = shared_by_token(token)
    rendered = _rendition(shared, request) if shared is not None else None
    if shared is None or rendered is None:
        return not_found()
    unchanged = get_conditional_response(request, etag=rendered.etag)
    if unchanged is not None:
        return _cached(unchanged, shared, rendered.etag, PAGE_CACHE)
    urls = share_urls(rendered, base_url(request))
    html = page_html(rendered, page_url=urls["url"], images=urls["images"])
    response = HttpResponse(html, content_type="text/html; charset=utf-8")
    patch_vary_headers(response, ["Accept-Encoding"])
    return _cached(response, shared, rendered.etag, PAGE_CACHE)


@require_safe
def share_card(request: HttpRequest, token: str, fmt: str) -> HttpResponseBase:
    shared = shared_by_token(token) if fmt in FORMATS else None
    rendered = _rendition(shared, request) if shared is not None else None
    if shared is None or rendered is None:
        return not_found()
    key = rendered.card_key(fmt)
    etag = f'"{key[:32]}"'
    # A URL naming the version it shows never changes; without it, the card as of now.
    versioned = request.GET.get("v") == key[:16]
    cache = f"public, max-age={CARD_MAX_AGE}, immutable" if versioned else PAGE_CACHE
    unchanged = get_conditional_response(request, etag=etag)
    if unchanged is not None:
        return _cached(unchanged, shared, etag, cache)
    response = HttpResponse(card_png(rendered, fmt), content_type="image/png")
    return _cached(response, shared, etag, cache)
