"""`GET /healthz` and `GET /readyz`, for load balancers and orchestrators.

Answered by the first middleware, before Django validates the Host header (a load
balancer calls by IP address), before sessions, authentication and the URL resolver:

- `/healthz`: the process is up and answering. No database work; always 200.
- `/readyz`: this process can serve: the database answers (`SELECT 1`), every migration
  is applied (checked until it is once, then remembered: a new migration comes with a new
  deploy, so with new processes) and, when CELERY_BROKER_URL is set, the broker accepts a
  connection (1 s timeout). 200 `{"status": "ready", "checks": {...}}`, else 503 with the
  failing check's error. A ready check costs one `SELECT 1` and, with a broker, one
  connection to it: cheap enough to be called every second.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, HttpResponse, JsonResponse
from kombu import Connection

logger = logging.getLogger(__name__)

_migrated = False  # once every migration was found applied, in this process


def database_check() -> None:
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute("SELECT 1")


def migrations_check() -> None:
    global _migrated
    if _migrated:
        return
    executor = MigrationExecutor(connections[DEFAULT_DB_ALIAS])
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if plan:
        names = ", ".join(f"{m.app_label}.{m.name}" for m, _backwards in plan[:5])
        raise RuntimeError(f"{len(plan)} migrations not applied ({names}): run manage.py migrate")
    _migrated = True


def broker_check() -> None:
    with Connection(settings.CELERY_BROKER_URL, connect_timeout=1) as broker:
        broker.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=1)


def readiness() -> tuple[bool, dict[str, str]]:
    checks: dict[str, Callable[[], None] | None] = {
        "database": database_check,
        "migrations": migrations_check,
        "broker": broker_check if settings.CELERY_BROKER_URL else None,
    }
    results: dict[str, str] = {}
    ready = True
    for name, check in checks.items():
        if check is None:
            results[name] = "not configured"
            continue
        try:
            check()
            results[name] = "ok"
        except Exception as error:  # any failure means "not ready", never a 500
            ready = False
            results[name] = f"{type(error).__name__}: {error}".strip()[:300]
            logger.warning("readiness check %s failed: %s", name, results[name])
    return ready, results


class HealthMiddleware:
    """Answers /healthz and /readyz itself (first in MIDDLEWARE)."""

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> Any:
        path = request.path_info
        if path == "/healthz":
            return no_store(JsonResponse({"status": "ok"}))
        if path == "/readyz":
            ready, checks = readiness()
            body = {"status": "ready" if ready else "not ready", "checks": checks}
            return no_store(JsonResponse(body, status=200 if ready else 503))
        return self.get_response(request)


def no_store(response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = "no-store"
    return response
