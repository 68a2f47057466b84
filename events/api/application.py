"""Application API (`/v1/`): events, users, preferences and metric reads.

One APIView per operation: validate input, call one service or selector, shape output.
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from ..selectors.config import tenant_config
from ..selectors.metrics import event_summary, user_metric, user_metrics
from ..selectors.users import user_get
from ..services.events import EventInput, event_record
from ..services.users import (
    UserInput,
    user_create,
    user_identify,
    user_preferences_update,
    user_update,
)
from .auth import tenant_of
from .bodies import (
    event_response_json,
    event_summary_json,
    preferences_json,
    user_json,
    user_metric_json,
)
from .errors import UNPROCESSABLE, as_unprocessable
from .openapi import TENANT_HEADER, array_of, errors, ref
from .serializers import (
    EVENT_BODY,
    PreferencesBodySerializer,
    UpdatedUserSerializer,
    UpsertedUserSerializer,
)

IDEMPOTENCY_HEADER = "HTTP_IDEMPOTENCY_KEY"
EVENT_REQUEST = {
    "type": "object",
    "properties": {
        "user": ref("UpsertedUser"),
        "value": {"type": "number", "format": "double"},
        "attributes": {"type": "object", "additionalProperties": {"type": "string"}},
        "timestamp": {"type": "string", "format": "date-time"},
    },
    "required": ["user", "value"],
}


class MetricEventView(APIView):
    rate_limit_tier = "writes"  # Trophy's tier 1

    @extend_schema(
        operation_id="metrics_event_create",
        request={"application/json": EVENT_REQUEST},
        parameters=[
            TENANT_HEADER,
            OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER, required=False),
        ],
        responses={201: ref("EventResponse"), 202: ref("EventResponse"), **errors(400, 404, 422)},
        description="Record a metric event. `timestamp` (ISO 8601 with offset) is an extension.",
    )
    def post(self, request: Request, key: str) -> Response:
        tenant = tenant_of(request)
        config = tenant_config(tenant)
        data = EVENT_BODY.validate_object(request.data)
        idempotency_key = request.META.get(IDEMPOTENCY_HEADER) or None
        if idempotency_key is not None and len(idempotency_key) > 255:
            raise serializers.ValidationError(
                {
                    "Idempotency-Key": serializers.ErrorDetail(
                        "must be at most 255 characters.", code=UNPROCESSABLE
                    )
                }
            )
        outcome = event_record(
            tenant=tenant,
            config=config,
            data=EventInput(
                metric_key=key,
                user=data["user"],
                value=data["value"],
                attributes=data.get("attributes", {}),
                timestamp=data.get("timestamp"),
                idempotency_key=idempotency_key,
            ),
            now=timezone.now(),
        )
        code = status.HTTP_202_ACCEPTED if outcome.idempotent_replay else status.HTTP_201_CREATED
        return Response(event_response_json(outcome), status=code)


class UserCreateView(APIView):
    @extend_schema(
        operation_id="users_create",
        request=UpsertedUserSerializer,
        parameters=[TENANT_HEADER],
        responses={201: ref("User"), **errors(400, 404, 422)},
    )
    def post(self, request: Request) -> Response:
        tenant = tenant_of(request)
        body = UpsertedUserSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        user = user_create(
            tenant=tenant, config=tenant_config(tenant), data=body.user_input(), now=timezone.now()
        )
        return Response(user_json(user), status=status.HTTP_201_CREATED)


class UserDetailView(APIView):
    @extend_schema(
        operation_id="users_get",
        parameters=[TENANT_HEADER],
        responses={200: ref("User"), **errors(404)},
    )
    def get(self, request: Request, user_id: str) -> Response:
        return Response(user_json(user_get(tenant=tenant_of(request), external_id=user_id)))

    @extend_schema(
        operation_id="users_identify",
        request=UpdatedUserSerializer,
        parameters=[TENANT_HEADER],
        responses={200: ref("User"), **errors(400, 404, 422)},
    )
    def put(self, request: Request, user_id: str) -> Response:
        return self._write(request, user_id, user_identify)

    @extend_schema(
        operation_id="users_update",
        request=UpdatedUserSerializer,
        parameters=[TENANT_HEADER],
        responses={200: ref("User"), **errors(400, 404, 422)},
    )
    def patch(self, request: Request, user_id: str) -> Response:
        return self._write(request, user_id, user_update)

    def _write(self, request: Request, user_id: str, service: Any) -> Response:
        tenant = tenant_of(request)
        # The id in the path is checked as the body's `id` of POST /users would be (a PUT
        # may create the user).
        try:
            UpsertedUserSerializer().fields["id"].run_validation(user_id)
        except serializers.ValidationError as exc:
            raise serializers.ValidationError({"id": exc.detail}) from None
        body = UpdatedUserSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        user = service(
            tenant=tenant,
            config=tenant_config(tenant),
            data=UserInput(external_id=user_id, changes=body.changes(body.validated_data)),
            now=timezone.now(),
        )
        return Response(user_json(user))


class UserPreferencesView(APIView):
    @extend_schema(
        operation_id="users_preferences_get",
        parameters=[TENANT_HEADER],
        responses={200: ref("UserPreferencesResponse"), **errors(404)},
    )
    def get(self, request: Request, user_id: str) -> Response:
        return Response(preferences_json(user_get(tenant=tenant_of(request), external_id=user_id)))

    @extend_schema(
        operation_id="users_preferences_update",
        request=PreferencesBodySerializer,
        parameters=[TENANT_HEADER],
        responses={200: ref("UserPreferencesResponse"), **errors(400, 403, 404, 422)},
    )
    def patch(self, request: Request, user_id: str) -> Response:
        tenant = tenant_of(request)
        body = PreferencesBodySerializer(data=request.data)
        body.is_valid(raise_exception=True)
        user = user_preferences_update(
            tenant=tenant,
            external_id=user_id,
            notifications=body.validated_data.get("notifications"),
            streak=body.validated_data.get("streak"),
            now=timezone.now(),
        )
        return Response(preferences_json(user))


class UserMetricsView(APIView):
    @extend_schema(
        operation_id="users_metrics_list",
        parameters=[TENANT_HEADER],
        responses={200: array_of("MetricResponse"), **errors(404)},
    )
    def get(self, request: Request, user_id: str) -> Response:
        metrics = user_metrics(tenant=tenant_of(request), external_id=user_id)
        return Response([user_metric_json(item) for item in metrics])


class UserMetricView(APIView):
    @extend_schema(
        operation_id="users_metrics_get",
        parameters=[TENANT_HEADER],
        responses={200: ref("MetricResponse"), **errors(404)},
    )
    def get(self, request: Request, user_id: str, key: str) -> Response:
        item = user_metric(tenant=tenant_of(request), external_id=user_id, key=key)
        return Response(user_metric_json(item))


class EventSummaryQuerySerializer(serializers.Serializer):
    aggregation = serializers.ChoiceField(choices=["daily", "weekly", "monthly"])
    startDate = serializers.DateField(input_formats=["%Y-%m-%d"])
    endDate = serializers.DateField(input_formats=["%Y-%m-%d"])

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        start, end = attrs["startDate"], attrs["endDate"]
        if start >= end:
            raise serializers.ValidationError(
                {
                    "startDate": serializers.ErrorDetail(
                        "must be before endDate.", code=UNPROCESSABLE
                    )
                }
            )
        if (end - start).days > 400:
            raise serializers.ValidationError(
                {
                    "endDate": serializers.ErrorDetail(
                        "the range may span at most 400 days.", code=UNPROCESSABLE
                    )
                }
            )
        return attrs


class UserMetricEventSummaryView(APIView):
    @extend_schema(
        operation_id="users_metrics_event_summary",
        parameters=[TENANT_HEADER, EventSummaryQuerySerializer],
        responses={
            200: {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "date": {"type": "string", "format": "date"},
                        "total": {"type": "number"},
                        "change": {"type": "number"},
                    },
                    "required": ["date", "total", "change"],
                },
            },
            **errors(404, 422),
        },
    )
    def get(self, request: Request, user_id: str, key: str) -> Response:
        tenant = tenant_of(request)
        query = EventSummaryQuerySerializer(data=request.query_params)
        if not query.is_valid():
            # Query parameters are always well-formed strings: a bad one is a 422.
            raise serializers.ValidationError(as_unprocessable(query.errors))
        data = query.validated_data
        buckets = event_summary(
            tenant=tenant,
            external_id=user_id,
            key=key,
            aggregation=data["aggregation"],
            start=data["startDate"],
            end=data["endDate"],
        )
        return Response(event_summary_json(buckets))
