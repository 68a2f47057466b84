"""/healthz and /readyz for load balancers, and the request id in responses and logs."""

from __future__ import annotations

import io
import json
import logging
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from trophy_site import health
from trophy_site.request_id import JsonFormatter, RequestIdFilter


def test_healthz_answers_without_the_database_whatever_the_host(client, db):
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/healthz", HTTP_HOST="10.1.2.3")  # not in ALLOWED_HOSTS
    assert response.status_code == 200 and response.json() == {"status": "ok"}
    assert response["Cache-Control"] == "no-store"
    assert len(queries) == 0


def test_readyz_checks_the_database_and_migrations(client, db):
    response = client.get("/readyz", HTTP_HOST="10.1.2.3")
    assert response.status_code == 200, response.json()
    assert response.json() == {
        "status": "ready",
        "checks": {"database": "ok", "migrations": "ok", "broker": "not configured"},
    }


def test_readyz_is_503_while_a_migration_is_not_applied(client, db, monkeypatch):
    monkeypatch.setattr(health, "_migrated", False)  # a process that has not seen them yet
    with connection.cursor() as cursor:  # rolled back with the test's transaction
        cursor.execute("DELETE FROM django_migrations WHERE app = 'wrapped'")
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "not ready" and body["checks"]["database"] == "ok"
    assert (
        "not applied" in body["checks"]["migrations"] and "wrapped." in body["checks"]["migrations"]
    )


def test_readyz_is_503_when_the_broker_does_not_answer(client, db, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["broker"].startswith("OperationalError")


@pytest.mark.redis
def test_readyz_reaches_a_configured_broker(client, db, settings):
    import os

    settings.CELERY_BROKER_URL = os.environ["REDIS_URL"]
    response = client.get("/readyz")
    assert response.status_code == 200 and response.json()["checks"]["broker"] == "ok"


def test_every_response_carries_a_request_id(client, db):
    made = client.get("/healthz")["X-Request-ID"]
    kept = client.get("/healthz", HTTP_X_REQUEST_ID="lb-1234.abc:5")["X-Request-ID"]
    replaced = client.get("/healthz", HTTP_X_REQUEST_ID="bad id\twith spaces")["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", made)
    assert kept == "lb-1234.abc:5"
    assert re.fullmatch(r"[0-9a-f]{32}", replaced)
    assert client.get("/v1/users/x", HTTP_X_REQUEST_ID="abc")["X-Request-ID"] == "abc"


def test_log_lines_carry_the_request_id_as_json(client, db):
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        response = client.get("/no-such-page", HTTP_X_REQUEST_ID="trace-42")
        logging.getLogger("outside").warning("no request here")
    finally:
        root.removeHandler(handler)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    not_found = [line for line in lines if line["logger"] == "django.request"]
    assert response.status_code == 404
    assert not_found and not_found[0]["request_id"] == "trace-42"
    assert not_found[0]["level"] == "WARNING" and "/no-such-page" in not_found[0]["message"]
    assert lines[-1]["request_id"] == "-" and lines[-1]["message"] == "no request here"


def test_health_checks_are_not_redirected_to_https(client, db, settings):
    settings.SECURE_SSL_REDIRECT = True
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200
    assert client.get("/v1/users/x").status_code == 301
    # Behind a proxy that says the request came over HTTPS, nothing is redirected.
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    assert client.get("/v1/users/x", HTTP_X_FORWARDED_PROTO="https").status_code == 401
