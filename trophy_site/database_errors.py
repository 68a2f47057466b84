"""A database error that a retry can cure is a 503, on every view, not a 500.

Retryable: the connection broke (PostgreSQL restarted, the backend was terminated, a
failover), PostgreSQL refused a connection or cancelled a transaction (deadlock,
serialization failure), or a failover left the server read-only; on SQLite, the
database was locked past the busy timeout. The request's transaction rolled back (unless
the connection broke during its COMMIT: then nobody knows), Django drops a broken
connection when the request ends, and the next request reconnects; the client retries,
and with an Idempotency-Key an event is recorded once. Any other database error (a
missing table, a bug) stays a 500, which a retry would not fix.

DRF's exception handler (events/api/errors.py) passes these exceptions on, so this
middleware, last in MIDDLEWARE, answers them for the API, the share pages and the admin.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse

logger = logging.getLogger(__name__)

DATABASE_UNAVAILABLE = "Database unavailable, please retry"

# SQLSTATE classes and codes (PostgreSQL's appendix A): 08 connection exception, 40
# transaction rollback (serialization failure, deadlock), 57P01-57P03 admin or crash
# shutdown and "cannot connect now", 53300 too many connections, 25006 read-only
# transaction (a standby promoted late, or connected to by mistake).
RETRYABLE_SQLSTATES = ("08", "40", "57P01", "57P02", "57P03", "53300", "25006")


def is_retryable(exc: BaseException) -> bool:
    if isinstance(exc, InterfaceError):  # the connection is closed or unusable
        return True
    if not isinstance(exc, DatabaseError):
        return False
    cause = exc.__cause__
    sqlstate = getattr(cause, "sqlstate", None)
    if sqlstate is not None:
        return str(sqlstate).startswith(RETRYABLE_SQLSTATES)
    if not isinstance(exc, OperationalError):
        return False
    if type(cause).__module__.startswith("sqlite3"):
        return "locked" in str(exc) or "busy" in str(exc)
    # psycopg: a connection that broke has no SQLSTATE ("server closed the connection
    # unexpectedly", "consuming input failed").
    return True


class DatabaseUnavailableMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not is_retryable(exception):
            return None
        logger.warning("database unavailable: %s: %s", type(exception).__name__, exception)
        response = JsonResponse({"error": DATABASE_UNAVAILABLE}, status=503)
        response["Retry-After"] = "1"
        return response
