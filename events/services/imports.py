"""Bulk import of metric events (`python manage.py import_events FILE.jsonl`).

Each line is one of Trophy's `BatchMetricEvent` objects: `{"key", "user": {"id", ...},
"value", "attributes"?, "idempotencyKey"?, "timestamp"?}`. Lines are validated by the
same serializers and `validate_event` as `POST /v1/metrics/{key}/event`; an invalid line
is reported with its number and skipped.

The result is the state the same events give through the HTTP path one by one, but a
chunk of lines costs a handful of statements instead of several per event: one read of
the chunk's users, one multi-row insert of its new users, one multi-row insert of its
events (`ON CONFLICT DO NOTHING ... RETURNING id` tells which were new), and one call
of `apply_contributions` for the events actually inserted. Each chunk is one
transaction, so an interrupted import leaves whole chunks, and re-running the file
finishes the job: every line has an idempotency key (its own, or one derived from the
line), so nothing is imported twice.
"""

from __future__ import annotations

import copy
import gc
import hashlib
import json
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice
from queue import Full, Queue
from typing import Any
from zoneinfo import ZoneInfo

from django.db import connection, transaction
from django.utils import timezone
from rest_framework import serializers
from rest_framework.fields import SkipField, empty

from ..api.errors import _first_error
from ..api.serializers import EventBodySerializer, StrictCharField
from ..exceptions import ApiError
from ..ids import uuid7
from ..models import EndUser, Event, Tenant
from ..selectors.config import TenantConfig, tenant_config
from .derived import Contribution, apply_contributions
from .events import IDEMPOTENCY_CONFLICT, EventInput, validate_event
from .sql import insert_rows_ignoring_conflict
from .users import UserInput, _apply, _new_user, _validate

DEFAULT_BATCH_SIZE = 5000
# Invalid lines kept in the result (all are counted and passed to `on_invalid`), so a
# file of garbage cannot exhaust memory.
MAX_KEPT_ERRORS = 1000

EVENT_FIELDS = (
    "id",
    "tenant",
    "user",
    "metric",
    "value",
    "attributes",
    "timestamp",
    "local_date",
    "received_at",
    "idempotency_key",
)
USER_FIELDS = (
    "tenant",
    "external_id",
    "email",
    "name",
    "tz",
    "device_tokens",
    "subscribe_to_emails",
    "attributes",
    "control",
    "notification_preferences",
    "streak_enabled",
    "created",
    "updated",
)


def derived_idempotency_key(raw_line: str, line_number: int) -> str:
    """The key of a line that has none: the same line at the same place in a file always
    gets the same key, so re-running an import skips what it already imported, while
    two identical lines of one file remain two events."""
    digest = hashlib.sha256(raw_line.encode()).hexdigest()[:32]
    return f"import:{digest}:{line_number}"


@dataclass(frozen=True)
class LineError:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


@dataclass
class ImportResult:
    lines: int = 0
    imported: int = 0
    duplicates: int = 0
    invalid: int = 0
    users_created: int = 0
    errors: list[LineError] = field(default_factory=list)


# Distinct user objects whose validation an import remembers (see validate_user).
USER_CACHE_SIZE = 65536


class ImportLineSerializer(EventBodySerializer):
    """`EventBodySerializer` (the HTTP body's rules) plus the two fields a batch item
    carries in its body rather than in the path and headers."""

    key = StrictCharField(max_length=255)
    idempotencyKey = StrictCharField(required=False, min_length=1, max_length=255)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._users: dict[str, UserInput] = {}

    def validate_user(self, value: Any) -> UserInput:
        # Most lines repeat their user's object verbatim: validating it once per
        # distinct object rather than per line is most of the import's validation cost.
        text = json.dumps(value, sort_keys=True)
        user = self._users.get(text)
        if user is None:
            user = super().validate_user(value)
            if len(self._users) >= USER_CACHE_SIZE:
                self._users.clear()
            self._users[text] = user
        return user

    def validate_line(self, data: dict[str, Any]) -> dict[str, Any]:
        """`run_validation(data)` for a JSON object: the same fields and `validate_<field>`
        hooks, without DRF's per-call bookkeeping, which costs as much as the checks."""
        out: dict[str, Any] = {}
        errors: dict[str, Any] = {}
        for name, checked, hook in self._checks():
            try:
                value = checked.run_validation(data.get(name, empty))
                out[name] = hook(value) if hook is not None else value
            except serializers.ValidationError as exc:
                errors[name] = exc.detail
            except SkipField:
                pass
        if errors:
            raise serializers.ValidationError(errors)
        return out

    def _checks(self) -> list[tuple[str, serializers.Field, Callable[[Any], Any] | None]]:
        checks = getattr(self, "_cached_checks", None)
        if checks is None:
            checks = [
                (name, field, getattr(self, f"validate_{name}", None))
                for name, field in self.fields.items()
                if not field.read_only
            ]
            self._cached_checks = checks
        return checks


@dataclass
class _Line:
    number: int
    data: EventInput
    metric_id: Any
    idempotency_key: str


def _parse(
    validator: ImportLineSerializer,
    config: TenantConfig,
    number: int,
    raw: str,
    now: datetime,
) -> _Line:
    """Validate one line; raise ValueError(message) when it is invalid."""
    try:
        obj = json.loads(raw)
    except ValueError as exc:
        raise ValueError(f"invalid JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise ValueError(f"expected a JSON object, got {type(obj).__name__}.")
    try:
        # One serializer instance for the whole import: constructing one per line costs
        # more than validating the line.
        body = validator.validate_line(obj)
        data = EventInput(
            metric_key=body["key"],
            user=body["user"],
            value=body["value"],
            attributes=body.get("attributes", {}),
            timestamp=body.get("timestamp"),
            idempotency_key=body.get("idempotencyKey"),
        )
        metric = validate_event(config=config, data=data, now=now)
    except serializers.ValidationError as exc:
        raise ValueError(_first_error(exc.detail)[0]) from None
    except ApiError as exc:
        raise ValueError(exc.message) from None
    return _Line(
        number=number,
        data=data,
        metric_id=metric.pk,
        idempotency_key=data.idempotency_key or derived_idempotency_key(raw, number),
    )


def _numbered(lines: Iterable[str]) -> Iterator[tuple[int, str]]:
    for number, line in enumerate(lines, start=1):
        text = line.rstrip("\r\n")
        if text.strip():
            yield number, text


def events_import(
    *,
    tenant: Tenant,
    lines: Iterable[str],
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: Callable[[int], None] | None = None,
    on_invalid: Callable[[LineError], None] | None = None,
) -> ImportResult:
    """Import JSON lines of events into `tenant`, `batch_size` lines per transaction.

    Reads `lines` as a stream (memory stays bounded by the batch size). Returns the
    counts: lines read, events imported, duplicates skipped (an event with the same
    idempotency key exists, or appeared earlier in the file), invalid lines (also
    passed to `on_invalid` as they are found). `progress` is called with the number of
    lines of each finished batch. Blank lines are ignored.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    result = ImportResult()
    config = tenant_config(tenant)
    chunks = _parsed_chunks(config, lines, batch_size)
    cache = _UserCache()
    with _fewer_gc_pauses():
        for chunk in _prefetched(chunks) if connection.vendor == "postgresql" else chunks:
            _import_chunk(tenant, config, cache, chunk, result, on_invalid)
            if progress is not None:
                progress(chunk.size)
    return result


@contextmanager
def _fewer_gc_pauses() -> Iterator[None]:
    """An import allocates millions of small objects, none of them in reference cycles
    worth collecting early; with the default thresholds the cycle collector ran so often
    that it took a third of the time. Collect less often (still bounded) while importing,
    and leave the process's objects from before out of every collection."""
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


@dataclass
class _Chunk:
    now: datetime
    size: int
    lines: list[_Line]
    errors: list[LineError]


def _parsed_chunks(config: TenantConfig, lines: Iterable[str], batch_size: int) -> Iterator[_Chunk]:
    validator = ImportLineSerializer()
    numbered = _numbered(lines)
    while True:
        raw_lines = list(islice(numbered, batch_size))
        if not raw_lines:
            return
        now = timezone.now()
        chunk = _Chunk(now=now, size=len(raw_lines), lines=[], errors=[])
        for number, raw in raw_lines:
            try:
                chunk.lines.append(_parse(validator, config, number, raw, now))
            except ValueError as exc:
                chunk.errors.append(LineError(number, str(exc)))
        yield chunk


_DONE = object()


def _prefetched(chunks: Iterator[_Chunk], depth: int = 2) -> Iterator[_Chunk]:
    """Iterate `chunks` in a background thread, `depth` chunks ahead: parsing the next
    chunk then runs while this one is written (psycopg releases the GIL while it waits
    for the server), which on two cores is most of an import's speed-up. The thread
    never touches the database."""
    queue: Queue[Any] = Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for chunk in chunks:
                while not stop.is_set():
                    try:
                        queue.put(chunk, timeout=0.1)
                        break
                    except Full:
                        continue
                if stop.is_set():
                    return
            queue.put(_DONE)
        except BaseException as exc:  # handed to the consumer, which re-raises it
            queue.put(exc)

    thread = threading.Thread(target=produce, name="import-parser", daemon=True)
    thread.start()
    try:
        while True:
            item = queue.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join(timeout=5)


def _import_chunk(
    tenant: Tenant,
    config: TenantConfig,
    cache: _UserCache,
    chunk: _Chunk,
    result: ImportResult,
    on_invalid: Callable[[LineError], None] | None,
) -> None:
    now = chunk.now
    result.lines += chunk.size
    parsed = chunk.lines
    errors = list(chunk.errors)

    with transaction.atomic():
        if connection.vendor == "postgresql":
            # Waiting for the WAL flush of every chunk would cost more than writing it.
            # A crash can lose the last chunks committed, never half of one, and
            # re-running the file re-imports exactly those (idempotency keys).
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit TO OFF")
        users = _load_users(tenant, parsed, cache)
        new_users: dict[str, EndUser] = {}
        changed_fields: dict[str, set[str]] = {}
        default_tz = tenant.default_timezone
        seen_keys: set[tuple[str, Any, str]] = set()
        rows: list[tuple[Any, ...]] = []
        row_users: list[EndUser] = []
        for line in parsed:
            user_input = line.data.user
            external_id = user_input.external_id
            user = users.get(external_id)
            # The event path's user upsert, line by line in memory: validate, then
            # create or apply the fields sent (SEMANTICS A1: the tz sent with the
            # event wins for its local date).
            try:
                _validate(config, user_input.changes, user)
            except ApiError as exc:
                errors.append(LineError(line.number, exc.message))
                continue
            if user is None:
                user = _new_user(tenant, user_input, now)
                users[external_id] = new_users[external_id] = user
            elif user_input.changes and (external_id, id(user_input)) not in cache.noop:
                changed = _apply(user, user_input.changes)
                if changed:
                    user.updated = now
                    if external_id not in new_users:
                        changed_fields.setdefault(external_id, set()).update(changed)
            dedupe = (external_id, line.metric_id, line.idempotency_key)
            if dedupe in seen_keys:
                result.duplicates += 1
                continue
            seen_keys.add(dedupe)
            timestamp = line.data.timestamp or now
            local_date = timestamp.astimezone(ZoneInfo(user.tz or default_tz)).date()
            rows.append(
                (
                    uuid7(),
                    tenant.pk,
                    None,  # the user's id, known once new users are inserted
                    line.metric_id,
                    line.data.value,
                    line.data.attributes,
                    timestamp,
                    local_date,
                    now,
                    line.idempotency_key,
                )
            )
            row_users.append(user)

        # Invalid lines in file order, whichever check found them.
        for error in sorted(errors, key=lambda e: e.line):
            result.invalid += 1
            if len(result.errors) < MAX_KEPT_ERRORS:
                result.errors.append(error)
            if on_invalid is not None:
                on_invalid(error)
        result.users_created += _save_users(tenant, users, new_users, changed_fields)
        for external_id, user in new_users.items():
            cache.users[external_id] = user
        cache.forget([*new_users, *changed_fields])
        rows = [
            (row[0], row[1], user.pk, *row[3:]) for row, user in zip(rows, row_users, strict=True)
        ]
        inserted = {
            event_id
            for (event_id,) in insert_rows_ignoring_conflict(
                Event, fields=EVENT_FIELDS, rows=rows, conflict=IDEMPOTENCY_CONFLICT
            )
        }
        result.duplicates += len(rows) - len(inserted)
        result.imported += len(inserted)
        contributions: list[Contribution] = [
            (row[2], row[3], row[7], row[4], row[5]) for row in rows if row[0] in inserted
        ]
        apply_contributions(tenant.pk, contributions)


class _UserCache:
    """Users already read by this import, so each is loaded once per import rather than
    once per chunk (bounded: cleared past MAX_CACHED_USERS). A user that a line would
    change is still re-read under a lock; `noop` remembers which user objects were
    found to change nothing, with a reference that keeps their id() from being reused."""

    def __init__(self) -> None:
        self.users: dict[str, EndUser] = {}
        self.noop: dict[tuple[str, int], UserInput] = {}

    def forget(self, external_ids: Iterable[str]) -> None:
        gone = set(external_ids)
        if gone:
            self.noop = {k: v for k, v in self.noop.items() if k[0] not in gone}


MAX_CACHED_USERS = 200_000


def _load_users(
    tenant: Tenant, parsed: list[_Line], cache: _UserCache
) -> dict[str, EndUser | None]:
    """The chunk's existing users by external id (None for the missing ones). Users the
    chunk will change are read under a row lock, as the event path locks a user it
    updates, so a concurrent update of other fields is not overwritten."""
    if len(cache.users) > MAX_CACHED_USERS or len(cache.noop) > MAX_CACHED_USERS:
        cache.users.clear()
        cache.noop.clear()
    wanted: dict[str, dict[int, UserInput]] = {}
    for line in parsed:
        wanted.setdefault(line.data.user.external_id, {})[id(line.data.user)] = line.data.user
    missing = [external_id for external_id in wanted if external_id not in cache.users]
    if missing:
        for found in EndUser.objects.filter(tenant=tenant, external_id__in=missing):
            cache.users[found.external_id] = found
    users: dict[str, EndUser | None] = {ext: cache.users.get(ext) for ext in wanted}
    to_lock = []
    for external_id, inputs in wanted.items():
        current = users[external_id]
        if current is None:
            continue
        for key, user_input in inputs.items():
            if not user_input.changes or (external_id, key) in cache.noop:
                continue
            if _apply(copy.copy(current), user_input.changes):
                to_lock.append(current.pk)
                break
            cache.noop[(external_id, key)] = user_input
    if to_lock:
        locked = EndUser.objects.select_for_update().filter(pk__in=to_lock).order_by("pk")
        for user in locked:
            users[user.external_id] = cache.users[user.external_id] = user
        cache.forget(user.external_id for user in locked)
    return users


def _save_users(
    tenant: Tenant,
    users: dict[str, EndUser | None],
    new_users: dict[str, EndUser],
    changed_fields: dict[str, set[str]],
) -> int:
    """Insert the chunk's new users and write the changed fields of existing ones;
    return how many users were created. Afterwards every user in `users` has its pk."""
    created = 0
    if new_users:
        attnames = [EndUser._meta.get_field(name).attname for name in USER_FIELDS]  # type: ignore[union-attr]
        rows = [tuple(getattr(user, name) for name in attnames) for user in new_users.values()]
        returned = insert_rows_ignoring_conflict(
            EndUser,
            fields=USER_FIELDS,
            rows=rows,
            conflict="(tenant_id, external_id)",
            returning=("id", "external_id"),
        )
        for pk, external_id in returned:
            new_users[external_id].pk = pk
        created = len(returned)
        if created < len(new_users):
            # A concurrent request created some of them first: use its rows.
            missing = [ext for ext, user in new_users.items() if user.pk is None]
            for pk, external_id in EndUser.objects.filter(
                tenant=tenant, external_id__in=missing
            ).values_list("id", "external_id"):
                new_users[external_id].pk = pk
    if changed_fields:
        to_update = [users[ext] for ext in changed_fields]
        names = sorted(set().union(*changed_fields.values()) | {"updated"})
        EndUser.objects.bulk_update([u for u in to_update if u is not None], names)
    return created
