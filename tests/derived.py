"""Reading derived state in tests: all of it, by content (`derived_state`), and the sums
per event-attribute value (`attribute_rows`)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from events.engine import REGISTRY, additive
from events.engine.derivations import Contribution
from events.models import DailyRollup, EndUser, Tenant


def attribute_rows(*fields: str, **scope: Any) -> list[tuple[Any, ...]]:
    """The sums per attribute value of the daily rollups in `scope`, one tuple per day and
    value: the rollup's `fields`, then (attribute key, value, sum, count); sorted."""
    rows = []
    for *named, sums in DailyRollup.objects.filter(**scope).values_list(*fields, "by_attribute"):
        for name, per_value in sums.items():
            for item, (total, count) in per_value.items():
                rows.append((*named, name, item, Decimal(total), count))
    return sorted(rows)


def apply_contributions(tenant_id: Any, contributions: list[Contribution]) -> None:
    """Add contributions (user id, metric id, local date, value, attributes) straight to
    the additive tables, as the engine's bulk paths do, without events: for tests of
    the sums themselves."""
    additive.apply(tenant_id, REGISTRY.additive, contributions)


def hashable(value: Any) -> Any:
    """A JSON value as nested tuples (equal values, equal tuples)."""
    if isinstance(value, dict):
        return tuple(sorted((key, hashable(item)) for key, item in value.items()))
    if isinstance(value, list):
        return tuple(hashable(item) for item in value)
    return value


def derived_state(tenant: Tenant, user: EndUser | None = None) -> dict[str, list[tuple]]:
    """Every registered derivation's rows of `tenant` (or of one user), and what the
    engine applied to each user, by content: users named by their external id and
    metrics by their key (not by row ids), so the states of two tenants that received
    the same events compare equal. The stamp is left out: it counts writes."""
    scope: dict[str, Any] = {"tenant": tenant} if user is None else {"user": user}
    out: dict[str, list[tuple]] = {}
    for model in REGISTRY.tables():
        names = []
        for field in model._meta.concrete_fields:
            if field.name in ("id", "tenant"):
                continue
            names.append(
                {"user": "user__external_id", "metric": "metric__key"}.get(field.name, field.name)
            )
        rows = model._default_manager.filter(**scope).values_list(*names)
        out[model.__name__] = sorted((tuple(map(hashable, row)) for row in rows), key=repr)
    users = EndUser.objects.filter(tenant=tenant)
    if user is not None:
        users = users.filter(pk=user.pk)
    out["users"] = sorted(
        (external_id, hashable(state), newest, stale)
        for external_id, state, newest, stale in users.values_list(
            "external_id", "sequential_state", "newest_event_at", "sequential_stale"
        )
    )
    return out
