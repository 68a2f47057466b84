"""Optional per-organization rate limits, like Trophy's two tiers (SEMANTICS §8.3).

Tier 1 (`RATE_LIMIT_WRITES`): metric events and every Admin API endpoint. Tier 2
(`RATE_LIMIT_READS`): the other Application API endpoints. Each is a DRF rate such as
`5/s` or `3000/m`; unset (the default) means no limit, which is what a self-hosted service
usually wants. Counts live in Django's cache: per process with the default local-memory
cache, shared by every process when `CACHE_URL` points at Redis. Over the limit → 429
`{"error": ...}` with `Retry-After`, before the view runs, so nothing changes.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

from .auth import ApiContext

WRITES = "writes"
READS = "reads"


def tier_of(request: Request, view: Any) -> str:
    explicit = getattr(view, "rate_limit_tier", None)
    if explicit is not None:
        return str(explicit)
    return WRITES if request.path.startswith("/admin-api/") else READS


class OrganizationRateThrottle(SimpleRateThrottle):
    def allow_request(self, request: Request, view: Any) -> bool:
        self.scope = tier_of(request, view)
        self.rate = {WRITES: settings.RATE_LIMIT_WRITES, READS: settings.RATE_LIMIT_READS}[
            self.scope
        ]
        if not self.rate:
            return True
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)

    def get_rate(self) -> str | None:  # the rate is chosen per request in allow_request
        return None

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        auth = request.auth
        if not isinstance(auth, ApiContext):
            return None  # unauthenticated requests are answered 401 before this
        return f"throttle:{self.scope}:{auth.organization.pk}"
