"""Per-tenant configuration: metrics and custom attributes."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q

from ..exceptions import NotFound
from .tenancy import Tenant

KEY_PATTERN = r"^[a-zA-Z\d\-_]+$"
key_validator = RegexValidator(KEY_PATTERN, "Keys may only contain letters, digits, - and _.")


class ConfigStatus(models.TextChoices):
    ACTIVE = "active"
    ARCHIVED = "archived"  # deleting through the Admin API archives (soft delete)


class ActiveQuerySet(models.QuerySet):
    def active(self) -> ActiveQuerySet:
        return self.filter(status=ConfigStatus.ACTIVE)


class UnitType(models.TextChoices):
    NUMBER = "number"
    CURRENCY = "currency"


class Metric(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="metrics")
    key = models.CharField(max_length=255, validators=[key_validator])
    name = models.CharField(max_length=255)
    unit_type = models.CharField(max_length=16, choices=UnitType.choices, default=UnitType.NUMBER)
    units = models.CharField(max_length=64, blank=True, default="")
    status = models.CharField(
        max_length=16, choices=ConfigStatus.choices, default=ConfigStatus.ACTIVE
    )
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    objects = ActiveQuerySet.as_manager()

    class Meta:
        ordering = ["created", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "key"],
                condition=Q(status="active"),
                name="metric_key_unique_per_tenant",
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.key})"


class AttributeType(models.TextChoices):
    USER = "user"
    EVENT = "event"


class Attribute(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="attributes")
    key = models.CharField(max_length=255, validators=[key_validator])
    name = models.CharField(max_length=255)
    type = models.CharField(max_length=8, choices=AttributeType.choices)
    status = models.CharField(
        max_length=16, choices=ConfigStatus.choices, default=ConfigStatus.ACTIVE
    )
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    objects = ActiveQuerySet.as_manager()

    class Meta:
        ordering = ["created", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "type", "key"],
                condition=Q(status="active"),
                name="attribute_key_unique_per_tenant_and_type",
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.type}:{self.key})"


@dataclass(frozen=True)
class TenantConfig:
    """A snapshot of a tenant's active configuration, as the services validate input
    against it and the engine's derivations read it (selectors.config loads and caches
    it per process)."""

    version: int
    metrics_by_key: dict[str, Metric] = field(default_factory=dict)
    user_attribute_keys: frozenset[str] = frozenset()
    event_attribute_keys: frozenset[str] = frozenset()

    def metric(self, key: str) -> Metric:
        try:
            return self.metrics_by_key[key]
        except KeyError:
            raise NotFound(f"Metric with key {key!r} not found.") from None
