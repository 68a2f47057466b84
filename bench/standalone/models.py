"""The standalone baseline's tables: a log row per request and a per-user counter (POST
/event), and JSON documents read by primary key (GET /documents/<id>)."""

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


class StandaloneDocument(models.Model):
    """A JSON document: run.sh fills the table with copies of the stored Wrapped
    summaries, so the baseline reads and renders bodies of the same size."""

    body = models.JSONField()

    def __str__(self) -> str:
        return f"document {self.pk}"
