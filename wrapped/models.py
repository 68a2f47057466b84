"""Wrapped's own state: per-tenant settings, the stored summaries, and the population
statistics percentiles are read from. Summaries and populations are derived (from the
rollups and the engine's derived state) and can be deleted at any time: they are
computed again on demand (a set made again takes versions past every one a stored
summary saw, `wrapped.services.populations_refresh`)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models

from events.models import EndUser, Metric, Tenant

from .branding import DEFAULT_ACCENT, DEFAULT_BACKGROUND, HEX

# Bump when the shape or the rules of a summary change: stored summaries of another
# version are stale, and are computed again when read.
SCHEMA_VERSION = 2


class WrappedSettings(models.Model):
    """How a tenant's recaps are computed (SEMANTICS A4). A tenant without a row uses
    the defaults."""

    tenant = models.OneToOneField(
        Tenant, on_delete=models.CASCADE, primary_key=True, related_name="wrapped_settings"
    )
    activity_metric = models.ForeignKey(
        Metric,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text=(
            "What “most active” measures: empty for the number of events (all metrics), "
            "or the change of this metric."
        ),
    )
    min_population = models.PositiveIntegerField(
        default=5,
        validators=[MinValueValidator(2)],
        help_text=(
            "A percentile is shown only when at least this many users had a non-zero change "
            "in the period, so that small tenants do not expose individuals."
        ),
    )

    class Meta:
        verbose_name = "Wrapped settings"
        verbose_name_plural = "Wrapped settings"

    def __str__(self) -> str:
        return f"Wrapped settings of {self.tenant}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        super().save(*args, **kwargs)
        # Stored summaries were computed with the old settings: moving the version makes
        # them stale, and every process reads the new settings.
        self.tenant.bump_config_version()


class WrappedSummary(models.Model):
    """A user's recap of one year: the `activity` of `GET /v1/users/{id}/wrapped`, as
    the JSON text served (the `user` object is the user's current profile, added when
    served, so a profile edit needs no recompute), and what it was computed from. It is
    fresh while each of those is still current (`wrapped.services.is_fresh`)."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+", db_index=False)
    user = models.ForeignKey(EndUser, on_delete=models.CASCADE, related_name="+", db_index=False)
    year = models.PositiveSmallIntegerField()
    activity = models.TextField()  # JSON text
    computed_at = models.DateTimeField()
    # What it saw: the user's derived_stamp, the tenant's config_version, the version of
    # the tenant's population statistics for the year, and SCHEMA_VERSION.
    stamp = models.BigIntegerField()
    config_version = models.PositiveIntegerField()
    population_version = models.PositiveIntegerField()
    schema_version = models.PositiveSmallIntegerField()

    class Meta:
        verbose_name_plural = "Wrapped summaries"
        constraints = [
            # Keyed by user first, like the rest of a user's derived state.
            models.UniqueConstraint(fields=["user", "year"], name="wrapped_summary_unique")
        ]
        indexes = [models.Index(fields=["tenant", "year"], name="wrapped_summary_tenant_idx")]

    def __str__(self) -> str:
        return f"Wrapped {self.year} of {self.user}"


class PopulationSet(models.Model):
    """The population statistics of one tenant and year, computed together. `version`
    grows with every computation; a summary records the version it read. `events` is
    how many events the rollups of the year's window held then: when it differs, the
    statistics are stale (events are only ever added, so any change moves it)."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+", db_index=False)
    year = models.PositiveSmallIntegerField()
    version = models.PositiveIntegerField(default=0)
    events = models.BigIntegerField(default=0)
    computed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "year"], name="population_set_unique")
        ]

    def __str__(self) -> str:
        return f"populations {self.year} of {self.tenant} (v{self.version})"


class Population(models.Model):
    """The users of a tenant with a non-zero change of one metric in one calendar period
    (of all its events, or of those with one attribute value), summarised for
    percentiles: their number `n` and `thresholds`, `[[change, percentile], ...]` by
    rising percentile, the smallest change that reaches each percentile reached
    (at most 101 pairs, whatever `n` is). Populations of one user are not stored."""

    set = models.ForeignKey(PopulationSet, on_delete=models.CASCADE, related_name="populations")
    kind = models.CharField(max_length=5)  # week, month or year
    start = models.DateField()  # the period's first day
    metric = models.ForeignKey(
        Metric, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    attribute = models.CharField(max_length=255, blank=True)  # "" for all events
    value = models.CharField(max_length=255, blank=True)
    n = models.PositiveIntegerField()
    thresholds = models.JSONField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["set", "kind", "start", "metric", "attribute", "value"],
                name="population_unique",
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.start} {self.metric_id} {self.attribute}={self.value}: {self.n}"


# -- Sharing ---------------------------------------------------------------------------

# The pattern as text: the migrations hold it so (a compiled pattern deconstructs differently).
hex_color = RegexValidator(HEX.pattern, "Enter a colour as #rrggbb.")


def locale_choices() -> list[tuple[str, str]]:
    return [(code, f"{name} ({code})") for code, name in settings.LANGUAGES]


class Branding(models.Model):
    """A tenant's look on share pages and cards. A tenant without a row gets the
    defaults: its own name, the default colours, no logo, pages not indexed. Saving
    moves `updated`, which is part of every page's ETag and every card's cache key."""

    tenant = models.OneToOneField(
        Tenant, on_delete=models.CASCADE, primary_key=True, related_name="branding"
    )
    display_name = models.CharField(
        max_length=100,
        blank=True,
        help_text="Shown on pages and cards; empty for the tenant's name.",
    )
    background_color = models.CharField(
        max_length=7, default=DEFAULT_BACKGROUND, validators=[hex_color]
    )
    accent_color = models.CharField(
        max_length=7,
        default=DEFAULT_ACCENT,
        validators=[hex_color],
        help_text="The hero number's colour, when it contrasts enough with the background (3:1).",
    )
    logo = models.ImageField(
        upload_to="branding/", blank=True, help_text="PNG, JPEG or WebP; shown on pages and cards."
    )
    locale = models.CharField(
        max_length=10,
        default="en",
        choices=locale_choices,
        help_text="How numbers are written (thousands and decimal separators).",
    )
    allow_indexing = models.BooleanField(
        default=False,
        help_text="Let search engines index share pages (by default they are asked not to).",
    )
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "Branding"

    def __str__(self) -> str:
        return f"Branding of {self.tenant}"


class ShareLink(models.Model):
    """A user's opt-in to share the recap of one year: the page /w/<token>/ and its
    cards answer while the row exists. Revoking deletes it, so a revoked token and one
    that never existed are the same to the page (404)."""

    token = models.CharField(max_length=64, unique=True)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+", db_index=False)
    user = models.ForeignKey(EndUser, on_delete=models.CASCADE, related_name="+", db_index=False)
    year = models.PositiveSmallIntegerField()
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "year"], name="share_link_unique")]
        indexes = [models.Index(fields=["tenant", "year"], name="share_link_tenant_idx")]

    def __str__(self) -> str:
        return f"share link {self.year} of {self.user}"
