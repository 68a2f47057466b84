"""Writes to end users: create, identify (upsert), update, preferences."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import transaction

from ..exceptions import BadRequest, Forbidden, NotFound, Unprocessable
from ..models import EndUser, Tenant
from ..prepared import PreparedQuery
from ..selectors.config import TenantConfig
from .sql import insert_ignoring_conflict

# The event path's user read, under the row lock (compiled once: see events/prepared.py).
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


def _update(
    user: EndUser, data: UserInput, config: TenantConfig, now: datetime, *, locked: bool = False
) -> EndUser:
    """Apply the changes that differ. `locked` says `user` was read under its row lock in
    this transaction, so it is current and needs no locked re-read."""
    validate_user_changes(config, data.changes, user)
    if not any(
        getattr(user, n) != v
        if n != "attributes"
        else any(user.attributes.get(k) != x for k, x in v.items())
        for n, v in data.changes.items()
    ):
        return user  # nothing differs: no write (the common case on the event path)
    # Change it under a row lock: attributes are merged, and two concurrent updates of
    # different keys must not overwrite each other.
    current = user if locked else EndUser.objects.select_for_update().get(pk=user.pk)
    changed = apply_user_changes(current, data.changes)
    if changed:
        current.updated = now
        current.save(update_fields=[*changed, "updated"])
    return current


def user_get_or_create(
    *, tenant: Tenant, config: TenantConfig, data: UserInput, now: datetime, lock: bool = False
) -> tuple[EndUser, bool]:
    """Upsert a user (the event path's "identify"): one query when the user exists and
    nothing changed, two when it is new. Returns (user, created). Call inside a transaction.

    With `lock`, the user's row stays locked until the transaction ends (a new user's row
    is locked by its own insert), which serialises this user's events against each other
    and against a replay of the user (events.services.replay)."""
    if lock:
        user = next(iter(USER_FOR_UPDATE.objects(tenant.pk, data.external_id)), None)
    else:
        user = EndUser.objects.filter(tenant=tenant, external_id=data.external_id).first()
    if user is None:
        validate_user_changes(config, data.changes, None)
        candidate = new_user(tenant, data, now)
        new_id = insert_ignoring_conflict(candidate, conflict="(tenant_id, external_id)")
        if new_id is not None:
            candidate.pk = new_id
            return candidate, True
        # Another request created it between our read and our insert.
        users = EndUser.objects.filter(tenant=tenant, external_id=data.external_id)
        user = (users.select_for_update() if lock else users).get()
    return _update(user, data, config, now, locked=lock), False


@transaction.atomic
def user_create(*, tenant: Tenant, config: TenantConfig, data: UserInput, now: datetime) -> EndUser:
    """POST /users: create, or 422 if the id is taken (an explicit create never upserts)."""
    validate_user_changes(config, data.changes, None)
    candidate = new_user(tenant, data, now)
    new_id = insert_ignoring_conflict(candidate, conflict="(tenant_id, external_id)")
    if new_id is None:
        raise Unprocessable(f"id: a user with id {data.external_id!r} already exists.")
    candidate.pk = new_id
    return candidate


@transaction.atomic
def user_identify(
    *, tenant: Tenant, config: TenantConfig, data: UserInput, now: datetime
) -> EndUser:
    """PUT /users/{id}: create the user if absent, else update only the fields sent."""
    user, _created = user_get_or_create(tenant=tenant, config=config, data=data, now=now)
    return user


@transaction.atomic
def user_update(*, tenant: Tenant, config: TenantConfig, data: UserInput, now: datetime) -> EndUser:
    """PATCH /users/{id}: update only the fields sent; 404 if the user does not exist."""
    user = get_user(tenant=tenant, external_id=data.external_id)
    return _update(user, data, config, now)


def get_user(*, tenant: Tenant, external_id: str) -> EndUser:
    """The tenant's user with this id, or NotFound (also for other tenants' users)."""
    try:
        return EndUser.objects.get(tenant=tenant, external_id=external_id)
    except EndUser.DoesNotExist:
        raise NotFound(f"User with id {external_id!r} not found.") from None


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
