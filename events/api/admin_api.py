"""Admin API (`/admin-api/v1/`): attributes, metrics and tenants with Trophy's bulk
conventions (SEMANTICS §10.1), and batch metric events.

A bulk body is a JSON array of 1..100 items (not an array: 400; empty or too long: 422
for the whole request). Each item is parsed on its own: an unparsable item becomes an
`error` issue and the others still go to the service. Create answers 201 when at least
one item was created, else 200; update and delete always 200.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from ..exceptions import BadRequest, Unprocessable
from ..models import Organization
from ..models.config import AttributeType, UnitType, key_validator
from ..selectors.admin_config import (
    attribute_get,
    attributes_active,
    metric_get,
    metrics_active,
    tenant_get,
    tenants_active,
)
from ..selectors.config import tenant_config
from ..services import admin_config as services
from ..services.admin_config import Change, Issue
from ..services.batches import MAX_BATCH_ITEMS, batch_accept
from ..services.events import EventInput
from ..tasks import enqueue_batch
from .auth import ApiContext, tenant_of
from .bodies import attribute_json, batch_accepted_json, bulk_json, metric_json, tenant_json
from .errors import first_error
from .openapi import TENANT_HEADER, errors, ref
from .serializers import BatchEventSerializer, StrictCharField

MAX_BULK_ITEMS = 100

# -- request parsing -------------------------------------------------------------------


def bulk_items(data: Any, *, maximum: int = MAX_BULK_ITEMS) -> list[Any]:
    """The request body as a list of 1..maximum items (400 if not an array, else 422)."""
    if not isinstance(data, list):
        raise BadRequest("The request body must be a JSON array of items.")
    if not 1 <= len(data) <= maximum:
        raise Unprocessable(
            f"The request body must contain between 1 and {maximum} items (got {len(data)})."
        )
    return data


def _issue_message(detail: Any) -> str:
    return first_error(detail)[0]


def parse_creates(
    items: list[Any], serializer_class: type[serializers.Serializer]
) -> tuple[list[tuple[int, dict[str, Any]]], list[Issue]]:
    """Validate each create item; returns ((index, validated data) for the valid ones,
    issues located by index for the others)."""
    valid: list[tuple[int, dict[str, Any]]] = []
    issues: list[Issue] = []
    for index, item in enumerate(items):
        serializer = serializer_class(data=item)
        if serializer.is_valid():
            valid.append((index, dict(serializer.validated_data)))
        else:
            issues.append(Issue(_issue_message(serializer.errors), index=index))
    return valid, issues


def parse_changes(
    items: list[Any], serializer_class: type[UpdateItemSerializer]
) -> tuple[list[Change], list[Issue]]:
    """Validate each update item; returns the valid changes (model field names) and
    issues located by the item's id (by its index when it has no usable id)."""
    changes: list[Change] = []
    issues: list[Issue] = []
    for index, item in enumerate(items):
        serializer = serializer_class(data=item)
        if serializer.is_valid():
            data = dict(serializer.validated_data)
            raw_id = data.pop("id")
            changes.append(
                Change(id=raw_id, fields={serializer.FIELDS[k]: v for k, v in data.items()})
            )
            continue
        raw_id = item.get("id") if isinstance(item, dict) else None
        message = _issue_message(serializer.errors)
        if isinstance(raw_id, str):
            issues.append(Issue(message, id=raw_id))
        else:
            issues.append(Issue(message, index=index))
    return changes, issues


def query_ids(request: Request) -> list[str]:
    """`?ids=a&ids=b` or `?ids=a,b`: 1..100 ids, else 422."""
    ids = [
        part.strip()
        for value in request.query_params.getlist("ids")
        for part in value.split(",")
        if part.strip()
    ]
    if not 1 <= len(ids) <= MAX_BULK_ITEMS:
        raise Unprocessable(f"ids: give between 1 and {MAX_BULK_ITEMS} ids (got {len(ids)}).")
    return ids


class PageQuerySerializer(serializers.Serializer):
    # A bound the database's bigint takes (a larger skip would be a 500, not a 422).
    skip = serializers.IntegerField(min_value=0, max_value=2**62, default=0)
    limit = serializers.IntegerField(min_value=1, max_value=MAX_BULK_ITEMS, default=10)


def page(request: Request) -> slice:
    query = PageQuerySerializer(data=request.query_params)
    if not query.is_valid():
        # Query parameters are well-formed strings: a bad one is a 422.
        raise Unprocessable(_issue_message(query.errors))
    skip, limit = query.validated_data["skip"], query.validated_data["limit"]
    return slice(skip, skip + limit)


# -- item serializers --------------------------------------------------------------------


class KeyField(StrictCharField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_length=255, validators=[key_validator], **kwargs)


class NameField(StrictCharField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_length=255, **kwargs)


class StrictChoiceField(serializers.ChoiceField):
    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, str):
            self.fail("invalid_choice", input=data)
        return super().to_internal_value(data)


class UpdateItemSerializer(serializers.Serializer):
    """An update item: `id` plus optional fields. `IMMUTABLE` fields are refused."""

    id = StrictCharField(max_length=255)
    FIELDS: dict[str, str] = {}
    IMMUTABLE: tuple[str, ...] = ()

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict):
            for name in self.IMMUTABLE:
                if name in data:
                    raise serializers.ValidationError({name: "cannot be changed."})
        return super().to_internal_value(data)


class CreateAttributeItem(serializers.Serializer):
    name = NameField()
    key = KeyField()
    type = StrictChoiceField(choices=AttributeType.values)


class UpdateAttributeItem(UpdateItemSerializer):
    name = NameField(required=False)
    FIELDS = {"name": "name"}
    IMMUTABLE = ("key", "type")


class CreateMetricItem(serializers.Serializer):
    name = NameField()
    key = KeyField()
    unitType = StrictChoiceField(choices=UnitType.values, required=False)
    units = StrictCharField(max_length=64, allow_blank=True, required=False)


class UpdateMetricItem(UpdateItemSerializer):
    name = NameField(required=False)
    unitType = StrictChoiceField(choices=UnitType.values, required=False)
    units = StrictCharField(max_length=64, allow_blank=True, required=False)
    FIELDS = {"name": "name", "unitType": "unit_type", "units": "units"}
    IMMUTABLE = ("key",)


class CreateTenantItem(serializers.Serializer):
    customerId = StrictCharField(max_length=255)
    name = NameField()


class UpdateTenantItem(UpdateItemSerializer):
    customerId = StrictCharField(max_length=255, required=False)
    name = NameField(required=False)
    FIELDS = {"customerId": "customer_id", "name": "name"}

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs.keys() & self.FIELDS.keys():
            raise serializers.ValidationError("give customerId or name (or both) to update.")
        return attrs


# -- output ------------------------------------------------------------------------------


def created_response(
    result: services.BulkResult[Any], issues: list[Issue], shape: Callable[[Any], dict[str, Any]]
) -> Response:
    """201 when at least one item was created, else 200 (SEMANTICS §10.1); the issues in
    the order of the items they are about (all located by index)."""
    code = status.HTTP_201_CREATED if result.done else status.HTTP_200_OK
    ordered = sorted([*issues, *result.issues], key=lambda issue: issue.index or 0)
    return Response(bulk_json("created", result.done, ordered, shape), status=code)


def updated_response(
    result: services.BulkResult[Any], issues: list[Issue], shape: Callable[[Any], dict[str, Any]]
) -> Response:
    """The items the request layer refused come first, then those the service refused."""
    return Response(bulk_json("updated", result.done, [*issues, *result.issues], shape))


def deleted_response(result: services.BulkResult[str]) -> Response:
    return Response(bulk_json("deleted", result.done, result.issues, lambda d: {"id": d}))


def organization_of(request: Request) -> Organization:
    auth = request.auth
    assert isinstance(auth, ApiContext)
    return auth.organization


# -- schema ------------------------------------------------------------------------------


def json_body(schema: dict[str, Any]) -> dict[str, Any]:
    """A raw JSON request-body schema for extend_schema (a bare dict would be read as a
    media-type map)."""
    return {"application/json": schema}


PAGE_PARAMETERS = [
    OpenApiParameter("skip", int, OpenApiParameter.QUERY, required=False, description="≥ 0"),
    OpenApiParameter("limit", int, OpenApiParameter.QUERY, required=False, description="1..100"),
]
IDS_PARAMETER = OpenApiParameter(
    "ids",
    str,
    OpenApiParameter.QUERY,
    required=True,
    many=True,
    explode=True,
    description="1..100 ids: repeat the parameter or comma-separate them.",
)


# -- attributes --------------------------------------------------------------------------


class AttributesView(APIView):
    @extend_schema(
        operation_id="admin_attributes_list",
        parameters=[TENANT_HEADER, *PAGE_PARAMETERS],
        responses={200: ref("ListAttributesResponse"), **errors(404, 422)},
    )
    def get(self, request: Request) -> Response:
        tenant = tenant_of(request)
        return Response(
            [attribute_json(a) for a in attributes_active(tenant=tenant)[page(request)]]
        )

    @extend_schema(
        operation_id="admin_attributes_create",
        request=json_body(ref("CreateAttributesRequest")),
        parameters=[TENANT_HEADER],
        responses={
            200: ref("CreateAttributesResponse"),
            201: ref("CreateAttributesResponse"),
            **errors(400, 404, 422),
        },
    )
    def post(self, request: Request) -> Response:
        tenant = tenant_of(request)
        valid, issues = parse_creates(bulk_items(request.data), CreateAttributeItem)
        result = services.attributes_create(
            tenant=tenant,
            items=[
                services.NewAttribute(index=i, key=d["key"], name=d["name"], type=d["type"])
                for i, d in valid
            ],
        )
        return created_response(result, issues, attribute_json)

    @extend_schema(
        operation_id="admin_attributes_update",
        request=json_body(ref("UpdateAttributesRequest")),
        parameters=[TENANT_HEADER],
        responses={200: ref("UpdateAttributesResponse"), **errors(400, 404, 422)},
    )
    def patch(self, request: Request) -> Response:
        tenant = tenant_of(request)
        changes, issues = parse_changes(bulk_items(request.data), UpdateAttributeItem)
        result = services.attributes_update(tenant=tenant, items=changes)
        return updated_response(result, issues, attribute_json)

    @extend_schema(
        operation_id="admin_attributes_delete",
        parameters=[TENANT_HEADER, IDS_PARAMETER],
        responses={200: ref("DeleteAttributesResponse"), **errors(404, 422)},
    )
    def delete(self, request: Request) -> Response:
        tenant = tenant_of(request)
        return deleted_response(services.attributes_delete(tenant=tenant, ids=query_ids(request)))


class AttributeDetailView(APIView):
    @extend_schema(
        operation_id="admin_attributes_get",
        parameters=[TENANT_HEADER],
        responses={200: ref("AdminAttribute"), **errors(404)},
    )
    def get(self, request: Request, id: str) -> Response:
        return Response(attribute_json(attribute_get(tenant=tenant_of(request), attribute_id=id)))


# -- metrics -----------------------------------------------------------------------------


class MetricsView(APIView):
    @extend_schema(
        operation_id="admin_metrics_list",
        parameters=[TENANT_HEADER, *PAGE_PARAMETERS],
        responses={200: ref("ListMetricsResponse"), **errors(404, 422)},
    )
    def get(self, request: Request) -> Response:
        tenant = tenant_of(request)
        return Response([metric_json(m) for m in metrics_active(tenant=tenant)[page(request)]])

    @extend_schema(
        operation_id="admin_metrics_create",
        request=json_body(ref("CreateMetricsRequest")),
        parameters=[TENANT_HEADER],
        responses={
            200: ref("CreateMetricsResponse"),
            201: ref("CreateMetricsResponse"),
            **errors(400, 404, 422),
        },
    )
    def post(self, request: Request) -> Response:
        tenant = tenant_of(request)
        valid, issues = parse_creates(bulk_items(request.data), CreateMetricItem)
        result = services.metrics_create(
            tenant=tenant,
            items=[
                services.NewMetric(
                    index=i,
                    key=d["key"],
                    name=d["name"],
                    unit_type=d.get("unitType", UnitType.NUMBER),
                    units=d.get("units"),
                )
                for i, d in valid
            ],
        )
        return created_response(result, issues, metric_json)

    @extend_schema(
        operation_id="admin_metrics_update",
        request=json_body(ref("UpdateMetricsRequest")),
        parameters=[TENANT_HEADER],
        responses={200: ref("UpdateMetricsResponse"), **errors(400, 404, 422)},
    )
    def patch(self, request: Request) -> Response:
        tenant = tenant_of(request)
        changes, issues = parse_changes(bulk_items(request.data), UpdateMetricItem)
        result = services.metrics_update(tenant=tenant, items=changes)
        return updated_response(result, issues, metric_json)

    @extend_schema(
        operation_id="admin_metrics_delete",
        parameters=[TENANT_HEADER, IDS_PARAMETER],
        responses={200: ref("DeleteMetricsResponse"), **errors(404, 422)},
    )
    def delete(self, request: Request) -> Response:
        tenant = tenant_of(request)
        return deleted_response(services.metrics_delete(tenant=tenant, ids=query_ids(request)))


class MetricDetailView(APIView):
    @extend_schema(
        operation_id="admin_metrics_get",
        parameters=[TENANT_HEADER],
        responses={200: ref("CreatedMetric"), **errors(404)},
    )
    def get(self, request: Request, id: str) -> Response:
        return Response(metric_json(metric_get(tenant=tenant_of(request), metric_id=id)))


# -- tenants (organization level: the Tenant-ID header is ignored) -----------------------


class TenantsView(APIView):
    @extend_schema(
        operation_id="admin_tenants_list",
        parameters=PAGE_PARAMETERS,
        responses={200: ref("ListTenantsResponse"), **errors(422)},
    )
    def get(self, request: Request) -> Response:
        tenants = tenants_active(organization=organization_of(request))[page(request)]
        return Response([tenant_json(t) for t in tenants])

    @extend_schema(
        operation_id="admin_tenants_create",
        request=json_body(ref("CreateTenantsRequest")),
        responses={
            200: ref("CreateTenantsResponse"),
            201: ref("CreateTenantsResponse"),
            **errors(400, 422),
        },
    )
    def post(self, request: Request) -> Response:
        valid, issues = parse_creates(bulk_items(request.data), CreateTenantItem)
        result = services.tenants_create(
            organization=organization_of(request),
            items=[
                services.NewTenant(index=i, customer_id=d["customerId"], name=d["name"])
                for i, d in valid
            ],
        )
        return created_response(result, issues, tenant_json)

    @extend_schema(
        operation_id="admin_tenants_update",
        request=json_body(ref("UpdateTenantsRequest")),
        responses={200: ref("UpdateTenantsResponse"), **errors(400, 422)},
    )
    def patch(self, request: Request) -> Response:
        changes, issues = parse_changes(bulk_items(request.data), UpdateTenantItem)
        result = services.tenants_update(organization=organization_of(request), items=changes)
        return updated_response(result, issues, tenant_json)

    @extend_schema(
        operation_id="admin_tenants_delete",
        parameters=[IDS_PARAMETER],
        responses={200: ref("DeleteTenantsResponse"), **errors(422)},
    )
    def delete(self, request: Request) -> Response:
        result = services.tenants_delete(
            organization=organization_of(request), ids=query_ids(request)
        )
        return deleted_response(result)


class TenantDetailView(APIView):
    @extend_schema(
        operation_id="admin_tenants_get",
        responses={200: ref("AdminTenant"), **errors(404)},
    )
    def get(self, request: Request, id: str) -> Response:
        return Response(
            tenant_json(tenant_get(organization=organization_of(request), tenant_id=id))
        )


# -- batch events ------------------------------------------------------------------------


def parse_batch(items: list[Any]) -> list[EventInput]:
    """Every item parsed, or a 400/422 naming the first bad item's index and field."""
    parsed: list[EventInput] = []
    for index, item in enumerate(items):
        serializer = BatchEventSerializer(data=item)
        if not serializer.is_valid():
            raise serializers.ValidationError({f"[{index}]": serializer.errors})
        parsed.append(BatchEventSerializer.event_input(serializer.validated_data))
    return parsed


BATCH_REQUEST = {
    "type": "array",
    "minItems": 1,
    "maxItems": MAX_BATCH_ITEMS,
    "items": ref("BatchMetricEvent"),
}


class MetricBatchEventsView(APIView):
    @extend_schema(
        operation_id="admin_metrics_batch_events",
        request=json_body(BATCH_REQUEST),
        parameters=[TENANT_HEADER],
        responses={202: ref("BatchEventsResponse"), **errors(400, 404, 422)},
        description=(
            "Submit up to 1,000 metric events for asynchronous processing. The whole "
            "request is validated first and rejected whole. Each item may carry "
            "`timestamp` (ISO 8601 with offset), an extension for backfills."
        ),
    )
    def post(self, request: Request) -> Response:
        tenant = tenant_of(request)
        items = parse_batch(bulk_items(request.data, maximum=MAX_BATCH_ITEMS))
        batch_accept(
            tenant=tenant,
            config=tenant_config(tenant),
            items=items,
            now=timezone.now(),
            enqueue=enqueue_batch,
        )
        return Response(batch_accepted_json(len(items)), status=status.HTTP_202_ACCEPTED)
