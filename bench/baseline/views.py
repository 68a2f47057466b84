"""POST /bench/baseline: the benchmark's baseline view.

It reads the same JSON body as `POST /v1/metrics/{key}/event` (`{"user": {"id": ...},
"value": ...}`), and in one transaction inserts one row and upserts one counter row
(`INSERT ... ON CONFLICT DO UPDATE ... RETURNING`, the same kind of statement the real
endpoint uses for totals). No authentication, no validation beyond what it needs: a
lower bound for "a DRF view that records an event".
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.utils import timezone
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from .models import BaselineCounter, BaselineEvent

UPSERT = (
    f"INSERT INTO {BaselineCounter._meta.db_table} (user_id, total, event_count) "
    "VALUES (%s, %s, 1) ON CONFLICT (user_id) DO UPDATE SET "
    f"total = {BaselineCounter._meta.db_table}.total + excluded.total, "
    f"event_count = {BaselineCounter._meta.db_table}.event_count + 1 "
    "RETURNING total"
)


class BaselineView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    def post(self, request: Request) -> Response:
        data: Any = request.data
        user_id = str(data["user"]["id"])
        value = Decimal(str(data["value"]))
        with transaction.atomic():
            event = BaselineEvent.objects.create(
                user_id=user_id, value=value, created=timezone.now()
            )
            with connection.cursor() as cursor:
                cursor.execute(UPSERT, [user_id, value])
                (total,) = cursor.fetchone()
        return Response({"id": event.pk, "total": float(total)}, status=status.HTTP_201_CREATED)
