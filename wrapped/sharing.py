"""Share links, and the cards and pages drawn for them from the stored summary alone.

- A share link is a user's opt-in for one year: an unguessable token (192 bits from
  `secrets`). Revoking deletes the row, so a revoked token and an unknown one are the
  same to the page and the images.
- `Shared` is what one query finds for a token: the link, its user and tenant, and the
  tenant's branding.
- Cards are PNGs from `wrapped.cards.render_card`, stored in the "cards" storage under
  a hash of what they are drawn from (the summary's `activity`, the display name, the
  branding, the format, the host and RENDERER_VERSION): a file, once written, is right
  for as long as its name is asked for, and launch day serves files.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import secrets
import threading
from dataclasses import dataclass
from functools import cached_property
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.urls import reverse

from events.db.prepared import PreparedQuery
from events.models import EndUser, Tenant
from events.models.tenancy import TenantStatus

from .branding import Brand
from .cards import FORMATS, RENDERER_VERSION, render_card
from .models import Branding, ShareLink
from .recap import Recap, recap_of
from .services import summary_activity

logger = logging.getLogger(__name__)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_END = b"\x00\x00\x00\x00IEND\xaeB`\x82"  # the IEND chunk, always last
TOKEN_BYTES = 24  # 192 bits
TOKEN = re.compile(r"[A-Za-z0-9_-]{1,64}")
PAGE_VERSION = 1  # bump when the page template changes what it shows


def share_link_get_or_create(*, tenant: Tenant, user: EndUser, year: int) -> tuple[ShareLink, bool]:
    """The user's share link of `year`, made now if there is none. Returns (link, created)."""
    existing = ShareLink.objects.filter(user=user, year=year).first()
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            link = ShareLink.objects.create(
                tenant=tenant, user=user, year=year, token=secrets.token_urlsafe(TOKEN_BYTES)
            )
    except IntegrityError:  # a concurrent request made it first
        return ShareLink.objects.get(user=user, year=year), False
    return link, True


def share_link_revoke(*, user: EndUser, year: int) -> bool:
    """Revoke the user's share link of `year`: its page and cards answer 404 from now on.
    Returns whether there was one."""
    deleted, _ = ShareLink.objects.filter(user=user, year=year).delete()
    return deleted > 0


# -- What a token shows ----------------------------------------------------------------

_logos: dict[str, bytes] = {}
_logos_lock = threading.Lock()


def _logo_bytes(branding: Branding) -> bytes | None:
    """The logo file's bytes, read once per process per file (an upload gets a new name)."""
    name = branding.logo.name if branding.logo else ""
    if not name:
        return None
    if name not in _logos:
        try:
            with branding.logo.open("rb") as file:
                content = file.read()
        except OSError:  # gone from the storage: drawn without, read again next time
            return None
        with _logos_lock:
            _logos[name] = content
    return _logos[name]


def brand_of(tenant: Tenant, branding: Branding | None) -> Brand:
    if branding is None:
        return Brand(name=tenant.name)
    return Brand(
        name=branding.display_name or tenant.name,
        background=branding.background_color,
        accent=branding.accent_color,
        logo=_logo_bytes(branding),
        locale=branding.locale,
    )


@dataclass
class Shared:
    """A recap as shared: whose, of which year, in which branding."""

    tenant: Tenant
    user: EndUser
    year: int
    branding: Branding | None
    token: str = ""

    @cached_property
    def brand(self) -> Brand:
        return brand_of(self.tenant, self.branding)

    @property
    def allow_indexing(self) -> bool:
        return self.branding is not None and self.branding.allow_indexing


def branding_of(tenant: Tenant) -> Branding | None:
    return Branding.objects.filter(tenant=tenant).first()


# A page's or card's first query, compiled once per process (events/db/prepared.py): the
# link with its user, tenant and branding. Compiling it cost about as much as the rest of
# a stored card's request (in-process, SQLite demo: 1.8 ms per card request before).
LINK_BY_TOKEN = PreparedQuery(
    lambda token, status: (
        ShareLink.objects.select_related("user", "tenant", "tenant__branding")
        .filter(token=token, tenant__status=status)
        .order_by()[:1]
    ),
    samples=["sample-token", "sample-status"],
    fields=[ShareLink._meta.get_field("token"), Tenant._meta.get_field("status")],
)


def shared_by_token(token: str) -> Shared | None:
    """What the token shows, in one query; None when no such link exists (unknown or
    revoked: the same), or when its tenant is archived."""
    if not TOKEN.fullmatch(token):  # nothing we made (and no NUL byte for PostgreSQL)
        return None
    found = LINK_BY_TOKEN.objects(token, TenantStatus.ACTIVE.value)
    if not found:
        return None
    link: ShareLink = found[0]
    try:
        branding: Branding | None = link.tenant.branding
    except Branding.DoesNotExist:
        branding = None
    return Shared(link.tenant, link.user, link.year, branding, token=link.token)


@dataclass(frozen=True)
class Rendition:
    """A shared recap as of its stored summary: the recap, and the digest of everything
    a page or card is drawn from (the page's ETag and the cards' cache keys)."""

    shared: Shared
    activity: str  # the summary's JSON text
    host: str
    digest: str

    @property
    def recap(self) -> Recap:
        return recap_of(
            json.loads(self.activity),
            year=self.shared.year,
            name=self.shared.user.name or "",
            locale=self.shared.brand.locale,
        )

    def card_key(self, fmt: str) -> str:
        return hashlib.sha256(f"{self.digest}:{fmt}:{RENDERER_VERSION}".encode()).hexdigest()

    @property
    def etag(self) -> str:
        return f'"{self.digest[:32]}-{PAGE_VERSION}-{RENDERER_VERSION}"'


def rendition(shared: Shared, host: str) -> Rendition:
    """The shared recap as of now: its stored summary (computed first when stale)."""
    activity = summary_activity(tenant=shared.tenant, user=shared.user, year=shared.year)
    return rendition_of(shared, activity, host)


def rendition_of(shared: Shared, activity: str, host: str) -> Rendition:
    """The shared recap of this summary `activity` (JSON text)."""
    branding = shared.branding
    parts: list[Any] = [
        activity,
        shared.user.name or "",
        shared.year,
        shared.tenant.name,
        host,
        branding and branding.updated.isoformat(),
        branding and branding.logo.name,
        shared.brand.logo is not None,  # a logo file gone missing: drawn without it
    ]
    digest = hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()
    return Rendition(shared, activity, host, digest)


def card_name(key: str) -> str:
    return f"{key[:2]}/{key}.png"


def card_png(rendered: Rendition, fmt: str) -> bytes:
    """The card's PNG: from the cards storage when it was drawn before, else drawn now
    and stored."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown card format {fmt!r}")
    storage = storages["cards"]
    name = card_name(rendered.card_key(fmt))
    try:
        with storage.open(name, "rb") as file:
            stored = bytes(file.read())
        # Whole, or drawn again: a file being written by another request (or left half
        # written by a killed process) must not be served, and cached for a year.
        if stored.startswith(PNG_SIGNATURE) and stored.endswith(PNG_END):
            return stored
    except FileNotFoundError:
        pass
    png = render_card(rendered.recap, rendered.shared.brand, fmt, host=rendered.host)
    saved = storage.save(name, ContentFile(png))
    if saved != name:  # a storage that does not overwrite renamed it: it would never be found
        storage.delete(saved)
        logger.warning(
            "The cards storage saved %s as %s: configure it to overwrite files "
            "(FileSystemStorage allow_overwrite=True, S3Storage file_overwrite=True).",
            name,
            saved,
        )
    return png


def cards_render(rendered: Rendition) -> int:
    """Draw and store every format's card not stored yet. Returns how many were drawn."""
    storage = storages["cards"]
    drawn = 0
    for fmt in FORMATS:
        name = card_name(rendered.card_key(fmt))
        if not storage.exists(name):
            card_png(rendered, fmt)
            drawn += 1
    return drawn


# -- Addresses -------------------------------------------------------------------------


def base_url(request: HttpRequest) -> str:
    """Where share links point: SHARE_BASE_URL, else the scheme and host the request came to."""
    return settings.SHARE_BASE_URL or f"{request.scheme or 'http'}://{request.get_host()}"


def host_of(base: str) -> str:
    """The host printed on cards, of a base URL."""
    return urlsplit(base).netloc


def share_urls(rendered: Rendition, base: str) -> dict[str, Any]:
    """The page's and the cards' URLs. A card's carries the version it shows (`v`), so it
    can be cached for good: a new summary or branding gives a new URL."""
    page = base + reverse("share-page", args=[rendered.shared.token])
    return {
        "url": page,
        "token": rendered.shared.token,
        "images": {fmt: f"{page}{fmt}.png?v={rendered.card_key(fmt)[:16]}" for fmt in FORMATS},
    }


def cards_precompute(
    *, tenant: Tenant, year: int, host: str, share: int = 0, shares: int = 1
) -> int:
    """Draw and store the cards of every shared recap of the tenant's `year` not drawn yet
    (this process's `share` of them, by user id). Returns how many cards were drawn."""
    links = (
        ShareLink.objects.filter(tenant=tenant, year=year)
        .select_related("user")
        .order_by("user_id")
    )
    branding = branding_of(tenant)
    drawn = 0
    for index, link in enumerate(links.iterator(chunk_size=500)):
        if index % shares == share:
            shared = Shared(tenant, link.user, year, branding, token=link.token)
            drawn += cards_render(rendition(shared, host))
    return drawn


def share(*, tenant: Tenant, user: EndUser, year: int, base: str) -> tuple[dict[str, Any], bool]:
    """Share the user's recap of `year` (the link made if there is none) and return its
    page's and cards' URLs under `base`, and whether the link is new. The summary is
    brought up to date on the way, so the cards' versions are the current ones."""
    link, created = share_link_get_or_create(tenant=tenant, user=user, year=year)
    shared = Shared(tenant, user, year, branding_of(tenant), token=link.token)
    return share_urls(rendition(shared, host=host_of(base)), base), created
