"""Input serializers (camelCase on the wire) and output shapers shared by the API views.

Input is strict: a string field takes only JSON strings, a number only JSON numbers.
Errors name the field; `code="unprocessable"` marks a well-formed but invalid value (422).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, NamedTuple

from rest_framework import serializers
from rest_framework.fields import SkipField, empty

from ..numbers import DECIMAL_PLACES, MAX_ABS_VALUE, fits_places, to_decimal
from ..services.events import EventInput
from ..services.users import NOTIFICATION_TYPES, UserInput
from ..timezones import is_iana_zone
from .errors import UNPROCESSABLE

# The earliest event timestamp: its calendar date exists in every time zone (a day more
# would reach before year 1 west of UTC).
EARLIEST_TIMESTAMP = datetime(1, 1, 2, tzinfo=UTC)


def validate_timezone(name: str | None) -> None:
    if name is not None and not is_iana_zone(name):
        raise serializers.ValidationError(f"{name!r} is not a valid IANA time zone name.")


class StrictCharField(serializers.CharField):
    """A CharField that refuses numbers and booleans instead of converting them, and keeps
    what was sent: no trimming of surrounding spaces (DRF's default), so an id, a value
    or a key is stored, and found again, exactly as written."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("trim_whitespace", False)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


class EventValueField(serializers.Field):
    """A JSON number with |value| <= 1e12 and at most 6 decimal places (else 422; not a
    number: 400). The JSON parser reads numbers with a fraction or exponent as Decimal
    (api/parsers.py), so `1e400` is out of range, not infinite."""

    default_error_messages = {
        "invalid": "must be a finite number.",
        "range": "must be between -1e12 and 1e12.",
        "places": f"must have at most {DECIMAL_PLACES} decimal places.",
    }

    def to_internal_value(self, data: Any) -> Decimal:
        if isinstance(data, bool) or not isinstance(data, int | float | Decimal):
            self.fail("invalid")
        exact = Decimal(repr(data)) if isinstance(data, float) else Decimal(data)
        if not exact.is_finite():
            self.fail("invalid")
        # Range first, without the decimal context (abs() of 1e1000000 overflows it),
        # since quantizing a huge number (1e30) overflows Decimal's precision.
        if exact.copy_abs() > MAX_ABS_VALUE:
            raise serializers.ValidationError(self.error_messages["range"], code=UNPROCESSABLE)
        if not fits_places(exact):
            raise serializers.ValidationError(self.error_messages["places"], code=UNPROCESSABLE)
        return to_decimal(exact)

    def to_representation(self, value: Any) -> Any:  # pragma: no cover - input only
        return value


class StringMapField(serializers.DictField):
    child = StrictCharField(allow_blank=True, max_length=255)

    def to_internal_value(self, data: Any) -> dict[str, str]:
        if not isinstance(data, dict):
            self.fail("not_a_dict", input_type=type(data).__name__)
        return super().to_internal_value(data)


class InputSerializer(serializers.Serializer):
    """A serializer for request input whose fields are copied shallowly per instance.

    DRF deep-copies every declared field for every serializer instance (re-running each
    field's `__init__`, which rebuilds its validators) so that code may change one
    instance's fields. Input serializers here never do, and the event endpoint builds
    two of them per request: the deep copies cost ~100 µs of the ~170 µs spent
    validating an event body. A shallow copy still gives each instance fields of its
    own to bind (name, parent, source); what they share (validators, error messages,
    a list's or dict's child field) is only read while validating.
    """

    def get_fields(self) -> dict[str, serializers.Field]:
        return {name: copy.copy(field) for name, field in self._declared_fields.items()}


class UpdatedUserSerializer(InputSerializer):
    """Trophy's `UpdatedUser`: every field optional; only fields present are changed."""

    email = StrictCharField(required=False, allow_null=True, allow_blank=True, max_length=320)
    name = StrictCharField(required=False, allow_null=True, allow_blank=True, max_length=255)
    tz = StrictCharField(required=False, allow_null=True, validators=[validate_timezone])
    deviceTokens = serializers.ListField(
        child=StrictCharField(max_length=1024), required=False, allow_null=True
    )
    subscribeToEmails = StrictBooleanField(required=False)
    # Many of Trophy's examples spell it this way; accepted as an alias.
    subscribedToEmails = StrictBooleanField(required=False, write_only=True)
    attributes = StringMapField(required=False)

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise serializers.ValidationError(
                {"non_field_errors": [f"expected a JSON object, got {type(data).__name__}."]}
            )
        return super().to_internal_value(data)

    @staticmethod
    def changes(validated: dict[str, Any]) -> dict[str, Any]:
        """Map validated wire fields to model field names (only those present)."""
        out: dict[str, Any] = {}
        for wire, field in (
            ("email", "email"),
            ("name", "name"),
            ("tz", "tz"),
            ("deviceTokens", "device_tokens"),
            ("subscribedToEmails", "subscribe_to_emails"),
            ("subscribeToEmails", "subscribe_to_emails"),
            ("attributes", "attributes"),
        ):
            if wire in validated:
                out[field] = validated[wire]
        return out


class UpsertedUserSerializer(UpdatedUserSerializer):
    id = StrictCharField(max_length=255, min_length=1)

    def user_input(self) -> UserInput:
        data = self.validated_data
        return UserInput(external_id=data["id"], changes=self.changes(data))


class OffsetDateTimeField(serializers.DateTimeField):
    """An ISO 8601 datetime that must carry its UTC offset. DRF would otherwise make a
    naive value aware in the server's zone before any `validate_<field>` sees it."""

    def to_internal_value(self, value: Any) -> datetime:
        # The usual input, an ISO 8601 string with an offset, parsed directly: what DRF
        # does for it (Django's parse_datetime tries datetime.fromisoformat first, then
        # converts to the current time zone, UTC) cost 4 µs per timestamp, a sixth of an
        # imported line's parsing. Anything else takes DRF's path and gets its errors.
        if isinstance(value, str):
            try:
                parsed = datetime.fromisoformat(value)
            except ValueError:
                parsed = None
            if parsed is not None and parsed.tzinfo is not None:
                try:
                    return _on_or_after_earliest(parsed.astimezone(UTC))
                except OverflowError:
                    pass  # DRF's path refuses it ("Datetime value out of range.")
        return _on_or_after_earliest(super().to_internal_value(value))

    def enforce_timezone(self, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise serializers.ValidationError(
                "must include a UTC offset (e.g. 2026-01-31T09:00:00Z)."
            )
        return super().enforce_timezone(value)


def _on_or_after_earliest(value: datetime) -> datetime:
    if value < EARLIEST_TIMESTAMP:
        raise serializers.ValidationError(
            "must be on or after 0001-01-02T00:00:00Z.", code=UNPROCESSABLE
        )
    return value


class UpsertedUserField(serializers.Field):
    """An event's `user` object (Trophy's `UpsertedUser`), validated by
    `UpsertedUserSerializer`; its errors nest under the field ("user.id: ...")."""

    def to_internal_value(self, data: Any) -> UserInput:
        serializer = UpsertedUserSerializer(data=data)
        if not serializer.is_valid():
            raise serializers.ValidationError(serializer.errors)
        return serializer.user_input()

    def to_representation(self, value: Any) -> Any:  # pragma: no cover - input only
        return value


class EventBodySerializer(InputSerializer):
    user = UpsertedUserField()
    value = EventValueField()
    attributes = StringMapField(required=False)
    # Extension to Trophy (SEMANTICS A2): when the event happened, for backfills.
    timestamp = OffsetDateTimeField(required=False)


class BatchEventSerializer(EventBodySerializer):
    """Trophy's `BatchMetricEvent` (a batch item, an `import_events` line): a single event's
    body plus the metric `key` and the `idempotencyKey` that a single event carries in its
    path and headers."""

    key = StrictCharField(max_length=255)
    idempotencyKey = StrictCharField(required=False, min_length=1, max_length=255)

    @staticmethod
    def event_input(data: dict[str, Any]) -> EventInput:
        """The service input for validated data."""
        return EventInput(
            metric_key=data["key"],
            user=data["user"],
            value=data["value"],
            attributes=data.get("attributes", {}),
            timestamp=data.get("timestamp"),
            idempotency_key=data.get("idempotencyKey"),
        )


class NotificationPreferencesSerializer(serializers.Serializer):
    def to_internal_value(self, data: Any) -> dict[str, list[str]]:
        if not isinstance(data, dict):
            raise serializers.ValidationError("expected a JSON object.")
        out: dict[str, list[str]] = {}
        for key, channels in data.items():
            if key not in NOTIFICATION_TYPES:
                raise serializers.ValidationError(
                    {
                        key: f"unknown notification type (use one of {', '.join(NOTIFICATION_TYPES)})."
                    }
                )
            if not isinstance(channels, list) or any(c not in ("email", "push") for c in channels):
                raise serializers.ValidationError({key: "must be a list of 'email' and/or 'push'."})
            out[key] = list(dict.fromkeys(channels))
        return out


class StreakPreferencesSerializer(serializers.Serializer):
    enabled = StrictBooleanField(required=False)
    evaluationMode = serializers.ChoiceField(choices=["OR", "AND", "ALL"], required=False)
    metrics = serializers.ListField(child=serializers.DictField(), required=False)


class PreferencesBodySerializer(serializers.Serializer):
    notifications = NotificationPreferencesSerializer(required=False)
    streak = StreakPreferencesSerializer(required=False)


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


class RememberingValidation(serializers.Serializer):
    """For a serializer of flat fields validated again and again by one instance (the
    lines of an import, the bodies of the event endpoint in a web process):
    `validate_object(data)` is `run_validation(data)` for a JSON object, with the same
    fields and `validate_<field>` hooks, without DRF's per-call bookkeeping, which costs
    as much as the checks (about 0.2 ms of an event request's 2.3 ms of Python, measured
    with py-spy under `make bench`).

    Validation is a function of the value alone, and most objects repeat their user
    object, metric key, value and attributes verbatim: each field remembers the result of
    the values it accepted (by exact JSON value; at most MEMO_SIZE per field), so a
    repeated value is checked once, by the same field objects. A missing optional field
    is skipped as DRF would skip it, and a value that DRF would only convert (a field
    with the base `run_validation` and no validators, such as the timestamp) is converted
    directly. The results are shared: callers must not change them."""

    # Fields whose values rarely repeat: remembering them would only cost.
    NOT_REMEMBERED: frozenset[str] = frozenset()

    def validate_object(self, data: Any) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise serializers.ValidationError(
                {
                    "non_field_errors": [
                        f"Invalid data. Expected a dictionary, but got {type(data).__name__}."
                    ]
                }
            )
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


class EventBody(RememberingValidation, EventBodySerializer):
    """The body of `POST /v1/metrics/{key}/event`, validated by one instance per process
    (`EVENT_BODY.validate_object`)."""

    NOT_REMEMBERED = frozenset({"timestamp"})


EVENT_BODY = EventBody()
