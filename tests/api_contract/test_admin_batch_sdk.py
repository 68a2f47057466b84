"""POST /admin-api/v1/metrics/events (batch) through the official `trophy` SDK against a
live server; raw bodies are validated against Trophy's admin OpenAPI file (conftest)."""

from __future__ import annotations

import pytest
from trophy import BatchMetricEvent, BatchMetricEventUser, UnauthorizedError
from trophy.core.api_error import ApiError

from events.models import EndUser, Event, MetricTotal

from .conftest import Recorder

pytestmark = pytest.mark.django_db(transaction=True)


def test_batch_events_are_accepted_and_processed(trophy, recorder: Recorder, owner, words):
    result = trophy.admin.metrics.batch_events(
        request=[
            BatchMetricEvent(key="words", user=BatchMetricEventUser(id="u1"), value=10),
            BatchMetricEvent(
                key="words",
                user=BatchMetricEventUser(id="u2", tz="Asia/Tokyo"),
                value=2.5,
                idempotency_key="b-1",
            ),
            BatchMetricEvent(
                key="words",
                user=BatchMetricEventUser(id="u2"),
                value=2.5,
                idempotency_key="b-1",
            ),
        ]
    )

    assert recorder.last.status == 202 and result.accepted == 3
    # No broker in tests: the task ran eagerly after the request's commit.
    totals = dict(MetricTotal.objects.values_list("user__external_id", "total"))
    assert totals == {"u1": 10, "u2": 2.5}
    assert EndUser.objects.get(external_id="u2").tz == "Asia/Tokyo"


def test_batch_events_for_an_unknown_metric_change_nothing(trophy, words):
    with pytest.raises(ApiError) as caught:
        trophy.admin.metrics.batch_events(
            request=[
                BatchMetricEvent(key="words", user=BatchMetricEventUser(id="u1"), value=1),
                BatchMetricEvent(key="nope", user=BatchMetricEventUser(id="u1"), value=1),
            ]
        )

    assert caught.value.status_code in (400, 404, 422)
    assert not Event.objects.exists()


def test_batch_events_without_a_valid_key_raise_unauthorized(sdk_factory, owner, words):
    prefix = owner.key.split(".")[0]
    bad = sdk_factory(prefix + ".not-the-right-body-at-all-000000000000")

    with pytest.raises(UnauthorizedError):
        bad.admin.metrics.batch_events(
            request=[BatchMetricEvent(key="words", user=BatchMetricEventUser(id="u"), value=1)]
        )
    assert not Event.objects.exists()
