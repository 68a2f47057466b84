"""The lines of `import_events`: Trophy's `BatchMetricEvent`, one JSON object per line,
validated by the same serializer fields and checks as a batch item (and so as the body of
`POST /v1/metrics/{key}/event`), only faster line after line (`ImportLineSerializer`).

`line_parser(config)` is what the import service runs on each line
(services.imports.LineParser); `import_lines` is the import with it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from rest_framework import serializers

from ..exceptions import ApiError
from ..models import Tenant, TenantConfig
from ..numbers import compact
from ..services.events import validate_event
from ..services.imports import (
    ImportResult,
    LineError,
    LineParser,
    ParsedLine,
    derived_idempotency_key,
    events_import,
)
from .errors import first_error
from .parsers import loads
from .serializers import BatchEventSerializer, RememberingValidation


class ImportLineSerializer(RememberingValidation, BatchEventSerializer):
    """The batch item's rules (`BatchEventSerializer`), checked faster line after line
    (`validate_object`)."""

    # Fields whose values rarely repeat: remembering them would only cost.
    NOT_REMEMBERED = frozenset({"timestamp", "idempotencyKey"})


def _parse(
    validator: ImportLineSerializer,
    config: TenantConfig,
    number: int,
    raw: str,
    now: datetime,
) -> ParsedLine:
    """Validate one line; raise ValueError(message) when it is invalid."""
    try:
        obj = loads(raw)
    except ValueError as exc:
        raise ValueError(f"invalid JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise ValueError(f"expected a JSON object, got {type(obj).__name__}.")
    try:
        body = validator.validate_object(obj)
        data = BatchEventSerializer.event_input(body)
        metric = validate_event(config=config, data=data, now=now)
    except serializers.ValidationError as exc:
        raise ValueError(first_error(exc.detail)[0]) from None
    except ApiError as exc:
        raise ValueError(exc.message) from None
    return (
        number,
        metric.pk,
        data.user,
        compact(data.value),
        data.attributes,
        data.timestamp,
        data.idempotency_key or derived_idempotency_key(raw, number),
    )


def line_parser(config: TenantConfig) -> LineParser:
    """The parser of one import: one serializer for all its lines (constructing one per
    line costs more than validating the line)."""
    validator = ImportLineSerializer()

    def parse(number: int, raw: str, now: datetime) -> ParsedLine:
        return _parse(validator, config, number, raw, now)

    return parse


def import_lines(
    *,
    tenant: Tenant,
    lines: Iterable[str],
    batch_size: int | None = None,
    writers: int | None = None,
    progress: Callable[[int], None] | None = None,
    on_invalid: Callable[[LineError], None] | None = None,
) -> ImportResult:
    """`services.imports.events_import` of JSON lines, each parsed by `line_parser`."""
    options: dict[str, Any] = {}
    if batch_size is not None:
        options["batch_size"] = batch_size
    if writers is not None:
        options["writers"] = writers
    return events_import(
        tenant=tenant,
        lines=lines,
        parser=line_parser,
        progress=progress,
        on_invalid=on_invalid,
        **options,
    )
