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
from urllib.parse import urlsplit

from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.template.loader import render_to_string
from django.utils.cache import get_conditional_response, patch_vary_headers
from django.views.decorators.http import require_safe

from .branding import palette
from .cards import FORMATS
from .recap import Recap
from .sharing import Rendition, Shared, base_url, card_png, rendition, share_urls, shared_by_token

NOT_FOUND_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>Not found</title></head>
<body><main><h1>This recap is not available</h1>
<p>The link may have been turned off by its owner.</p></main></body></html>
"""

CARD_MAX_AGE = 365 * 24 * 3600


def not_found() -> HttpResponse:
    """One 404 for every token that shows nothing, whatever the reason."""
    response = HttpResponse(NOT_FOUND_PAGE, status=404, content_type="text/html; charset=utf-8")
    response["Cache-Control"] = "no-store"
    response["X-Robots-Tag"] = "noindex"
    return response


def share_base(request: HttpRequest) -> str:
    return base_url(request.scheme or "http", request.get_host())


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
        "logo_url": shared.branding.logo.url if shared.branding and shared.branding.logo else "",
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


@require_safe
def share_page(request: HttpRequest, token: str) -> HttpResponseBase:
    shared = shared_by_token(token)
    if shared is None:
        return not_found()
    base = share_base(request)
    rendered = rendition(shared, host=urlsplit(base).netloc)
    unchanged = get_conditional_response(request, etag=rendered.etag)
    if unchanged is not None:
        return unchanged
    urls = share_urls(rendered, base)
    html = page_html(rendered, page_url=urls["url"], images=urls["images"])
    response = HttpResponse(html, content_type="text/html; charset=utf-8")
    response["ETag"] = rendered.etag
    response["Cache-Control"] = "public, no-cache"
    if not shared.allow_indexing:
        response["X-Robots-Tag"] = "noindex"
    patch_vary_headers(response, ["Accept-Encoding"])
    return response


@require_safe
def share_card(request: HttpRequest, token: str, fmt: str) -> HttpResponseBase:
    shared = shared_by_token(token)
    if shared is None or fmt not in FORMATS:
        return not_found()
    rendered = rendition(shared, host=urlsplit(share_base(request)).netloc)
    key = rendered.card_key(fmt)
    etag = f'"{key[:32]}"'
    unchanged = get_conditional_response(request, etag=etag)
    if unchanged is not None:
        return unchanged
    response = HttpResponse(card_png(rendered, fmt), content_type="image/png")
    response["ETag"] = etag
    if request.GET.get("v") == key[:16]:
        response["Cache-Control"] = f"public, max-age={CARD_MAX_AGE}, immutable"
    else:  # the card as of now, under a URL whose content changes with the summary
        response["Cache-Control"] = "public, no-cache"
    if not shared.allow_indexing:
        response["X-Robots-Tag"] = "noindex"
    return response
