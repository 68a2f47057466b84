"""A request id for every request, so that an integrator's failed call can be found in
the logs.

`RequestIdMiddleware` (first in MIDDLEWARE) takes the id from the `X-Request-ID` header
when it is a sane token (1-128 characters of letters, digits and `._:-`; what load
balancers and tracing proxies send), else makes one (32 hex digits), returns it in the
response's `X-Request-ID` and keeps it in a context variable until the response is
closed.
`RequestIdFilter` puts it on every log record as `request_id` ("-" outside a request),
and `JsonFormatter` writes one JSON object per line when LOG_FORMAT=json.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Callable
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from django.core.signals import request_finished
from django.dispatch import receiver
from django.http import HttpRequest

REQUEST_ID: ContextVar[str] = ContextVar("request_id", default="-")
HEADER = "X-Request-ID"
ACCEPTED = re.compile(r"[A-Za-z0-9._:-]{1,128}")


class RequestIdMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> Any:
        given = request.headers.get(HEADER, "")
        request_id = given if ACCEPTED.fullmatch(given) else uuid.uuid4().hex
        # Kept until the response is closed (`forget`): Django logs a 4xx or 5xx after
        # the middleware has returned.
        REQUEST_ID.set(request_id)
        response = self.get_response(request)
        response[HEADER] = request_id
        return response


@receiver(request_finished)
def forget(**_kwargs: Any) -> None:
    """After the response: log records outside a request carry "-"."""
    REQUEST_ID.set("-")


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = REQUEST_ID.get()
        return True


class JsonFormatter(logging.Formatter):
    """One line of JSON per record: time, level, logger, message, request_id, and the
    traceback when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", REQUEST_ID.get()),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)
