"""This service's OpenAPI schema reuses Trophy's own component schemas.

The views declare their responses as references to the components of the vendored
Trophy OpenAPI files (events/api/openapi/), and a drf-spectacular post-processing hook
copies those components into `/api/schema/`. So the schema clients and schemathesis see
is Trophy's wire contract, plus what this service adds.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse

SPEC_DIR = Path(__file__).resolve().parent / "openapi"
APPLICATION_SPEC = SPEC_DIR / "trophy-application-api.openapi.json"
ADMIN_SPEC = SPEC_DIR / "trophy-admin-api.openapi.json"


@lru_cache(maxsize=1)
def trophy_components() -> dict[str, Any]:
    components: dict[str, Any] = {}
    for path in (APPLICATION_SPEC, ADMIN_SPEC):
        components.update(json.loads(path.read_text())["components"]["schemas"])
    return components


def ref(name: str) -> dict[str, str]:
    assert name in trophy_components(), name
    return {"$ref": f"#/components/schemas/{name}"}


def array_of(name: str) -> dict[str, Any]:
    return {"type": "array", "items": ref(name)}


ERROR = OpenApiResponse(response=ref("ErrorBody"), description="Error")


def errors(*codes: int) -> dict[int, OpenApiResponse]:
    """Error responses with the `{"error": ...}` body. 400, 401 and 429 are on every
    endpoint: any request can be malformed (Django itself answers 400 for a Host header
    outside ALLOWED_HOSTS before a view runs), lack a valid key, or exceed an optional
    rate limit (events/api/throttling.py)."""
    return {code: ERROR for code in sorted({400, 401, 429, *codes})}


TENANT_HEADER = OpenApiParameter(
    "Tenant-ID",
    str,
    OpenApiParameter.HEADER,
    required=False,
    description="customerId of the tenant to act in; default: the organization's default tenant.",
)


def add_trophy_components(result: dict[str, Any], **_kwargs: Any) -> dict[str, Any]:
    """drf-spectacular post-processing hook (see SPECTACULAR_SETTINGS)."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    for name, schema in trophy_components().items():
        schemas.setdefault(name, schema)
    return result


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    """The schema's security scheme for `events.api.auth.ApiKeyAuthentication`: every
    operation that takes the key says so (registered on import: the API views import
    this module)."""

    target_class = "events.api.auth.ApiKeyAuthentication"
    name = "ApiKeyAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "apiKey", "in": "header", "name": "X-API-KEY"}
