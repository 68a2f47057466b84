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

On PostgreSQL, parsing and validating the lines runs in a forked process (it never
touches the database) while the importing process writes the previous chunks, and two
writer threads (`writers`) each write their own share of the users with their own
connection, so the database works on two statements at once. Each transaction locks its
existing users (`SELECT ... JOIN unnest(ids) ... ORDER BY id FOR UPDATE`, in id order so
concurrent transactions cannot deadlock) before inserting their events, as the event path
and `replay` lock a user: a replay of those users waits for the chunk or the chunk for
the replay, and no event is counted twice. Chunks commit with `synchronous_commit` off: a
crash can lose the last chunks committed (never half of one), which re-running the file
restores.
"""

from __future__ import annotations

import copy
import gc
import hashlib
import itertools
import json
import multiprocessing
import threading
import traceback
import zlib
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from itertools import islice
from queue import Empty
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from django.db import connection, transaction
from django.utils import timezone
from rest_framework import serializers
from rest_framework.fields import SkipField, empty

from ..api.errors import first_error
from ..api.serializers import BatchEventSerializer
from ..exceptions import ApiError
from ..ids import uuid7_many
from ..models import EndUser, Event, Tenant
from ..numbers import compact
from ..selectors.config import TenantConfig, tenant_config
from .derived import Contribution, apply_contributions
from .events import IDEMPOTENCY_CONFLICT, validate_event
from .sql import insert_columns_ignoring_conflict, insert_rows_ignoring_conflict
from .users import UserInput, apply_user_changes, new_user, validate_user_changes

DEFAULT_BATCH_SIZE = 5000
# Threads writing at once on PostgreSQL (see _import_in_parallel).
DEFAULT_WRITERS = 2
# Invalid lines kept in the result (all are counted and passed to `on_invalid`), so a
# file of garbage cannot exhaust memory.
MAX_KEPT_ERRORS = 1000

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


def _memo_key(value: Any) -> Any:
    """A hashable key that tells JSON values apart exactly (1, 1.0, True and "1" differ;
    so do 0.0 and -0.0)."""
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return (kind, value)
    if kind is float:
        return (kind, repr(value))
    if kind is dict:
        items = []
        for name, item in value.items():
            item_kind = type(item)
            if item_kind is float:
                item = repr(item)
            elif not (item_kind is str or item_kind is int or item_kind is bool or item is None):
                return (kind, json.dumps(value, sort_keys=True))
            items.append((name, item_kind, item))
        return (kind, tuple(items))
    if kind is list:
        # As the user object's deviceTokens: the JSON text tells values apart exactly.
        return (kind, json.dumps(value, sort_keys=True))
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


# One parsed line, a plain tuple (cheap to pickle between processes):
# (line number, metric id, UserInput, value, attributes, timestamp or None, idempotency key)
_Line = tuple[int, Any, UserInput, int | Decimal, dict[str, str], datetime | None, str]


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
    writers: int = DEFAULT_WRITERS,
    progress: Callable[[int], None] | None = None,
    on_invalid: Callable[[LineError], None] | None = None,
) -> ImportResult:
    """Import JSON lines of events into `tenant`, at most `batch_size` lines per
    transaction.

    Reads `lines` as a stream (memory stays bounded by the batch size). Returns the
    counts: lines read, events imported, duplicates skipped (an event with the same
    idempotency key exists, or appeared earlier in the file), invalid lines (also
    passed to `on_invalid` as they are found). `progress` is called with the number of
    lines of each finished batch. Blank lines are ignored.

    On PostgreSQL, outside a transaction, `writers` threads write at once, each with
    its own connection and its own share of the users (see _import_in_parallel); inside
    a caller's transaction, or on SQLite, the caller's connection writes alone.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    if writers < 1:
        raise ValueError("writers must be at least 1")
    config = tenant_config(tenant)
    postgresql = connection.vendor == "postgresql"
    with _fewer_gc_pauses():
        chunks = (
            _parsed_elsewhere(config, lines, batch_size)
            if postgresql
            else _parsed_chunks(config, lines, batch_size)
        )
        if postgresql and writers > 1 and not connection.in_atomic_block:
            return _import_in_parallel(tenant, config, chunks, writers, progress, on_invalid)
        result = ImportResult()
        cache = _UserCache()
        for chunk in chunks:
            _import_chunk(tenant, config, cache, chunk, result, on_invalid)
            _collect_between_chunks()
            if progress is not None:
                progress(chunk.size)
    return result


def _import_in_parallel(
    tenant: Tenant,
    config: TenantConfig,
    chunks: Iterable[_Chunk],
    writers: int,
    progress: Callable[[int], None] | None,
    on_invalid: Callable[[LineError], None] | None,
) -> ImportResult:
    """Import with `writers` threads, each with its own database connection and its own
    share of the users (a stable hash of the user id), each writing its share of every
    chunk in file order, one transaction per share.

    One writer spends nearly all its time waiting for its statements (without the GIL),
    and PostgreSQL runs one statement at a time per connection: several writers keep the
    database busy on both cores (1,000,000 events: ≈ 11,000/s with one writer, ≈ 16,000/s
    with two; docs/benchmarks.md). Their transactions never wait for each other: no
    user, total or rollup row is written by two of them, and each user's lines stay in
    file order in one writer, so user fields change in the file's order."""
    lock = threading.Lock()
    # Set when a share fails or the import is interrupted: the shares still queued must
    # not commit after it (a later line of a user whose earlier line failed would be
    # written with the wrong user state, and a re-run would skip it as a duplicate).
    stopped = threading.Event()

    def report(error: LineError) -> None:
        if on_invalid is not None:
            with lock:
                on_invalid(error)

    def write(index: int, part: _Chunk) -> None:
        if stopped.is_set():
            return
        try:
            _import_chunk(tenant, config, caches[index], part, results[index], report)
        except BaseException:
            stopped.set()
            raise
        _collect_between_chunks()
        if progress is not None:
            with lock:
                progress(part.size)

    def close_connection() -> None:
        connection.close()  # this writer thread's own connection

    pools = [ThreadPoolExecutor(1, thread_name_prefix=f"import-writer-{i}") for i in range(writers)]
    results = [ImportResult() for _ in pools]
    caches = [_UserCache() for _ in pools]
    pending: deque[Future[None]] = deque()
    try:
        for chunk in chunks:
            for index, part in enumerate(_split(chunk, writers)):
                if part.size:  # an empty share would only cost a transaction
                    pending.append(pools[index].submit(write, index, part))
            # At most two chunks queued or running per writer: memory stays bounded.
            while len(pending) > 2 * writers:
                pending.popleft().result()
        while pending:
            pending.popleft().result()
    finally:
        # After a failure (or Ctrl-C) the shares not started yet are dropped: the chunks
        # committed so far stay, and re-running the file finishes the job.
        stopped.set()
        for future in pending:
            future.cancel()
        for pool in pools:
            pool.submit(close_connection)
            pool.shutdown(wait=True)
    total = ImportResult()
    for result in results:
        total.lines += result.lines
        total.imported += result.imported
        total.duplicates += result.duplicates
        total.invalid += result.invalid
        total.users_created += result.users_created
        total.errors.extend(result.errors)
    total.errors.sort(key=lambda error: error.line)
    del total.errors[MAX_KEPT_ERRORS:]
    return total


def _split(chunk: _Chunk, parts: int) -> list[_Chunk]:
    """The chunk's lines by writer (a stable hash of the user id, so a user always has
    the same writer); the first part also carries the chunk's invalid lines. The parts'
    sizes add up to the chunk's."""
    out = [_Chunk(now=chunk.now, size=0, lines=[], errors=[]) for _ in range(parts)]
    out[0].errors = chunk.errors
    out[0].size = len(chunk.errors)
    for line in chunk.lines:
        part = out[zlib.crc32(line[2].external_id.encode()) % parts]
        part.lines.append(line)
        part.size += 1
    return out


@contextmanager
def _fewer_gc_pauses() -> Iterator[None]:
    """An import allocates millions of small objects, nearly all freed by reference
    counting when the chunk that made them is done; left automatic, the cycle collector
    ran every 50,000 allocations and traversed the live objects of the chunk in hand each
    time (with the default thresholds it took a third of the time; with higher ones still
    ≈ 10 %). So it runs only between chunks (`_collect_between_chunks`), when little is
    left to traverse, and the process's objects from before stay out of every collection."""
    enabled = gc.isenabled()
    gc.freeze()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
        gc.unfreeze()


_chunks_done = itertools.count(1)


def _collect_between_chunks() -> None:
    """The collections `_fewer_gc_pauses` holds back, after each chunk: the youngest
    generation every time (the few objects the chunk left), the older ones now and then,
    so garbage in reference cycles (rare here) stays bounded."""
    done = next(_chunks_done)
    gc.collect(2 if done % 256 == 0 else 1 if done % 16 == 0 else 0)


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


_DONE = "done"
_FAILED = "failed"
# Parsed chunks waiting for the writer: bounds the parser's lead, and so memory.
PARSE_AHEAD = 2


def _parse_into(
    queue: Any, config: TenantConfig, lines: Iterable[str], batch_size: int
) -> None:  # pragma: no cover - runs in the forked parser process
    try:
        for chunk in _parsed_chunks(config, lines, batch_size):
            queue.put(chunk)
            _collect_between_chunks()
        queue.put(_DONE)
    except KeyboardInterrupt:
        return  # the importer was interrupted too, and stops the same way
    except BaseException:
        queue.put((_FAILED, traceback.format_exc()))


def _parsed_elsewhere(
    config: TenantConfig, lines: Iterable[str], batch_size: int
) -> Iterator[_Chunk]:
    """`_parsed_chunks`, computed in a forked process `PARSE_AHEAD` chunks ahead: parsing
    and validating the next chunk then runs on the other core while this process
    writes. (A thread could not: it holds the GIL the writer needs between its
    round trips.) The child never touches the database; it reads `lines`, which it
    inherits, and sends back plain tuples."""
    context = multiprocessing.get_context("fork")
    queue = context.Queue(maxsize=PARSE_AHEAD)
    child = context.Process(
        target=_parse_into, args=(queue, config, lines, batch_size), name="import-parser"
    )
    child.daemon = True
    child.start()
    try:
        while True:
            try:
                item = queue.get(timeout=1)
            except Empty:
                if not child.is_alive():
                    raise RuntimeError(
                        f"the import's parser process ended unexpectedly ({child.exitcode})"
                    ) from None
                continue
            if item == _DONE:
                return
            if isinstance(item, tuple):
                raise RuntimeError(f"the import's parser process failed:\n{item[1]}")
            yield item
    finally:
        if child.is_alive():
            child.terminate()
        child.join(timeout=5)
        queue.close()
        queue.cancel_join_thread()


_ZONES: dict[str, ZoneInfo] = {}


def _zone(name: str) -> ZoneInfo:
    zone = _ZONES.get(name)
    if zone is None:
        zone = _ZONES[name] = ZoneInfo(name)
    return zone


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
    parsed = [cache.interned(line) for line in chunk.lines]
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
        numbers: list[int] = []
        metrics: list[Any] = []
        values: list[int | Decimal] = []
        attributes: list[dict[str, str]] = []
        timestamps: list[datetime] = []
        local_dates: list[date] = []
        keys: list[str] = []
        row_users: list[EndUser] = []
        noop = cache.noop
        for number, metric_id, user_input, value, attrs, timestamp, key in parsed:
            external_id = user_input.external_id
            user = users.get(external_id)
            # The event path's user upsert, line by line in memory: validate, then
            # create or apply the fields sent (SEMANTICS A1: the tz sent with the
            # event wins for its local date).
            changes = user_input.changes
            if changes:
                try:
                    validate_user_changes(config, changes, user)
                except ApiError as exc:
                    errors.append(LineError(number, exc.message))
                    continue
            if user is None:
                user = new_user(tenant, user_input, now)
                users[external_id] = new_users[external_id] = user
            elif changes and (external_id, id(user_input)) not in noop:
                changed = apply_user_changes(user, changes)
                if changed:
                    user.updated = now
                    if external_id not in new_users:
                        changed_fields.setdefault(external_id, set()).update(changed)
            dedupe = (external_id, metric_id, key)
            if dedupe in seen_keys:
                result.duplicates += 1
                continue
            seen_keys.add(dedupe)
            timestamp = timestamp or now
            numbers.append(number)
            metrics.append(metric_id)
            values.append(value)
            attributes.append(attrs)
            timestamps.append(timestamp)
            local_dates.append(timestamp.astimezone(_zone(user.tz or default_tz)).date())
            keys.append(key)
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
        if not numbers:
            return
        ids = uuid7_many(len(numbers))
        user_ids = [user.pk for user in row_users]
        returned = insert_columns_ignoring_conflict(
            Event,
            constants={"tenant": tenant.pk, "received_at": now},
            columns={
                "id": ids,
                "user": user_ids,
                "metric": metrics,
                "value": values,
                "attributes": attributes,
                "timestamp": timestamps,
                "local_date": local_dates,
                "idempotency_key": keys,
            },
            conflict=IDEMPOTENCY_CONFLICT,
            returning=(),  # only how many: the usual answer is "all of them"
        )
        result.duplicates += len(ids) - len(returned)
        result.imported += len(returned)
        columns = (user_ids, metrics, local_dates, values, attributes)
        if len(returned) == len(ids):
            contributions: Iterable[Contribution] = zip(*columns, strict=True)
        else:
            # Some lines were duplicates: the new events are those whose fresh ids are in
            # the log now (no other writer can have used them).
            inserted = set(Event.objects.filter(pk__in=ids).values_list("pk", flat=True).iterator())
            contributions = [
                contribution
                for event_id, contribution in zip(ids, zip(*columns, strict=True), strict=True)
                if event_id in inserted
            ]
        apply_contributions(tenant.pk, contributions, new_totals=False)


class _UserCache:
    """Users already read by this import, so each is loaded once per import rather than
    once per chunk (bounded: cleared past MAX_CACHED_USERS). A user that a line would
    change is still re-read under a lock; `noop` remembers which user objects were
    found to change nothing, with a reference that keeps their id() from being reused.
    `inputs` makes equal user objects of different chunks one object (a chunk parsed in
    another process arrives as new objects), so `noop` recognises them."""

    def __init__(self) -> None:
        self.users: dict[str, EndUser] = {}
        self.noop: dict[tuple[str, int], UserInput] = {}
        self.inputs: dict[tuple[str, str], UserInput] = {}
        self._chunk_inputs: dict[int, UserInput] = {}

    def interned(self, line: _Line) -> _Line:
        user_input = line[2]
        if not user_input.changes:
            return line
        same = self.inputs.get((user_input.external_id, repr(user_input.changes)))
        if same is None:
            if len(self.inputs) >= MAX_CACHED_USERS:
                self.inputs.clear()
            self.inputs[(user_input.external_id, repr(user_input.changes))] = user_input
            return line
        return (line[0], line[1], same, *line[3:])

    def forget(self, external_ids: Iterable[str]) -> None:
        gone = set(external_ids)
        if gone:
            self.noop = {k: v for k, v in self.noop.items() if k[0] not in gone}


MAX_CACHED_USERS = 200_000


def _load_users(
    tenant: Tenant, parsed: list[_Line], cache: _UserCache
) -> dict[str, EndUser | None]:
    """The chunk's existing users by external id (None for the missing ones), all
    locked until the chunk commits (see the module's docstring). Users the chunk will
    change are re-read under the lock, so a concurrent update of other fields is not
    overwritten."""
    if len(cache.users) > MAX_CACHED_USERS or len(cache.noop) > MAX_CACHED_USERS:
        cache.users.clear()
        cache.noop.clear()
    wanted: dict[str, dict[int, UserInput]] = {}
    for line in parsed:
        user_input = line[2]
        wanted.setdefault(user_input.external_id, {})[id(user_input)] = user_input
    missing = [external_id for external_id in wanted if external_id not in cache.users]
    if missing:
        for found in EndUser.objects.filter(tenant=tenant, external_id__in=missing):
            cache.users[found.external_id] = found
    users: dict[str, EndUser | None] = {ext: cache.users.get(ext) for ext in wanted}
    _lock_users([user.pk for user in users.values() if user is not None])
    to_lock = []
    for external_id, inputs in wanted.items():
        current = users[external_id]
        if current is None:
            continue
        for key, user_input in inputs.items():
            if not user_input.changes or (external_id, key) in cache.noop:
                continue
            if apply_user_changes(copy.copy(current), user_input.changes):
                to_lock.append(current.pk)
                break
            cache.noop[(external_id, key)] = user_input
    if to_lock:
        locked = EndUser.objects.select_for_update().filter(pk__in=to_lock).order_by("pk")
        for user in locked:
            users[user.external_id] = cache.users[user.external_id] = user
        cache.forget(user.external_id for user in locked)
    return users


def _lock_users(pks: list[int]) -> None:
    """Lock these users' rows until the transaction ends, in id order (two chunks, or a
    chunk and a replay, then wait for each other instead of deadlocking). SQLite
    serialises writers anyway and has no row locks."""
    if not pks or connection.vendor != "postgresql":
        return
    pks.sort()
    with connection.cursor() as cursor:
        # A join with the ids, not `id = ANY(%s)`: this statement runs once per chunk, so
        # it becomes a prepared statement with a generic plan, where the array is a
        # parameter that PostgreSQL cannot hash, and `= ANY` compared every user with
        # every id (≈ 100 ms per chunk of 3,000 users instead of ≈ 4; the same happened
        # with an unhashable int2[] from psycopg, hence the cast).
        cursor.execute(
            "SELECT u.id FROM events_enduser u JOIN unnest(%s::bigint[]) AS ids(id) "
            "ON u.id = ids.id ORDER BY u.id FOR UPDATE OF u",
            [pks],
        )


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
            # A concurrent request created some of them first: use its rows, locked
            # like the chunk's other existing users.
            missing = [ext for ext, user in new_users.items() if user.pk is None]
            for pk, external_id in EndUser.objects.filter(
                tenant=tenant, external_id__in=missing
            ).values_list("id", "external_id"):
                new_users[external_id].pk = pk
            _lock_users([new_users[ext].pk for ext in missing])
    if changed_fields:
        to_update = [users[ext] for ext in changed_fields]
        names = sorted(set().union(*changed_fields.values()) | {"updated"})
        EndUser.objects.bulk_update([u for u in to_update if u is not None], names)
    return created
