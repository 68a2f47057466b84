"""Property-based run of schemathesis against this service's own schema (/api/schema/).

The schema is fetched from the running Django WSGI app, so every operation a view declares
is tested without listing it here. Requests go in-process through WSGI, inside the test's
database transaction: the fixture organization's rows are visible, and everything the run
writes is rolled back. Half of the generated path parameters are swapped for the ids of
the fixture's real user and metric, so GETs also answer 200 with real data.

Checks: no 5xx, every status code documented, the documented content type, the body
valid against the documented schema (Trophy's components), documented headers, and that
a request without the API key is refused. Bounded (few examples per operation, fixed seed,
no shrinking) so it takes well under a minute on two cores and is stable in CI.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.utils import timezone
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig

from events.models import Attribute, EndUser, Metric
from events.selectors.config import tenant_config
from events.services.events import EventInput, event_record
from events.services.users import UserInput
from tests.conftest import Account

MAX_EXAMPLES = 8
SEED = 20260131
USER_ID = "fixture-user"
METRIC_KEY = "words"

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def _keep_the_test_connection() -> Iterator[None]:
    """Django's WSGI handler closes "old" database connections when a request starts and
    ends, and inside the test's transaction PostgreSQL's counts as old. Django's own test
    client switches that off the same way for its requests."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def fixture_account(owner: Account) -> Account:
    """The owner organization with a metric, an event and a user attribute, a user and a
    few weeks of events, so reads have something to return."""
    tenant = owner.tenant
    Metric.objects.create(tenant=tenant, key=METRIC_KEY, name="Words written")
    Attribute.objects.create(tenant=tenant, key="device", name="Device", type="event")
    Attribute.objects.create(tenant=tenant, key="plan", name="Plan", type="user")
    tenant.bump_config_version()
    config = tenant_config(tenant)
    now = timezone.now()
    for days_ago, value in ((30, "100"), (12, "40.5"), (1, "7")):
        event_record(
            tenant=tenant,
            config=config,
            data=EventInput(
                metric_key=METRIC_KEY,
                user=UserInput(external_id=USER_ID, changes={"attributes": {"plan": "pro"}}),
                value=Decimal(value),
                attributes={"device": "web"},
                timestamp=datetime.now(UTC) - timedelta(days=days_ago),
                idempotency_key=None,
            ),
            now=now,
        )
    assert EndUser.objects.filter(tenant=tenant, external_id=USER_ID).exists()
    return owner


WSGI_APP = get_wsgi_application()
CONFIG = SchemathesisConfig.from_dict(
    {
        "seed": SEED,
        "dictionaries": {
            "users": {"values": [USER_ID]},
            "metrics": {"values": [METRIC_KEY]},
        },
        "parameters": {
            "path.user_id": {"dictionary": "users", "probability": 0.5},
            "path.key": {"dictionary": "metrics", "probability": 0.5},
        },
        "generation": {
            "max-examples": MAX_EXAMPLES,
            "deterministic": True,
            "no-shrink": True,
            "database": "none",
        },
        "phases": {"stateful": {"enabled": False}},
        "operations": [
            {
                # Admin bulk writes follow Trophy's convention: an invalid item is
                # reported in `issues` of a 200/201, the valid ones still apply. So a
                # schema-violating item is, correctly, not a rejected request.
                "include-path-regex": r"^/admin-api/v1/[a-z-]+$",
                "include-method-regex": "^(POST|PATCH|DELETE)$",
                "checks": {"negative_data_rejection": {"enabled": False}},
            }
        ],
        "checks": {
            "not_a_server_error": {"enabled": True},
            "status_code_conformance": {"enabled": True},
            "content_type_conformance": {"enabled": True},
            "response_schema_conformance": {"enabled": True},
            "response_headers_conformance": {"enabled": True},
            "ignored_auth": {"enabled": True},
            # Off: a schema-valid body may still break rules the schema cannot express
            # (an IANA time zone name, a non-empty user id, declared attribute keys), and
            # the service must reject those (400/422, SEMANTICS A5).
            "positive_data_acceptance": {"enabled": False},
        },
    }
)
# Loaded when pytest collects this module: /api/schema/ needs no key and no database.
# (schemathesis.pytest.from_fixture would load it inside a test, but schemathesis 4.32
# sets Node._nodeid there, which pytest 9.2 no longer has.)
schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", WSGI_APP, config=CONFIG)


@schema.parametrize()
# The fixture is built once per operation and shared by its examples on purpose: they
# all read the same organization, and their writes are rolled back with the test.
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_every_operation_conforms_to_its_schema(
    case: schemathesis.Case, fixture_account: Account
) -> None:
    case.call_and_validate(headers={"X-API-KEY": fixture_account.key})
