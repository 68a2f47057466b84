"""The one domain exception. Services raise it; the API's exception handler turns it into
`{"error": message}` with its status, so every error on the wire has the same shape."""

from __future__ import annotations


class ApiError(Exception):
    status_code = 400

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status_code = status


class BadRequest(ApiError):
    status_code = 400


class Forbidden(ApiError):
    status_code = 403


class NotFound(ApiError):
    status_code = 404


class Unprocessable(ApiError):
    status_code = 422
