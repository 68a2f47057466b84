"""`GET /v1/users/{id}/wrapped`: Trophy's `WrappedResponse` (SEMANTICS A4), and this
service's extension `POST`/`DELETE /v1/users/{id}/wrapped/share` (share links).

The stored summary is the response's `activity`, as JSON text; the `user` object is the
user's profile now. The body is joined as text, without parsing the summary again.
"""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
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

from .cards import FORMATS
from .services import summary_activity
from .sharing import base_url, share, share_link_revoke


class WrappedQuerySerializer(serializers.Serializer):
    year = serializers.IntegerField(min_value=1, required=False)


def current_year(tenant: Tenant, user: EndUser) -> int:
    """The year it is now in the user's time zone (else its tenant's)."""
    return local_date(timezone.now(), user.tz or tenant.default_timezone).year


def wrapped_body(user: EndUser, activity: str) -> bytes:
    return f'{{"user":{json.dumps(user_json(user))},"activity":{activity}}}'.encode()


YEAR_PARAMETER = OpenApiParameter(
    "year",
    int,
    OpenApiParameter.QUERY,
    required=False,
    description="1 to the current year (in the user's time zone); default: the current year.",
)


def requested_year(request: Request, tenant: Tenant, user: EndUser) -> int:
    """The `year` query parameter, 1 to the current year; the current year by default."""
    query = WrappedQuerySerializer(data=request.query_params)
    if not query.is_valid():
        raise serializers.ValidationError(as_unprocessable(query.errors))
    now_year = current_year(tenant, user)
    year: int = query.validated_data.get("year", now_year)
    if year > now_year:
        raise serializers.ValidationError(
            {
                "year": serializers.ErrorDetail(
                    f"must be at most the current year ({now_year}).", code=UNPROCESSABLE
                )
            }
        )
    return year


def user_and_year(request: Request, user_id: str) -> tuple[Tenant, EndUser, int]:
    """The request's tenant, its user `user_id` (404 if none) and the `year` asked for."""
    tenant = tenant_of(request)
    user = user_get(tenant=tenant, external_id=user_id)
    return tenant, user, requested_year(request, tenant, user)


class UserWrappedView(APIView):
    @extend_schema(
        operation_id="users_wrapped",
        parameters=[TENANT_HEADER, YEAR_PARAMETER],
        responses={200: ref("WrappedResponse"), **errors(404, 422)},
        description="A user's year in review, precomputed (SEMANTICS A4 defines every field).",
    )
    def get(self, request: Request, user_id: str) -> Any:
        tenant, user, year = user_and_year(request, user_id)
        activity = summary_activity(tenant=tenant, user=user, year=year)
        return HttpResponse(wrapped_body(user, activity), content_type="application/json")


# -- Share links (an extension to Trophy's API) ----------------------------------------

SHARE_LINK = inline_serializer(
    "WrappedShareLink",
    {
        "url": serializers.URLField(help_text="The public page of the user's recap."),
        "token": serializers.CharField(help_text="The link's unguessable token."),
        "images": inline_serializer(
            "WrappedShareImages",
            {
                fmt: serializers.URLField(help_text=f"The {width}×{height} PNG card.")
                for fmt, (width, height) in FORMATS.items()
            },
        ),
    },
)


class UserWrappedShareView(APIView):
    @extend_schema(
        operation_id="users_wrapped_share_create",
        request=None,
        parameters=[TENANT_HEADER, YEAR_PARAMETER],
        responses={
            200: OpenApiResponse(SHARE_LINK, description="The existing share link."),
            201: OpenApiResponse(SHARE_LINK, description="A new share link."),
            **errors(404, 422),
        },
        description=(
            "Extension (not in Trophy's API): share the user's recap of a year. Creates the "
            "user's share link (or returns the one that exists): a public page with the "
            "recap and its PNG cards (story 1080×1920, square 1080×1080, og 1200×630). "
            "Nothing private is shown: the display name, never the email or attributes."
        ),
    )
    def post(self, request: Request, user_id: str) -> Any:
        tenant, user, year = user_and_year(request, user_id)
        body, created = share(tenant=tenant, user=user, year=year, base=base_url(request))
        return HttpResponse(
            json.dumps(body), status=201 if created else 200, content_type="application/json"
        )

    @extend_schema(
        operation_id="users_wrapped_share_revoke",
        request=None,
        parameters=[TENANT_HEADER, YEAR_PARAMETER],
        responses={
            204: OpenApiResponse(description="Revoked (or there was no link)."),
            **errors(404, 422),
        },
        description=(
            "Extension (not in Trophy's API): revoke the user's share link of a year. Its "
            "page and images answer 404 from now on. Idempotent: 204 whether or not a "
            "link existed."
        ),
    )
    def delete(self, request: Request, user_id: str) -> Any:
        _tenant, user, year = user_and_year(request, user_id)
        share_link_revoke(user=user, year=year)
        return HttpResponse(status=204)
