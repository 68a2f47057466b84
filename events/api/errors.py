"""One exception handler for every API view: errors are always `{"error": "..."}`.

Validation errors from serializers carry a code; the code `unprocessable` means "well
formed but invalid" (SEMANTICS A5) and maps to 422, every other validation error to 400.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response

from ..exceptions import ApiError

UNPROCESSABLE = "unprocessable"


def first_error(detail: Any, path: str = "") -> tuple[str, str]:
    """Return (message naming the field, code) for the first error in a DRF detail tree."""
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = "" if key == "non_field_errors" else str(key)
            return first_error(value, f"{path}.{name}" if path and name else (name or path))
    if isinstance(detail, list):
        for index, value in enumerate(detail):
            if isinstance(value, dict | list):
                return first_error(value, f"{path}[{index}]" if path else f"[{index}]")
            return first_error(value, path)
        return (f"{path}: invalid" if path else "invalid", "invalid")
    message = str(detail)
    code = getattr(detail, "code", None) or "invalid"
    return (f"{path}: {message}" if path else message, code)


def as_unprocessable(errors: Any) -> Any:
    """A serializer's errors as 422s: query parameters are always well-formed strings,
    so a bad one is well formed but invalid."""
    if isinstance(errors, dict):
        return {k: as_unprocessable(v) for k, v in errors.items()}
    if isinstance(errors, list):
        return [as_unprocessable(v) for v in errors]
    return serializers.ErrorDetail(str(errors), code=UNPROCESSABLE)


def error_response(
    message: str, status_code: int, headers: dict[str, str] | None = None
) -> Response:
    return Response({"error": message}, status=status_code, headers=headers)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, ApiError):
        return error_response(exc.message, exc.status_code)
    if isinstance(exc, exceptions.ValidationError):
        message, code = first_error(exc.detail)
        status_code = (
            status.HTTP_422_UNPROCESSABLE_ENTITY
            if code == UNPROCESSABLE
            else status.HTTP_400_BAD_REQUEST
        )
        return error_response(message, status_code)
    if isinstance(exc, exceptions.ParseError):
        return error_response(f"Malformed request body: {exc.detail}", status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        return error_response(str(exc.detail), status.HTTP_401_UNAUTHORIZED)
    if isinstance(exc, Http404):
        return error_response("Not found", status.HTTP_404_NOT_FOUND)
    if isinstance(exc, PermissionDenied):
        return error_response("Forbidden", status.HTTP_403_FORBIDDEN)
    if isinstance(exc, exceptions.Throttled):
        headers = {"Retry-After": str(int(getattr(exc, "wait", None) or 1))}
        return error_response("Rate limit exceeded", status.HTTP_429_TOO_MANY_REQUESTS, headers)
    if isinstance(exc, exceptions.APIException):
        detail = exc.detail
        message = str(detail) if not isinstance(detail, dict | list) else first_error(detail)[0]
        return error_response(message, exc.status_code)
    # Unexpected: Django answers it, a 503 for a database error that a retry can cure
    # (trophy_site/database_errors.py), else a 500 (json_server_error below), logged.
    return None


def json_bad_request(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    # Django answers 400 itself before any view runs, e.g. for a Host header not in
    # ALLOWED_HOSTS; without this the body would be an HTML page.
    return JsonResponse({"error": "Bad request"}, status=400)


def json_not_found(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return JsonResponse({"error": "Not found"}, status=404)


@csrf_exempt
def api_not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
    """The last route under /v1/ and /admin-api/v1/: any other path is a JSON 404, also
    with DEBUG on (where Django answers its HTML debug page instead of handler404), and
    for any method (no CSRF check: there is nothing here to protect)."""
    return json_not_found(request)


def json_server_error(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"error": "Internal server error"}, status=500)
