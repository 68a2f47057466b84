"""Per-tenant configuration, cached per process and invalidated by `Tenant.config_version`.

The version arrives with the tenant in the authentication query, so a warm cache costs
no query at all, and every process sees a change as soon as the version moves.
"""

from __future__ import annotations

import threading
import uuid

from ..models import Attribute, Metric, Tenant, TenantConfig
from ..models.config import AttributeType

__all__ = ["TenantConfig", "clear_config_cache", "tenant_config"]


_cache: dict[uuid.UUID, TenantConfig] = {}
_lock = threading.Lock()


def tenant_config(tenant: Tenant) -> TenantConfig:
    """Return the active metrics and attribute keys of `tenant` (cached per version)."""
    cached = _cache.get(tenant.id)
    if cached is not None and cached.version == tenant.config_version:
        return cached
    metrics = {m.key: m for m in Metric.objects.active().filter(tenant=tenant)}
    user_keys: set[str] = set()
    event_keys: set[str] = set()
    for key, kind in Attribute.objects.active().filter(tenant=tenant).values_list("key", "type"):
        (user_keys if kind == AttributeType.USER else event_keys).add(key)
    config = TenantConfig(
        version=tenant.config_version,
        metrics_by_key=metrics,
        user_attribute_keys=frozenset(user_keys),
        event_attribute_keys=frozenset(event_keys),
    )
    with _lock:
        _cache[tenant.id] = config
    return config


def clear_config_cache() -> None:
    with _lock:
        _cache.clear()
