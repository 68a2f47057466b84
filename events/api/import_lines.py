"""The lines of `import_events`: Trophy's `BatchMetricEvent`, one JSON object per line,
validated by the same serializer fields and checks as a batch item (and so as the body of
`POST /v1/metrics/{key}/event`), only faster line after line (`ImportLineSerializer`).

`line_parser(config)` is what the import service runs on each line
(services.imports.LineParser); `import_lines` is the import with it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any, NamedTuple

from rest_framework import serializers
from rest_framework.fields import SkipField, empty

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
from .serializers import BatchEventSerializer


def _memo_key(value: Any) -> Any:
    """A hashable key that tells JSON values apart exactly (1, 1.0, True and "1" differ;
    so do 0.0 and -0.0)."""
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return (kind, value)
    if kind is Decimal:
        return (kind, str(value))  # as written: 1.0 and 1 differ, as they do for DRF
    if kind is dict:
        items = []
        for name, item in value.items():
            item_kind = type(item)
            if item_kind is Decimal:
                item = str(item)
            elif not (item_kind is str or item_kind is int or item_kind is bool or item is None):
                return None  # nested: checked every time (the serializer refuses it)
            items.append((name, item_kind, item))
        return (kind, tuple(items))
    if kind is list and all(type(item) is str for item in value):
        # As the user object's deviceTokens.
        return (kind, tuple(value))
    return None


# Distinct values per field whose validation an import remembers (see validate_line).
MEMO_SIZE = 65536


class ImportLineSerializer(BatchEventSerializer):
    """The batch item's rules (`BatchEventSerializer`), checked faster line after line."""

    # Fields whose values rarely repeat: remembering them would only cost.
    NOT_REMEMBERED = frozenset({"timestamp", "idempotencyKey"})

    def validate_line(self, data: dict[str, Any]) -> dict[str, Any]:
        """`run_validation(data)` for a JSON object: the same fields and `validate_<field>`
        hooks, without DRF's per-call bookkeeping, which costs as much as the checks.

        Validation is a function of the value alone, and most lines repeat their user
        object, metric key, value and attributes verbatim: each field remembers the result
        of the values it accepted (by exact JSON value), so a repeated value is checked
        once per import, by the same field objects. A missing optional field is skipped as
        DRF would skip it, and a value that DRF would only convert (a field with the base
        `run_validation` and no validators, such as the timestamp) is converted directly."""
        out: dict[str, Any] = {}
        errors: dict[str, Any] = {}
        for name, checked, hook, memo, skip_missing, convert in self._checks():
            raw = data.get(name, empty)
            if raw is empty and skip_missing:
                continue
            key = _memo_key(raw) if memo is not None and raw is not empty else None
            if key is not None and memo is not None:
                hit = memo.get(key, empty)
                if hit is not empty:
                    out[name] = hit
                    continue
            try:
                if convert is not None and raw is not None and raw is not empty:
                    value = convert(raw)
                else:
                    value = checked.run_validation(raw)
                value = hook(value) if hook is not None else value
            except serializers.ValidationError as exc:
                errors[name] = exc.detail
                continue
            except SkipField:
                continue
            out[name] = value
            if key is not None and memo is not None:
                if len(memo) >= MEMO_SIZE:
                    memo.clear()
                memo[key] = value
        if errors:
            raise serializers.ValidationError(errors)
        return out

    def _checks(self) -> list[_Check]:
        checks = getattr(self, "_cached_checks", None)
        if checks is None:
            checks = [
                _Check(
                    name,
                    field,
                    getattr(self, f"validate_{name}", None),
                    None if name in self.NOT_REMEMBERED else {},
                    # what Field.validate_empty_values does with a missing value here
                    skip_missing=not field.required and field.default is empty,
                    # Field.run_validation of a present, non-null value: convert, then run
                    # the validators (none here)
                    convert=(
                        field.to_internal_value
                        if type(field).run_validation is serializers.Field.run_validation
                        and not field.validators
                        else None
                    ),
                )
                for name, field in self.fields.items()
                if not field.read_only
            ]
            self._cached_checks = checks
        return checks


class _Check(NamedTuple):
    name: str
    field: serializers.Field
    hook: Callable[[Any], Any] | None  # the serializer's validate_<name>
    memo: dict[Any, Any] | None  # accepted values by _memo_key, None: not remembered
    skip_missing: bool
    convert: Callable[[Any], Any] | None


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
        body = validator.validate_line(obj)
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
