"""`python manage.py precompute_wrapped --year Y [--tenant T]`: compute every user's
Wrapped of year Y before a launch, so that launch day only serves stored summaries."""

from __future__ import annotations

import os
import sys
import time
from datetime import datetime
from typing import Any

from celery import current_app
from django.conf import settings
from django.core.management.base import CommandError, CommandParser
from django.db import connection
from django.utils import timezone
from tqdm import tqdm

from events.db.processes import in_processes
from events.management.base import RawHelpCommand
from events.management.tenant_options import add_tenant_arguments, resolve_tenant
from events.models import Tenant
from events.models.tenancy import TenantStatus
from wrapped.models import WrappedSummary
from wrapped.periods import latest_year
from wrapped.services import (
    chunks,
    percentiles_of,
    populations_refresh,
    summaries_precompute,
    users_to_precompute,
)
from wrapped.sharing import cards_precompute, host_of
from wrapped.tasks import precompute_summaries

DEFAULT_PROCESSES = os.cpu_count() or 1
POLL_SECONDS = 1
STALL_SECONDS = 600

HELP = """Compute and store the Wrapped summaries of year Y for every user of a tenant (or
of every active tenant) that has no fresh one.

First the tenant's population statistics for the year are brought up to date (one
statement in the database), then the users are computed in chunks of --chunk-size: by
the Celery workers when a broker is configured (CELERY_BROKER_URL; more workers, more
speed), else by --processes processes on this machine (PostgreSQL; SQLite: this one).

Resumable and safe to run twice: users whose summary is fresh are skipped, and a summary
is written whole or not at all. Run it after a backfill (import_events); summaries that
go stale afterwards (new events) are computed again on their next read, and by the
periodic refresh (celery beat).

With --render-cards, the share cards of every user who has a share link of the year are
then drawn and stored (three PNGs each, in the "cards" storage), so that launch day
serves files; cards drawn before are kept.
"""


class Command(RawHelpCommand):
    help = HELP

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--year", type=int, required=True, help="the year to recap")
        add_tenant_arguments(parser)
        parser.add_argument(
            "--chunk-size",
            type=int,
            default=settings.WRAPPED_CHUNK_SIZE,
            help=f"users per task (default {settings.WRAPPED_CHUNK_SIZE})",
        )
        parser.add_argument(
            "--processes",
            type=int,
            default=DEFAULT_PROCESSES,
            help=(
                "without a broker, on PostgreSQL: processes computing at once "
                f"(default {DEFAULT_PROCESSES}, the number of CPUs)"
            ),
        )
        parser.add_argument(
            "--render-cards",
            action="store_true",
            help=(
                "then draw and store the share cards of every user with a share link of the "
                "year (needs SHARE_BASE_URL: the host printed on the cards)"
            ),
        )
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")
        parser.add_argument(
            "--no-wait",
            action="store_true",
            help="with a broker: enqueue the chunks and return without waiting for them",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        year = options["year"]
        if not 1 <= year <= latest_year(timezone.now()):
            raise CommandError(f"--year {year} is not a year to recap.")
        if options["chunk_size"] < 1:
            raise CommandError("--chunk-size must be at least 1.")
        if options["processes"] < 1:
            raise CommandError("--processes must be at least 1.")
        if options["tenant"] or options["organization"] or options["customer_id"]:
            tenants = [
                resolve_tenant(
                    tenant=options["tenant"],
                    organization=options["organization"],
                    customer_id=options["customer_id"],
                )
            ]
        else:
            tenants = list(Tenant.objects.filter(status=TenantStatus.ACTIVE))
        if options["render_cards"] and not settings.SHARE_BASE_URL:
            raise CommandError(
                "--render-cards needs SHARE_BASE_URL (e.g. https://wrapped.example.com): "
                "cards print its host, and the pages must ask for the same cards."
            )
        for tenant in tenants:
            self._precompute(tenant, year, options)
            if options["render_cards"]:
                self._render_cards(tenant, year, options)

    def _render_cards(self, tenant: Tenant, year: int, options: dict[str, Any]) -> None:
        started = time.monotonic()
        host = host_of(settings.SHARE_BASE_URL)
        # Forked processes on PostgreSQL, when they can see the rows (no open transaction).
        forking = connection.vendor == "postgresql" and not connection.in_atomic_block
        shares = options["processes"] if forking else 1

        def work(share: int, shares: int) -> int:
            return cards_precompute(tenant=tenant, year=year, host=host, share=share, shares=shares)

        drawn = in_processes(work, shares) if shares > 1 else work(0, 1)
        self.stdout.write(
            f"Share cards {year} of tenant {tenant.customer_id!r}: {drawn} drawn in "
            f"{time.monotonic() - started:.1f} s (cards drawn before are kept)."
        )

    def _precompute(self, tenant: Tenant, year: int, options: dict[str, Any]) -> None:
        started = time.monotonic()
        stats = populations_refresh(tenant=tenant, year=year)
        populated = time.monotonic()
        todo = users_to_precompute(tenant, year)
        parts = chunks(todo, options["chunk_size"])
        stream = getattr(self.stderr, "_out", sys.stderr)
        bar = tqdm(
            total=len(todo),
            unit=" users",
            desc=f"{tenant.customer_id} {year}",
            file=stream,
            disable=options["no_progress"],
            dynamic_ncols=True,
        )
        in_process = current_app.conf.task_always_eager  # no broker configured
        where = "by the workers"
        since = timezone.now()
        try:
            if in_process:
                # Loaded once for every chunk, as a worker cannot.
                percentiles = (stats.version, percentiles_of(stats))

                def work(share: int, shares: int) -> int:
                    done = 0
                    for part in parts[share::shares]:
                        done += summaries_precompute(
                            tenant=tenant, year=year, user_ids=part, percentiles=percentiles
                        )
                        if shares == 1:
                            bar.update(len(part))
                    return done

                processes = options["processes"]
                if (
                    processes > 1
                    and len(parts) > 1
                    and connection.vendor == "postgresql"
                    and not connection.in_atomic_block  # the children see committed rows
                ):
                    shares = min(processes, len(parts))
                    where = f"by {shares} processes"

                    def show() -> None:
                        self._show(tenant, year, since, len(todo), bar)

                    in_processes(work, shares, while_waiting=show)
                    self._show(tenant, year, since, len(todo), bar)
                else:
                    where = "in this process"
                    work(0, 1)
            else:
                for part in parts:
                    precompute_summaries.delay(str(tenant.pk), year, part)
                if options["no_wait"]:
                    self.stdout.write(
                        f"Enqueued {len(todo)} users of tenant {tenant.customer_id!r} "
                        f"in {len(parts)} tasks."
                    )
                    return
                self._wait(tenant, year, since, len(todo), bar)
        finally:
            bar.close()
        ended = time.monotonic()
        self.stdout.write(
            f"Wrapped {year} of tenant {tenant.customer_id!r} ({tenant.id}): {len(todo)} "
            f"summaries computed {where} in {ended - populated:.1f} s, after the population "
            f"statistics (version {stats.version}) in {populated - started:.1f} s; "
            f"{ended - started:.1f} s in all."
        )

    def _wait(self, tenant: Tenant, year: int, since: datetime, todo: int, bar: Any) -> None:
        """Until the workers have written `todo` summaries since `since` (counted in the
        database: no result backend needed)."""
        shown, last_progress = 0, time.monotonic()
        while shown < todo:
            written = self._show(tenant, year, since, todo, bar)
            if written > shown:
                shown, last_progress = written, time.monotonic()
            elif time.monotonic() - last_progress > STALL_SECONDS:
                raise CommandError(
                    f"No summary written for {STALL_SECONDS} s ({shown} of {todo} done): are "
                    "Celery workers running? Run the command again to resume."
                )
            time.sleep(POLL_SECONDS)

    def _show(self, tenant: Tenant, year: int, since: datetime, todo: int, bar: Any) -> int:
        """Move the bar to the number of summaries written since `since`; return it."""
        written = min(
            todo,
            WrappedSummary.objects.filter(tenant=tenant, year=year, computed_at__gte=since).count(),
        )
        bar.update(written - bar.n)
        return written
