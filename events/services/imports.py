"""Bulk import of metric events (`python manage.py import_events FILE.jsonl`).

Each line is one of Trophy's `BatchMetricEvent` objects: `{"key", "user": {"id", ...},
"value", "attributes"?, "idempotencyKey"?, "timestamp"?}`, read by a `LineParser` (the
API layer's, events/api/import_lines.py, with the same serializers and `validate_event`
as `POST /v1/metrics/{key}/event`); an invalid line is reported with its number and
skipped.

The result is the state the same events give through the HTTP path one by one, but a
chunk of lines costs a handful of statements instead of several per event: one read
(and lock) of the chunk's users, one multi-row insert of its new users, and the event
engine's bulk write (`engine.record_events`: one multi-row insert of the events, `ON
CONFLICT DO NOTHING` skipping those whose idempotency key was seen, and the additive and
sequential derivations of the new ones). Each chunk is one transaction, so an
interrupted import leaves whole chunks, and re-running the file finishes the job: every
line has an idempotency key (its own, or one derived from the line), so nothing is
imported twice. A line whose event is a duplicate changes nothing, not even the user
fields it carries (SEMANTICS A2).

The users that receive events have their sequential state (the streak, and what later
features register) recomputed from the log once, at the end (`engine.recompute_stale`),
whatever the order of the file's lines; until then it lags, and an interrupted import
leaves them marked stale, which the next event of the user, a re-run or `rebuild`
finishes.

On PostgreSQL, parsing and validating the lines runs in a forked process (it never
touches the database) while the importing process writes the previous chunks, and two
writer threads (`writers`) each write their own share of the users with their own
connection, so the database works on two statements at once. Each transaction locks its
existing users (engine.lock_users, in id order so concurrent transactions cannot
deadlock) before inserting their events, as the event path and `rebuild` lock a user: a
rebuild of those users waits for the chunk or the chunk for the rebuild, and no event is
counted twice. Chunks commit with `synchronous_commit` off: a crash can lose the last
chunks committed (never half of one), which re-running the file restores.
"""

from __future__ import annotations

import copy
import gc
import hashlib
import itertools
import multiprocessing
import threading
import traceback
import zlib
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from itertools import islice
from queue import Empty
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from ..db.sql import insert_rows_ignoring_conflict
from ..engine import (
    Applied,
    EventColumns,
    local_date,
    lock_users,
    recompute_stale,
    record_events,
)
from ..exceptions import ApiError
from ..ids import uuid7_many
from ..models import EndUser, Tenant, TenantConfig
from ..selectors.config import tenant_config
from .events import event_zone
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
    # the engine's, at their defaults (record_events writes them)
    "derived_stamp",
    "sequential_state",
    "sequential_stale",
)

# One parsed line, a plain tuple (cheap to pickle between processes):
# (line number, metric id, UserInput, value (numbers.compact), attributes, timestamp or
# None, idempotency key)
ParsedLine = tuple[int, Any, UserInput, int | Decimal, dict[str, str], datetime | None, str]
# Reads one line: (line number, its text, the chunk's "now") -> the parsed line; raises
# ValueError(message) when the line is invalid.
LineParser = Callable[[int, str, datetime], ParsedLine]


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
    recomputed: int = 0  # users whose sequential state was recomputed at the end
    errors: list[LineError] = field(default_factory=list)


def _numbered(lines: Iterable[str]) -> Iterator[tuple[int, str]]:
    for number, line in enumerate(lines, start=1):
        text = line.rstrip("\r\n")
        if text.strip():
            yield number, text


def events_import(
    *,
    tenant: Tenant,
    lines: Iterable[str],
    parser: Callable[[TenantConfig], LineParser],
    batch_size: int = DEFAULT_BATCH_SIZE,
    writers: int = DEFAULT_WRITERS,
    progress: Callable[[int], None] | None = None,
    on_invalid: Callable[[LineError], None] | None = None,
) -> ImportResult:
    """Import lines of events into `tenant`, each read by `parser(config)` (the API
    layer's `import_lines.line_parser` for JSON lines), at most `batch_size` lines per
    transaction.

    Reads `lines` as a stream (memory stays bounded by the batch size). Returns the
    counts: lines read, events imported, duplicates skipped (an event with the same
    idempotency key exists, or appeared earlier in the file), invalid lines (also
    passed to `on_invalid` as they are found). `progress` is called with the number of
    lines of each finished batch. Blank lines are ignored. The sequential state of the
    users that received events is recomputed from the log at the end
    (engine.recompute_stale).

    On PostgreSQL, outside a transaction, `writers` threads write at once, each with
    its own connection and its own share of the users (see _import_in_parallel); inside
    a caller's transaction, or on SQLite, the caller's connection writes alone.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    if writers < 1:
        raise ValueError("writers must be at least 1")
    config = tenant_config(tenant)
    parse = parser(config)
    postgresql = connection.vendor == "postgresql"
    with _fewer_gc_pauses():
        chunks = (
            _parsed_elsewhere(parse, lines, batch_size)
            if postgresql
            else _parsed_chunks(parse, lines, batch_size)
        )
        if postgresql and writers > 1 and not connection.in_atomic_block:
            result = _import_in_parallel(tenant, config, chunks, writers, progress, on_invalid)
        else:
            result = ImportResult()
            cache = _UserCache()
            for chunk in chunks:
                _import_chunk(tenant, config, cache, chunk, result, on_invalid)
                _collect_between_chunks()
                if progress is not None:
                    progress(chunk.size)
        if postgresql and result.imported:
            # Fresh statistics for the tables the import filled (autovacuum would take
            # its time): the recomputation reads the users' logs through the (user,
            # timestamp) index rather than scanning the whole table for each step.
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE events_event, events_enduser")
        result.recomputed = recompute_stale(tenant=tenant, config=config, workers=writers)
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
    database busy on both cores (figures: docs/benchmarks.md). Their transactions never
    wait for each other: no
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
    lines: list[ParsedLine]
    errors: list[LineError]


def _parsed_chunks(parse: LineParser, lines: Iterable[str], batch_size: int) -> Iterator[_Chunk]:
    numbered = _numbered(lines)
    while True:
        raw_lines = list(islice(numbered, batch_size))
        if not raw_lines:
            return
        now = timezone.now()
        chunk = _Chunk(now=now, size=len(raw_lines), lines=[], errors=[])
        for number, raw in raw_lines:
            try:
                chunk.lines.append(parse(number, raw, now))
            except ValueError as exc:
                chunk.errors.append(LineError(number, str(exc)))
        yield chunk


_DONE = "done"
_FAILED = "failed"
# Parsed chunks waiting for the writer: bounds the parser's lead, and so memory.
PARSE_AHEAD = 2


def _parse_into(
    queue: Any, parse: LineParser, lines: Iterable[str], batch_size: int
) -> None:  # pragma: no cover - runs in the forked parser process
    try:
        for chunk in _parsed_chunks(parse, lines, batch_size):
            queue.put(chunk)
            _collect_between_chunks()
        queue.put(_DONE)
    except KeyboardInterrupt:
        return  # the importer was interrupted too, and stops the same way
    except BaseException:
        queue.put((_FAILED, traceback.format_exc()))


def _parsed_elsewhere(parse: LineParser, lines: Iterable[str], batch_size: int) -> Iterator[_Chunk]:
    """`_parsed_chunks`, computed in a forked process `PARSE_AHEAD` chunks ahead: parsing
    and validating the next chunk then runs on the other core while this process
    writes. (A thread could not: it holds the GIL the writer needs between its
    round trips.) The child never touches the database; it reads `lines`, which it
    inherits, and sends back plain tuples."""
    context = multiprocessing.get_context("fork")
    queue = context.Queue(maxsize=PARSE_AHEAD)
    child = context.Process(
        target=_parse_into, args=(queue, parse, lines, batch_size), name="import-parser"
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


@dataclass
class _Plan:
    """A chunk's lines worked out in memory: the events to insert, the users to create
    and change, and which lines changed a user (so that the write can tell whether a
    line that turns out to be a duplicate had changed something it must not)."""

    events: EventColumns = field(default_factory=EventColumns)
    numbers: list[int] = field(default_factory=list)  # each event's line
    errors: list[LineError] = field(default_factory=list)
    duplicates: int = 0
    new_users: dict[str, EndUser] = field(default_factory=dict)
    changed: dict[str, EndUser] = field(default_factory=dict)  # changed copies, by id
    changed_fields: dict[str, set[str]] = field(default_factory=dict)
    changing_lines: set[int] = field(default_factory=set)
    row_users: list[EndUser] = field(default_factory=list)  # each event's user


def _plan(
    tenant: Tenant,
    config: TenantConfig,
    cache: _UserCache,
    parsed: list[ParsedLine],
    users: dict[str, EndUser | None],
    skip: set[int],
    now: datetime,
) -> _Plan:
    """The event path's user upsert and local date, line by line, in memory: validate the
    user fields a line sends, skip a line whose idempotency key was seen earlier in the
    file (or, in `skip`, in the log) before it changes anything, then create the user or
    apply the fields to a copy of it, and date the event in the user's time zone as of
    that line (SEMANTICS A1: the tz sent with the event wins)."""
    plan = _Plan()
    current: dict[str, EndUser | None] = dict(users)
    seen_keys: set[tuple[str, Any, str]] = set()
    events = plan.events
    for number, metric_id, user_input, value, attrs, timestamp, key in parsed:
        external_id = user_input.external_id
        user = current[external_id]
        changes = user_input.changes
        if changes:
            try:
                validate_user_changes(config, changes, user)
            except ApiError as exc:
                plan.errors.append(LineError(number, exc.message))
                continue
        dedupe = (external_id, metric_id, key)
        if dedupe in seen_keys or number in skip:
            plan.duplicates += 1
            continue
        timestamp = timestamp or now
        try:
            day = local_date(timestamp, event_zone(tenant, user.tz if user else None, changes))
        except ApiError as exc:
            plan.errors.append(LineError(number, exc.message))
            continue
        seen_keys.add(dedupe)
        if user is None:
            user = current[external_id] = plan.new_users[external_id] = new_user(
                tenant, user_input, now
            )
        elif changes and (external_id in plan.changed or not cache.is_noop(user_input)):
            if external_id not in plan.changed and external_id not in plan.new_users:
                user = current[external_id] = plan.changed[external_id] = copy.copy(user)
            changed = apply_user_changes(user, changes)
            if changed and external_id not in plan.new_users:
                user.updated = now
                plan.changed_fields.setdefault(external_id, set()).update(changed)
                plan.changing_lines.add(number)
        plan.numbers.append(number)
        plan.row_users.append(user)
        events.metrics.append(metric_id)
        events.values.append(value)
        events.attributes.append(attrs)
        events.timestamps.append(timestamp)
        events.local_dates.append(day)
        events.keys.append(key)
    events.ids = uuid7_many(len(plan.numbers))
    return plan


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
    with transaction.atomic():
        if connection.vendor == "postgresql":
            # Waiting for the WAL flush of every chunk would cost more than writing it.
            # A crash can lose the last chunks committed, never half of one, and
            # re-running the file re-imports exactly those (idempotency keys).
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit TO OFF")
        users, applied = _load_users(tenant, parsed, cache)
        skip: set[int] = set()
        while True:
            plan = _plan(tenant, config, cache, parsed, users, skip, now)
            # A line that changed its user but whose event the log already has (found
            # only by the insert) must change nothing, and later lines must not see its
            # change: then the chunk is worked out again without it (rare: re-running a
            # file whose lines carry user fields that have changed since).
            try:
                with transaction.atomic():
                    recorded, created = _write(tenant, plan, applied, now)
                    seen = _logged_lines(plan, recorded.inserted) & plan.changing_lines
                    if seen:
                        raise _Again(seen)
            except _Again as again:
                skip |= again.lines
                if again.reload_users:
                    users, applied = _load_users(tenant, parsed, cache)
                else:
                    applied = lock_users(applied)  # as the rolled-back writes left them
                continue
            break
        errors = sorted([*chunk.errors, *plan.errors], key=lambda e: e.line)
        for error in errors:  # invalid lines in file order, whichever check found them
            result.invalid += 1
            if len(result.errors) < MAX_KEPT_ERRORS:
                result.errors.append(error)
            if on_invalid is not None:
                on_invalid(error)
        result.users_created += created
        result.imported += recorded.new
        result.duplicates += plan.duplicates + len(plan.numbers) - recorded.new
    # Committed: the cache may keep what the chunk wrote.
    cache.users.update(plan.new_users)
    cache.users.update(plan.changed)
    cache.forget([*plan.new_users, *plan.changed_fields])


class _Again(Exception):
    """Work the chunk out again, without `lines` (in the log already) and, with
    `reload_users`, with users read again (another request created some of them)."""

    def __init__(self, lines: set[int], *, reload_users: bool = False) -> None:
        self.lines = lines
        self.reload_users = reload_users


def _write(
    tenant: Tenant, plan: _Plan, applied: dict[int, Applied], now: datetime
) -> tuple[Any, int]:
    """Create the plan's new users, record its events and write its user changes;
    return the engine's outcome and how many users were created."""
    created = _save_users(tenant, plan.new_users, plan.changed, plan.changed_fields)
    for user in plan.new_users.values():
        applied.setdefault(user.pk, Applied(user.pk, None, {}, False))
    plan.events.users = [user.pk for user in plan.row_users]
    recorded = record_events(tenant=tenant, events=plan.events, applied=applied, received_at=now)
    return recorded, created


def _logged_lines(plan: _Plan, inserted: set[Any] | None) -> set[int]:
    """The lines whose events the log already had (the insert skipped them)."""
    if inserted is None:
        return set()
    return {
        number
        for number, event_id in zip(plan.numbers, plan.events.ids, strict=True)
        if event_id not in inserted
    }


class _UserCache:
    """Users already read by this import, so each is loaded once per import rather than
    once per chunk (bounded: cleared past MAX_CACHED_USERS). A user that a line would
    change is still re-read under a lock. `noop` remembers which user objects were
    found to change nothing, with a reference that keeps their id() from being reused.
    `inputs` makes equal user objects of different chunks one object (a chunk parsed in
    another process arrives as new objects), so `noop` recognises them."""

    def __init__(self) -> None:
        self.users: dict[str, EndUser] = {}
        self.noop: dict[tuple[str, int], UserInput] = {}
        self.inputs: dict[tuple[str, str], UserInput] = {}

    def interned(self, line: ParsedLine) -> ParsedLine:
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

    def is_noop(self, user_input: UserInput) -> bool:
        return (user_input.external_id, id(user_input)) in self.noop

    def remember_noop(self, user_input: UserInput) -> None:
        self.noop[(user_input.external_id, id(user_input))] = user_input

    def forget(self, external_ids: Iterable[str]) -> None:
        gone = set(external_ids)
        if gone:
            self.noop = {k: v for k, v in self.noop.items() if k[0] not in gone}


MAX_CACHED_USERS = 200_000


def _load_users(
    tenant: Tenant, parsed: list[ParsedLine], cache: _UserCache
) -> tuple[dict[str, EndUser | None], dict[int, Applied]]:
    """The chunk's existing users by external id (None for the missing ones), all locked
    until the chunk commits (see the module's docstring), and what the engine has
    applied to them. Users the chunk will change are re-read under the lock, so a
    concurrent update of other fields is not overwritten."""
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
    applied = lock_users(user.pk for user in users.values() if user is not None)
    to_read = []
    for external_id, inputs in wanted.items():
        current = users[external_id]
        if current is None:
            continue
        for user_input in inputs.values():
            if not user_input.changes or cache.is_noop(user_input):
                continue
            if apply_user_changes(copy.copy(current), user_input.changes):
                to_read.append(current.pk)
                break
            cache.remember_noop(user_input)
    if to_read:
        fresh = EndUser.objects.filter(pk__in=to_read)
        for user in fresh:
            users[user.external_id] = cache.users[user.external_id] = user
        cache.forget(user.external_id for user in fresh)
    return users, applied


def _save_users(
    tenant: Tenant,
    new_users: dict[str, EndUser],
    changed: dict[str, EndUser],
    changed_fields: dict[str, set[str]],
) -> int:
    """Insert the chunk's new users and write the changed fields of existing ones;
    return how many users were created. Afterwards every new user has its pk."""
    created = 0
    if new_users:
        attnames = [EndUser._meta.get_field(name).attname for name in USER_FIELDS]  # type: ignore[union-attr]
        # In the order of their ids, so that two imports creating the same users take
        # their rows' locks in the same order.
        ordered = sorted(new_users.values(), key=lambda user: user.external_id)
        rows = [tuple(getattr(user, name) for name in attnames) for user in ordered]
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
            # A concurrent request created some of them first: their rows, not these
            # objects, are the users (their fields and time zones date the lines).
            raise _Again(set(), reload_users=True)
    if changed_fields:
        names = sorted(set().union(*changed_fields.values()) | {"updated"})
        EndUser.objects.bulk_update([changed[ext] for ext in changed_fields], names)
    return created
