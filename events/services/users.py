"""Writes to end users: create, identify (upsert), update, preferences."""

from __future__ import annotations

import copy
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import transaction

from ..db.prepared import PreparedQuery
from ..db.sql import insert_ignoring_conflict
from ..exceptions import BadRequest, Forbidden, NotFound, Unprocessable
from ..models import EndUser, Tenant, TenantConfig
from ..selectors.users import user_get

# The event path's user read, under the row lock (compiled once: see events/db/prepared.py).
USER_FOR_UPDATE = PreparedQuery(
    lambda tenant_id, external_id: (
        EndUser.objects.select_for_update()
        .filter(tenant_id=tenant_id, external_id=external_id)
        .order_by("pk")[:1]
    ),
    samples=[uuid.UUID(int=0), "sample"],
    fields=[EndUser._meta.get_field("tenant"), EndUser._meta.get_field("external_id")],
)

NOTIFICATION_TYPES = ("achievement_completed", "recap", "reactivation", "streak_reminder")


@dataclass(frozen=True)
class UserInput:
    """A user as sent by the client: its id and only the fields that were present."""

    external_id: str
    changes: dict[str, Any] = field(default_factory=dict)

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled by the million between import_events' parser and writer: the two
        # fields as they are, rather than the generic reduction (state dict, copyreg).
        return (UserInput, (self.external_id, self.changes))


def invalid_attribute_keys_message(keys: list[str]) -> str:
    return (
        f"Invalid attribute keys: {', '.join(sorted(keys))}. Please ensure all attribute keys "
        "match attributes set up with the Admin API (/admin-api/v1/attributes)."
    )


def check_user_attribute_keys(config: TenantConfig, changes: dict[str, Any]) -> None:
    """Raise BadRequest when `changes` set a user attribute the tenant has not declared."""
    attributes = changes.get("attributes") or {}
    unknown = [k for k in attributes if k not in config.user_attribute_keys]
    if unknown:
        raise BadRequest(invalid_attribute_keys_message(unknown))


def validate_user_changes(
    config: TenantConfig, changes: dict[str, Any], existing: EndUser | None
) -> None:
    """Raise BadRequest when `changes` (to `existing`, or to a new user when None) name an
    undeclared user attribute or subscribe a user who has no email. Shared by the API
    paths and import_events."""
    check_user_attribute_keys(config, changes)
    if changes.get("subscribe_to_emails") is True:
        email = changes.get("email", existing.email if existing else None)
        if not email:
            raise BadRequest("subscribeToEmails: cannot be true for a user without an email.")


def apply_user_changes(user: EndUser, changes: dict[str, Any]) -> list[str]:
    """Apply `changes` to `user` in memory; return the names of fields that changed."""
    changed: list[str] = []
    for name, value in changes.items():
        if name == "attributes":
            value = {**(user.attributes or {}), **(value or {})}
        if getattr(user, name) != value:
            setattr(user, name, value)
            changed.append(name)
    # Trophy does not keep the email of a user who opted out of emails.
    if user.subscribe_to_emails is False and user.email is not None:
        user.email = None
        if "email" not in changed:
            changed.append("email")
    return changed


def new_user(tenant: Tenant, data: UserInput, now: datetime) -> EndUser:
    """An unsaved user of `tenant` with the fields of `data` applied."""
    user = EndUser(tenant=tenant, external_id=data.external_id, created=now, updated=now)
    apply_user_changes(user, data.changes)
    return user


def _update(user: EndUser, data: UserInput, config: TenantConfig, now: datetime) -> EndUser:
    """Apply the changes that differ, under the user's row lock."""
    validate_user_changes(config, data.changes, user)
    if not any(
        getattr(user, n) != v
        if n != "attributes"
        else any(user.attributes.get(k) != x for k, x in v.items())
        for n, v in data.changes.items()
    ):
        return user  # nothing differs: no write
    # Change it under a row lock: attributes are merged, and two concurrent updates of
    # different keys must not overwrite each other.
    current = EndUser.objects.select_for_update().get(pk=user.pk)
    changed = apply_user_changes(current, data.changes)
    if changed:
        current.updated = now
        current.save(update_fields=[*changed, "updated"])
    return current


def _insert(tenant: Tenant, config: TenantConfig, data: UserInput, now: datetime) -> EndUser | None:
    """Create the user with the fields sent; None when the id is taken (a concurrent
    request may have created it since the caller looked)."""
    validate_user_changes(config, data.changes, None)
    candidate = new_user(tenant, data, now)
    new_id = insert_ignoring_conflict(candidate, conflict="(tenant_id, external_id)")
    if new_id is None:
        return None
    candidate.pk = new_id
    return candidate


def user_lock_or_create(
    *, tenant: Tenant, config: TenantConfig, data: UserInput, now: datetime
) -> tuple[EndUser, bool]:
    """The event path's user: read under its row lock, or created with the fields sent
    when it is new (its insert locks the row). Returns (user, created). An existing user
    is not changed here: the event path writes the changes with the event, only if the
    event is new (`user_changed_fields`), so an idempotent repeat changes nothing. The
    changes are validated against it all the same. Call inside a transaction.

    The row lock serialises this user's events with each other and with a rebuild of
    the user (engine.record.rebuild), so no event is counted twice."""
    user = next(iter(USER_FOR_UPDATE.objects(tenant.pk, data.external_id)), None)
    if user is None:
        created = _insert(tenant, config, data, now)
        if created is not None:
            return created, True
        user = EndUser.objects.select_for_update().get(tenant=tenant, external_id=data.external_id)
    validate_user_changes(config, data.changes, user)
    return user, False


def user_changed_fields(user: EndUser, changes: dict[str, Any]) -> dict[str, Any]:
    """The fields `changes` would change on `user`, with their new values; `user` itself
    is left as it is."""
    if not changes:
        return {}
    candidate = copy.copy(user)
    return {name: getattr(candidate, name) for name in apply_user_changes(candidate, changes)}


@transaction.atomic
def user_create(*, tenant: Tenant, config: TenantConfig, data: UserInput, now: datetime) -> EndUser:
    """POST /users: create, or 422 if the id is taken (an explicit create never upserts)."""
    created = _insert(tenant, config, data, now)
    if created is None:
        raise Unprocessable(f"id: a user with id {data.external_id!r} already exists.")
    return created


@transaction.atomic
def user_identify(
    *, tenant: Tenant, config: TenantConfig, data: UserInput, now: datetime
) -> EndUser:
    """PUT /users/{id}: create the user if absent, else update only the fields sent."""
    user = EndUser.objects.filter(tenant=tenant, external_id=data.external_id).first()
    if user is None:
        created = _insert(tenant, config, data, now)
        if created is not None:
            return created
        user = EndUser.objects.get(tenant=tenant, external_id=data.external_id)
    return _update(user, data, config, now)


@transaction.atomic
def user_update(*, tenant: Tenant, config: TenantConfig, data: UserInput, now: datetime) -> EndUser:
    """PATCH /users/{id}: update only the fields sent; 404 if the user does not exist."""
    user = user_get(tenant=tenant, external_id=data.external_id)
    return _update(user, data, config, now)


@transaction.atomic
def user_preferences_update(
    *,
    tenant: Tenant,
    external_id: str,
    notifications: dict[str, list[str]] | None,
    streak: dict[str, Any] | None,
    now: datetime,
) -> EndUser:
    """PATCH /users/{id}/preferences: replace only the notification types sent."""
    try:
        user = EndUser.objects.select_for_update().get(tenant=tenant, external_id=external_id)
    except EndUser.DoesNotExist:
        raise NotFound(f"User with id {external_id!r} not found.") from None
    fields = []
    if notifications:
        user.notification_preferences = {**user.notification_preferences, **notifications}
        fields.append("notification_preferences")
    if streak:
        if "evaluationMode" in streak or "metrics" in streak:
            raise Forbidden(
                "streak: per-user evaluationMode and metrics need streak customization, "
                "which is not enabled for this organization."
            )
        if "enabled" in streak:
            user.streak_enabled = streak["enabled"]
            fields.append("streak_enabled")
    if fields:
        user.updated = now
        user.save(update_fields=[*fields, "updated"])
    return user
