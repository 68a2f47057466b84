"""Organizations (integrator accounts), their admin API keys, and tenants."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string
import uuid
from typing import TYPE_CHECKING

from django.db import models
from django.db.models import F

if TYPE_CHECKING:
    from datetime import datetime

KEY_PREFIX_LENGTH = 8
KEY_BODY_BYTES = 32  # >= 32 random bytes from `secrets`, per the key format decision
_PREFIX_ALPHABET = string.ascii_letters + string.digits


class Organization(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=255)
    # Requests without a Tenant-ID header use this tenant. A column here (rather than a
    # flag on Tenant) lets authentication load key, organization and default tenant in
    # one joined query.
    default_tenant = models.ForeignKey(
        "Tenant", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created"]

    def __str__(self) -> str:
        return self.name


def hash_key_body(body: str) -> str:
    # The body carries 256 bits of entropy, so a fast hash is enough: there is nothing
    # to brute-force, and a slow KDF would cost milliseconds on every request.
    return hashlib.sha256(body.encode()).hexdigest()


class ApiKey(models.Model):
    """An admin API key: `{prefix}.{body}`. Only a hash of the body is stored."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="keys")
    name = models.CharField(max_length=255, blank=True, default="")
    prefix = models.CharField(max_length=KEY_PREFIX_LENGTH, unique=True, editable=False)
    body_hash = models.CharField(max_length=64, editable=False)
    created = models.DateTimeField(auto_now_add=True)
    last_used = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(
        null=True, blank=True, help_text="Optional: from this moment the key gets 401."
    )

    class Meta:
        verbose_name = "API key"
        ordering = ["created"]

    def __str__(self) -> str:
        state = " (revoked)" if self.revoked_at else ""
        return f"{self.prefix}…{state}"

    @staticmethod
    def generate_secret() -> tuple[str, str]:
        """Return a fresh (prefix, body) pair."""
        prefix = "".join(secrets.choice(_PREFIX_ALPHABET) for _ in range(KEY_PREFIX_LENGTH))
        return prefix, secrets.token_urlsafe(KEY_BODY_BYTES)

    def matches(self, body: str) -> bool:
        return hmac.compare_digest(self.body_hash, hash_key_body(body))

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def expired(self, now: datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= now

    def needs_last_used_touch(self, now: datetime, resolution_seconds: int) -> bool:
        return (
            self.last_used is None or (now - self.last_used).total_seconds() >= resolution_seconds
        )


class TenantStatus(models.TextChoices):
    ACTIVE = "active"
    ARCHIVED = "archived"


DEFAULT_TENANT_CUSTOMER_ID = "default"


class Tenant(models.Model):
    """The scope all data and configuration live in (Trophy's `customerId`)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="tenants")
    customer_id = models.CharField(max_length=255)
    name = models.CharField(max_length=255)
    status = models.CharField(
        max_length=16, choices=TenantStatus.choices, default=TenantStatus.ACTIVE
    )
    default_timezone = models.CharField(max_length=64, default="UTC")
    # Bumped whenever metrics or attributes change; per-process configuration caches
    # compare it, so every web process agrees without a shared cache.
    config_version = models.PositiveIntegerField(default=1, editable=False)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "customer_id"], name="tenant_customer_id_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.customer_id})"

    def bump_config_version(self) -> None:
        Tenant.objects.filter(pk=self.pk).update(config_version=F("config_version") + 1)
        self.refresh_from_db(fields=["config_version"])
