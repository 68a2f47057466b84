"""Path converters for the APIs.

`id`: a path segment holding a user id, a metric key or a resource id. Django's `str`
matches any segment, so `/v1/users/a%00b` reached the database with a NUL byte in a
parameter, which PostgreSQL refuses (a 500). No id can hold one (the API refuses NUL
characters in every string it stores), so such a path matches no route: a 404.
"""

from __future__ import annotations

from django.urls import register_converter
from django.urls.converters import StringConverter


class IdConverter(StringConverter):
    regex = "[^/\x00]+"


register_converter(IdConverter, "id")
