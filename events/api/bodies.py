"""Every response body, shaped in one place: domain objects in, Trophy's JSON out.

Services and selectors return models and small dataclasses in Python's terms
(snake_case, Decimal, date); the views hand them to these functions, which give them
Trophy's wire names (camelCase), number format (whole numbers as integers, SEMANTICS A2)
and date format. A field one of the official SDKs requires is sent here, once, whichever
view answers with that type (SEMANTICS A6).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from ..engine.streak import StreakView
from ..models import Attribute, EndUser, Metric, Tenant
from ..numbers import to_json_number
from ..selectors.metrics import SummaryBucket, UserMetric
from ..services.admin_config import Issue
from ..services.events import EventOutcome


def iso(moment: datetime) -> str:
    text = moment.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


# -- Application API ----------------------------------------------------------------------


def user_json(user: EndUser) -> dict[str, Any]:
    """Trophy's `User` object."""
    return {
        "id": user.external_id,
        "email": user.email,
        "name": user.name,
        "tz": user.tz,
        "deviceTokens": user.device_tokens,
        "subscribeToEmails": user.subscribe_to_emails,
        "attributes": user.attributes or {},
        "control": user.control,
        "created": iso(user.created),
        "updated": iso(user.updated),
    }


def preferences_json(user: EndUser) -> dict[str, Any]:
    """Trophy's `UserPreferencesResponse`."""
    return {
        "notifications": dict(user.notification_preferences or {}),
        "streak": {"enabled": user.streak_enabled},
    }


def streak_json(streak: StreakView, *, with_extended: bool = True) -> dict[str, Any]:
    """Trophy's `MetricEventStreakResponse` (with `extended`) or `BaseStreakResponse`."""
    body: dict[str, Any] = {
        "length": streak.length,
        "frequency": "daily",
        "started": streak.started.isoformat() if streak.started else None,
        "periodStart": streak.period_start.isoformat(),
        "periodEnd": streak.period_end.isoformat(),
        "expires": streak.expires.isoformat() if streak.expires else None,
    }
    if with_extended:
        body["extended"] = streak.extended
    return body


def event_response_json(outcome: EventOutcome) -> dict[str, Any]:
    """Trophy's `EventResponse`. With no gamification configured the achievement, points
    and leaderboard parts are empty (later issues fill them)."""
    body: dict[str, Any] = {
        "eventId": outcome.event_id,
        "metricId": str(outcome.metric.id),
        "total": to_json_number(outcome.total),
        "achievements": [],
        "currentStreak": streak_json(outcome.streak),
        "points": {},
        "leaderboards": {},
    }
    if outcome.idempotency_key is not None:
        body["idempotencyKey"] = outcome.idempotency_key
        body["idempotentReplayed"] = outcome.idempotent_replay
    return body


def user_metric_json(item: UserMetric) -> dict[str, Any]:
    """Trophy's `MetricResponse`. `status` is required by the Node SDK (SEMANTICS A6);
    `achievements` lists the metric's achievements with the user's progress (none until
    the achievements work lands)."""
    return {
        "id": str(item.metric.id),
        "key": item.metric.key,
        "name": item.metric.name,
        "status": item.metric.status,
        "current": to_json_number(item.total),
        "achievements": [],
    }


def event_summary_json(buckets: list[SummaryBucket]) -> list[dict[str, Any]]:
    """`[{date, total, change}]` of `GET /users/{id}/metrics/{key}/event-summary`."""
    return [
        {
            "date": bucket.start.isoformat(),
            "total": to_json_number(bucket.total),
            "change": to_json_number(bucket.change),
        }
        for bucket in buckets
    ]


# -- Admin API ----------------------------------------------------------------------------


def attribute_json(attribute: Attribute) -> dict[str, Any]:
    """Trophy's `AdminAttribute`."""
    return {
        "id": str(attribute.id),
        "name": attribute.name,
        "key": attribute.key,
        "type": attribute.type,
    }


def metric_json(metric: Metric) -> dict[str, Any]:
    """Trophy's `CreatedMetric` (also what the Admin API's list and get return)."""
    return {
        "id": str(metric.id),
        "name": metric.name,
        "key": metric.key,
        "unitType": metric.unit_type,
        "units": metric.units,
    }


def tenant_json(tenant: Tenant) -> dict[str, Any]:
    """Trophy's `AdminTenant`."""
    return {
        "id": str(tenant.id),
        "customerId": tenant.customer_id,
        "name": tenant.name,
        "status": tenant.status,
        "created": iso(tenant.created),
        "updated": iso(tenant.updated),
    }


def issue_json(issue: Issue) -> dict[str, Any]:
    """Trophy's `AdminIssue`."""
    body: dict[str, Any] = {"severity": issue.severity, "message": issue.message}
    if issue.index is not None:
        body["index"] = issue.index
    if issue.id is not None:
        body["id"] = issue.id
    return body


T = TypeVar("T")


def bulk_json(
    done_key: str, done: list[T], issues: list[Issue], shape: Callable[[T], dict[str, Any]]
) -> dict[str, Any]:
    """A bulk Admin API answer: `{created|updated|deleted: [...], issues: [...]}`."""
    return {
        done_key: [shape(obj) for obj in done],
        "issues": [issue_json(issue) for issue in issues],
    }


def batch_accepted_json(count: int) -> dict[str, Any]:
    """Trophy's `BatchEventsResponse`."""
    return {"accepted": count}
