"""Fixtures for contract tests: the official `trophy` SDK pointed at pytest-django's
live server, with every response it reads also checked against Trophy's OpenAPI files.

The SDK validates what it parses with its own (newer, SEMANTICS A6) types; the response
hook below validates the raw JSON body of the same response against the schema Trophy
documents for that operation and status, so a test fails on either contract.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from trophy import TrophyApi, TrophyApiEnvironment

from events.models import Attribute
from tests.conftest import REQUIRE_SERVICES, Account

from . import node_sdk
from .node_sdk import NodeSdk
from .trophy_schema import assert_response_conforms


@dataclass
class Exchange:
    method: str
    path: str
    status: int
    body: object


@dataclass
class Recorder:
    """Every response the SDK received, in order (already validated against the spec)."""

    exchanges: list[Exchange] = field(default_factory=list)

    @property
    def last(self) -> Exchange:
        assert self.exchanges, "no request was made"
        return self.exchanges[-1]

    def hook(self, response: httpx.Response) -> None:
        response.read()
        request = response.request
        path = urlsplit(str(request.url)).path
        assert response.headers.get("content-type", "").startswith("application/json"), (
            f"{request.method} {path} -> {response.status_code}: "
            f"content-type {response.headers.get('content-type')!r}"
        )
        body = response.json()
        self.exchanges.append(Exchange(request.method, path, response.status_code, body))
        assert_response_conforms(request.method, path, response.status_code, body)


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def sdk_factory(live_server, recorder: Recorder) -> Iterator:
    """Build SDK clients for the live server: `sdk_factory(api_key, tenant_id=None)`."""
    clients: list[httpx.Client] = []

    def build(api_key: str, tenant_id: str | None = None) -> TrophyApi:
        http = httpx.Client(timeout=30, event_hooks={"response": [recorder.hook]})
        clients.append(http)
        return TrophyApi(
            api_key=api_key,
            tenant_id=tenant_id,
            environment=TrophyApiEnvironment(
                api=live_server.url + "/v1", admin=live_server.url + "/admin-api/v1"
            ),
            # A 5xx must fail the test at once, not be retried.
            max_retries=0,
            httpx_client=http,
        )

    yield build
    for http in clients:
        http.close()


@pytest.fixture
def trophy(sdk_factory, owner: Account) -> TrophyApi:
    """The owner organization's SDK client (default tenant)."""
    return sdk_factory(owner.key)


@pytest.fixture
def device_attribute(owner: Account) -> Attribute:
    return Attribute.objects.create(tenant=owner.tenant, key="device", name="Device", type="event")


@pytest.fixture
def plan_attribute(owner: Account) -> Attribute:
    return Attribute.objects.create(tenant=owner.tenant, key="plan", name="Plan", type="user")


# -- The official Node SDK (tests/api_contract/node) --------------------------------------


@pytest.fixture(scope="session")
def node_sdk_installed() -> None:
    """`npm ci` the pinned SDK when it is missing or older than the lock file. Without node
    and npm: skipped locally, a failure with REQUIRE_SERVICES=1 (CI)."""
    missing = node_sdk.missing_tools()
    if missing:
        message = f"needs Node.js: {' and '.join(missing)} not found on PATH"
        if REQUIRE_SERVICES:
            pytest.fail(message + " (REQUIRE_SERVICES=1)")
        pytest.skip(message)
    node_sdk.install()


@pytest.fixture
def node_factory(node_sdk_installed: None, live_server: Any) -> Callable[..., NodeSdk]:
    """Build Node SDK clients for the live server: `node_factory(api_key, tenant_id=None)`."""

    def build(api_key: str, tenant_id: str | None = None) -> NodeSdk:
        return NodeSdk(live_server.url, api_key, tenant_id)

    return build


@pytest.fixture
def node(node_factory: Callable[..., NodeSdk], owner: Account) -> NodeSdk:
    """The owner organization's Node SDK client (default tenant)."""
    return node_factory(owner.key)
