"""The standalone baseline's views: POST /event and GET /documents/<id>.

POST /event reads the event endpoint's JSON body (`{"user": {"id": ...}, "value": ...}`) and, in one
transaction, inserts one event row and upserts the user's counter (`INSERT ... ON
CONFLICT DO UPDATE ... RETURNING total`); answers 201 with `{"id": ..., "total": ...}`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.shortcuts import get_object_or_404
from django.utils import timezone
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from .models import StandaloneCounter, StandaloneDocument, StandaloneEvent

_COUNTERS = StandaloneCounter._meta.db_table
UPSERT = (
    f"INSERT INTO {_COUNTERS} (user_id, total, event_count) VALUES (%s, %s, 1) "
    f"ON CONFLICT (user_id) DO UPDATE SET total = {_COUNTERS}.total + excluded.total, "
    f"event_count = {_COUNTERS}.event_count + 1 RETURNING total"
)


class EventView(APIView):
    # Set here too, for the in-project baseline (bench/urls.py), where the project's
    # defaults would ask for an API key.
    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]

    def post(self, request: Request) -> Response:
        data: Any = request.data
        user_id = str(data["user"]["id"])
        value = Decimal(str(data["value"]))
        with transaction.atomic():
            event = StandaloneEvent.objects.create(
                user_id=user_id, value=value, created=timezone.now()
            )
            with connection.cursor() as cursor:
                cursor.execute(UPSERT, [user_id, value])
                (total,) = cursor.fetchone()
        return Response({"id": event.pk, "total": float(total)}, status=201)


class DocumentView(APIView):
    """GET /documents/<id>: one row by primary key, its JSON body as the response (the
    Wrapped benchmark's baseline)."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]

    def get(self, request: Request, pk: int) -> Response:
        return Response(get_object_or_404(StandaloneDocument, pk=pk).body)
