from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import CommandError, CommandParser
from tqdm import tqdm

from events.api.import_lines import import_lines
from events.management.base import RawHelpCommand
from events.management.tenant_options import add_tenant_arguments, tenant_from_options
from events.services.imports import DEFAULT_BATCH_SIZE, DEFAULT_WRITERS, LineError

HELP = """Import metric events from a JSON Lines file (backfill).

Each line is one Trophy BatchMetricEvent object:
  {"key": METRIC_KEY, "user": {"id": USER_ID, ...optional user fields}, "value": NUMBER,
   "attributes": {...}?, "idempotencyKey": STRING?, "timestamp": ISO_8601_WITH_OFFSET?}
A missing timestamp means "now". Lines are validated like POST /v1/metrics/{key}/event;
an invalid line is reported with its number and skipped, the rest is imported.

Safe to re-run: a line without "idempotencyKey" gets one derived from its content and
line number ("import:<sha256 of the line, 128 bits>:<line number>"), so running the same
file again imports nothing twice (an interrupted import is finished by running it
again). An event whose idempotency key already exists for its user and metric, from an
import or from the HTTP API, is skipped as a duplicate. Each batch of lines is one
transaction.

On PostgreSQL, batches commit with synchronous_commit off: after a crash of the database
server the last batches reported committed may be missing; run the same file again to
restore them. Each batch locks its existing users (as rebuild does), so an import and a
rebuild of the same users wait for each other.

Lines need not be sorted by time: the streak (and any other order-dependent state) of
every user that receives events is computed from its event log once, at the end of the
import.

On PostgreSQL, --writers threads (default 2) write at once, each with its own database
connection and its own share of the users: a user's lines are always written by the
same writer, in file order. Each writer's share of a batch is its own transaction, and
invalid lines may be reported slightly out of file order.
"""


def _count_lines(path: Path) -> int:
    count = 0
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            count += block.count(b"\n")
    return count


class Command(RawHelpCommand):
    help = HELP

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="JSON Lines file, one event per line ('-' for stdin)")
        add_tenant_arguments(parser)
        parser.add_argument(
            "--batch-size",
            type=int,
            default=DEFAULT_BATCH_SIZE,
            help=f"lines per transaction (default {DEFAULT_BATCH_SIZE})",
        )
        parser.add_argument(
            "--writers",
            type=int,
            default=DEFAULT_WRITERS,
            help=(
                "PostgreSQL: threads writing at once, each with its own connection and "
                f"its own share of the users (default {DEFAULT_WRITERS})"
            ),
        )
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args: Any, **options: Any) -> None:
        tenant = tenant_from_options(options)
        if options["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1.")
        if options["writers"] < 1:
            raise CommandError("--writers must be at least 1.")
        path = options["file"]
        if path != "-" and not Path(path).is_file():
            raise CommandError(f"No such file: {path}")
        total = None if path == "-" else _count_lines(Path(path))
        # The raw stream under Django's OutputWrapper, which would append a newline to
        # each of tqdm's carriage-return redraws.
        stream = getattr(self.stderr, "_out", sys.stderr)
        bar = tqdm(
            total=total,
            unit=" lines",
            file=stream,
            disable=options["no_progress"],
            dynamic_ncols=True,
        )

        def report(error: LineError) -> None:
            bar.write(f"invalid {error}", file=stream)

        # For stdin, a duplicate of its descriptor: on PostgreSQL the lines are read by a
        # forked parser process, and multiprocessing closes sys.stdin in its children.
        handle = (
            open(os.dup(sys.stdin.fileno()), encoding="utf-8")  # noqa: SIM115
            if path == "-"
            else open(path, encoding="utf-8")  # noqa: SIM115
        )
        try:
            result = import_lines(
                tenant=tenant,
                lines=handle,
                batch_size=options["batch_size"],
                writers=options["writers"],
                progress=bar.update,
                on_invalid=report,
            )
        finally:
            bar.close()
            handle.close()
        self.stdout.write(
            f"Imported {result.imported} events into tenant {tenant.customer_id!r} "
            f"({tenant.id}): {result.duplicates} skipped as duplicates, "
            f"{result.invalid} invalid, {result.users_created} new users, "
            f"{result.lines} lines read; the streaks of {result.recomputed} users were "
            "computed from their events."
        )
