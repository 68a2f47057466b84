"""The standalone baseline's two tables: a log row per request and a per-user counter."""

from __future__ import annotations

from django.db import models


class StandaloneEvent(models.Model):
    user_id = models.CharField(max_length=255)
    value = models.DecimalField(max_digits=19, decimal_places=6)
    created = models.DateTimeField()

    objects: models.Manager[StandaloneEvent] = models.Manager()

    def __str__(self) -> str:
        return f"{self.user_id} {self.value}"


class StandaloneCounter(models.Model):
    user_id = models.CharField(max_length=255, unique=True)
    total = models.DecimalField(max_digits=28, decimal_places=6)
    event_count = models.BigIntegerField()

    def __str__(self) -> str:
        return f"{self.user_id} {self.total}"
