"""`GET /v1/users/{id}/wrapped`: Trophy's `WrappedResponse` (SEMANTICS A4).

The stored summary is the response's `activity`, as JSON text; the `user` object is the
user's profile now. The body is joined as text, without parsing the summary again.
"""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.views import APIView

from events.api.auth import tenant_of
from events.api.bodies import user_json
from events.api.errors import UNPROCESSABLE, as_unprocessable
from events.api.openapi import TENANT_HEADER, errors, ref
from events.engine import local_date
from events.models import EndUser, Tenant
from events.selectors.users import user_get

from .services import summary_activity


class WrappedQuerySerializer(serializers.Serializer):
    year = serializers.IntegerField(min_value=1, required=False)


def current_year(tenant: Tenant, user: EndUser) -> int:
    """The year it is now in the user's time zone (else its tenant's)."""
    return local_date(timezone.now(), user.tz or tenant.default_timezone).year


def wrapped_body(user: EndUser, activity: str) -> bytes:
    return f'{{"user":{json.dumps(user_json(user))},"activity":{activity}}}'.encode()


class UserWrappedView(APIView):
    @extend_schema(
        operation_id="users_wrapped",
        parameters=[
            TENANT_HEADER,
            OpenApiParameter(
                "year",
                int,
                OpenApiParameter.QUERY,
                required=False,
                description="1 to the current year (in the user's time zone); default: the current year.",
            ),
        ],
        responses={200: ref("WrappedResponse"), **errors(404, 422)},
        description="A user's year in review, precomputed (SEMANTICS A4 defines every field).",
    )
    def get(self, request: Request, user_id: str) -> Any:
        tenant = tenant_of(request)
        user = user_get(tenant=tenant, external_id=user_id)
        query = WrappedQuerySerializer(data=request.query_params)
        if not query.is_valid():
            raise serializers.ValidationError(as_unprocessable(query.errors))
        now_year = current_year(tenant, user)
        year = query.validated_data.get("year", now_year)
        if year > now_year:
            raise serializers.ValidationError(
                {
                    "year": serializers.ErrorDetail(
                        f"must be at most the current year ({now_year}).", code=UNPROCESSABLE
                    )
                }
            )
        activity = summary_activity(tenant=tenant, user=user, year=year)
        return HttpResponse(wrapped_body(user, activity), content_type="application/json")
