"""Shared fixtures: an organization with its key (the "owner"), a second organization
(the "outsider", for tenant isolation), API clients for both, and service gates."""

from __future__ import annotations

import importlib
import os
import sys
import types
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import redis
from celery.contrib.testing.worker import start_worker
from celery.signals import task_postrun
from django.db import connection
from rest_framework.test import APIClient

from events.models import Metric, Organization, Tenant
from events.selectors.config import clear_config_cache
from events.services.organizations import organization_create
from trophy_site.celery import app

REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES") == "1"
# Debian's Chromium, driven by Playwright (a downloaded browser does not install here).
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")

# schemathesis' pytest plugin imports its report writers at session end, when a live
# server's request threads may still be finishing. Bytecode is not cached here
# (PYTHONDONTWRITEBYTECODE=1 on these machines), so pytest compiles (assertion-rewrites)
# those modules then, with other threads running, and CPython 3.11's AST validator can
# fail with "AST constructor recursion depth mismatch" (seen in CI). Import them now,
# before any thread starts; the optional allure writer (its `allure_commons` is not
# installed) is registered as an empty module, so the session-end import fails fast with
# the ImportError schemathesis expects instead of compiling it again.
for _writer in ("html.writer", "junitxml", "allure"):
    _name = f"schemathesis.reporting.{_writer}"
    try:
        importlib.import_module(_name)
    except ImportError:
        sys.modules[_name] = types.ModuleType(_name)


def pytest_runtest_setup(item: Any) -> None:
    """Tests marked `postgres` need PostgreSQL (`redis` a Redis server, `browser`
    Chromium): skipped without it
    locally, but with REQUIRE_SERVICES=1 (CI) they fail instead, so nothing is silently
    skipped there."""
    if "postgres" in item.keywords and connection.vendor != "postgresql":
        message = "needs PostgreSQL: set DATABASE_URL=postgres://..."
        if REQUIRE_SERVICES:
            pytest.fail(message + " (REQUIRE_SERVICES=1)")
        pytest.skip(message)
    if "browser" in item.keywords and not os.path.exists(CHROMIUM):
        message = f"needs headless Chromium at {CHROMIUM} (apt-get install chromium)"
        if REQUIRE_SERVICES:
            pytest.fail(message + " (REQUIRE_SERVICES=1)")
        pytest.skip(message)
    if "redis" in item.keywords and not os.environ.get("REDIS_URL"):
        message = "needs Redis: set REDIS_URL=redis://127.0.0.1:6379/15"
        if REQUIRE_SERVICES:
            pytest.fail(message + " (REQUIRE_SERVICES=1)")
        pytest.skip(message)


@dataclass
class Account:
    organization: Organization
    key: str

    @property
    def tenant(self) -> Tenant:
        tenant = self.organization.default_tenant
        assert tenant is not None
        return tenant

    def client(self, tenant_id: str | None = None) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_X_API_KEY=self.key)
        if tenant_id is not None:
            client.credentials(HTTP_X_API_KEY=self.key, HTTP_TENANT_ID=tenant_id)
        return client


@pytest.fixture(autouse=True)
def _fresh_config_cache() -> None:
    # Tests roll back their transactions; a cached config could outlive the rows.
    clear_config_cache()


@pytest.fixture
def owner(db: None) -> Account:
    organization, key = organization_create(name="Acme")
    return Account(organization, key)


@pytest.fixture
def outsider(db: None) -> Account:
    organization, key = organization_create(name="Other Co")
    return Account(organization, key)


@pytest.fixture
def api(owner: Account) -> APIClient:
    return owner.client()


@pytest.fixture
def words(owner: Account) -> Metric:
    return Metric.objects.create(tenant=owner.tenant, key="words", name="Words written")


def _drop_broker_pools() -> None:
    # Celery keeps its connection and producer pools for the broker they were made for;
    # nothing public resets both.
    if app._pool is not None:
        app._pool.force_close_all()
    app._pool = None
    app.amqp._producer_pool = None


@pytest.fixture
def redis_broker(transactional_db) -> Iterator[str]:
    """This process sends tasks to the Redis at REDIS_URL (not eagerly), under keys with a
    per-test prefix (yielded), so that workers of other test runs on the same Redis
    database never take them; workers for these tasks use the same prefix."""
    saved = {
        key: app.conf.get(key)
        for key in ("broker_url", "task_always_eager", "broker_transport_options")
    }
    prefix = f"test-{uuid.uuid4().hex}:"
    _drop_broker_pools()  # eager .delay() calls made pools for the default broker
    app.conf.update(
        broker_url=os.environ["REDIS_URL"],
        task_always_eager=False,
        broker_transport_options={
            **(saved["broker_transport_options"] or {}),
            "global_keyprefix": prefix,
        },
    )
    try:
        yield prefix
    finally:
        _drop_broker_pools()
        app.conf.update(saved)
        client = redis.Redis.from_url(os.environ["REDIS_URL"])
        for key in client.scan_iter(match=f"{prefix}*"):
            client.delete(key)
        client.close()


@pytest.fixture
def redis_worker(redis_broker: str) -> Iterator[None]:
    """A real Celery worker (in a thread) on the Redis broker, against the test database."""

    def close_connection(**_kwargs: Any) -> None:
        connection.close()  # the worker thread's own connection, before the test DB goes

    task_postrun.connect(close_connection, weak=False)
    try:
        with start_worker(app, pool="solo", perform_ping_check=False, loglevel="WARNING"):
            yield
    finally:
        task_postrun.disconnect(close_connection)
