"""Validate JSON bodies against Trophy's own OpenAPI files (events/api/openapi/).

The files are OpenAPI 3.1, whose schemas are JSON Schema 2020-12. Each whole spec document
is registered as one resource, so `#/components/schemas/...` references inside a component
resolve exactly as in the file. `date` and `date-time` formats are checked strictly (RFC
3339), because an SDK parses them and a loose string would pass unnoticed otherwise.
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from functools import lru_cache
from typing import Any, Literal

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from events.api.openapi import ADMIN_SPEC, APPLICATION_SPEC

Api = Literal["application", "admin"]
SPECS = {"application": APPLICATION_SPEC, "admin": ADMIN_SPEC}
# Trophy's servers: the path prefixes this service mounts each API under.
PREFIXES: dict[Api, str] = {"application": "/v1", "admin": "/admin-api/v1"}
ERROR_COMPONENT: dict[Api, str] = {"application": "ErrorBody", "admin": "AdminErrorBody"}

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")

FORMATS = FormatChecker()


@FORMATS.checks("date", raises=ValueError)
def _is_date(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if not _DATE.match(value):
        raise ValueError(f"{value!r} is not a YYYY-MM-DD date")
    date.fromisoformat(value)
    return True


@FORMATS.checks("date-time", raises=ValueError)
def _is_date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if not _DATE_TIME.match(value):
        raise ValueError(f"{value!r} is not an RFC 3339 date-time with an offset")
    datetime.fromisoformat(value.replace("z", "Z").replace("t", "T"))
    return True


def spec_uri(api: Api) -> str:
    return f"urn:trophy:{api}"


@lru_cache(maxsize=2)
def spec(api: Api) -> dict[str, Any]:
    return json.loads(SPECS[api].read_text())


@lru_cache(maxsize=1)
def registry() -> Registry:
    return Registry().with_resources(
        (spec_uri(api), DRAFT202012.create_resource(spec(api))) for api in ("application", "admin")
    )


def validator_for(schema: dict[str, Any], api: Api) -> Draft202012Validator:
    """A validator for `schema` whose local refs point into Trophy's `api` spec."""
    return Draft202012Validator(
        _anchored(schema, api),
        registry=registry(),
        format_checker=FORMATS,
    )


def _anchored(schema: dict[str, Any], api: Api) -> dict[str, Any]:
    # Rewrite local refs ("#/components/...") to point into the registered spec document.
    text = json.dumps(schema).replace('"#/', f'"{spec_uri(api)}#/')
    return json.loads(text)


def schema_errors(body: Any, schema: dict[str, Any], api: Api) -> list[str]:
    """Every violation of `schema` by `body`, as readable lines (empty when it conforms)."""
    errors = sorted(validator_for(schema, api).iter_errors(body), key=lambda e: list(e.path))
    return [_describe(error) for error in errors]


def _describe(error: ValidationError) -> str:
    where = "/".join(str(part) for part in error.absolute_path) or "(body)"
    return f"{where}: {error.message}"


def assert_component(body: Any, name: str, api: Api = "application") -> None:
    """Fail unless `body` is a valid instance of Trophy's component schema `name`."""
    assert name in spec(api)["components"]["schemas"], f"{name} is not a component of {api}"
    problems = schema_errors(body, {"$ref": f"#/components/schemas/{name}"}, api)
    assert not problems, f"body is not a valid {name}:\n" + "\n".join(problems)


def _match_path(template: str, path: str) -> bool:
    pattern = re.sub(r"\\\{[^}]+\\\}", r"[^/]+", re.escape(template))
    return re.fullmatch(pattern, path) is not None


def operation_for(api: Api, method: str, path: str) -> tuple[str, dict[str, Any]] | None:
    """Trophy's (template, operation) for a request path below the API's prefix, or None.
    A literal path wins over a templated one (`/metrics/events` over `/metrics/{id}`)."""
    candidates = [
        (template, item[method.lower()])
        for template, item in spec(api)["paths"].items()
        if method.lower() in item and _match_path(template, path)
    ]
    candidates.sort(key=lambda c: c[0].count("{"))
    return candidates[0] if candidates else None


def response_schema(api: Api, method: str, path: str, status: int) -> dict[str, Any]:
    """The schema Trophy documents for this response.

    Trophy's files list fewer statuses than the service answers (SEMANTICS A5 and Part B):
    an undocumented error status still has the error body, and the replay of an event
    (202, documented only in Trophy's prose) has the same body as its 201.
    """
    found = operation_for(api, method, path)
    assert found is not None, f"{method} {path} is not an operation of Trophy's {api} API"
    template, operation = found
    responses = operation["responses"]
    documented = responses.get(str(status))
    if documented is None and status >= 400:
        return {"$ref": f"#/components/schemas/{ERROR_COMPONENT[api]}"}
    if documented is None and status == 202 and template == "/metrics/{key}/event":
        documented = responses["201"]
    assert documented is not None, (
        f"{method} {template} answered {status}, which Trophy does not document"
    )
    return documented["content"]["application/json"]["schema"]


def split_url_path(url_path: str) -> tuple[Api, str]:
    """("admin", "/tenants") for "/admin-api/v1/tenants"; application for "/v1/..."."""
    for api in ("admin", "application"):
        prefix = PREFIXES[api]
        if url_path.startswith(prefix + "/"):
            return api, url_path[len(prefix) :]
    raise AssertionError(f"{url_path} is under neither API prefix")


def assert_response_conforms(method: str, url_path: str, status: int, body: Any) -> None:
    """Fail unless the body of this response is what Trophy's spec documents for it."""
    api, path = split_url_path(url_path)
    schema = response_schema(api, method, path, status)
    problems = schema_errors(body, schema, api)
    assert not problems, f"{method} {url_path} -> {status}: body breaks Trophy's schema:\n" + (
        "\n".join(problems)
    )
