"""`python manage.py precompute_wrapped --year Y [--tenant T]`: compute every user's
Wrapped of year Y before a launch, so that launch day only serves stored summaries."""

from __future__ import annotations

import sys
import time
from datetime import datetime
from typing import Any

from celery import current_app
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from tqdm import tqdm

from events.management.tenant_options import add_tenant_arguments, resolve_tenant
from events.models import Tenant
from events.models.tenancy import TenantStatus
from wrapped.models import WrappedSummary
from wrapped.services import (
    chunks,
    percentiles_of,
    populations_refresh,
    summaries_precompute,
    users_to_precompute,
)
from wrapped.tasks import precompute_summaries

POLL_SECONDS = 1
STALL_SECONDS = 600

HELP = """Compute and store the Wrapped summaries of year Y for every user of a tenant (or
of every active tenant) that has no fresh one.

First the tenant's population statistics for the year are brought up to date (one
statement in the database), then the users are computed in chunks of --chunk-size: by
the Celery workers when a broker is configured (CELERY_BROKER_URL; more workers, more
speed), else in this process. The progress bar counts fresh summaries.

Resumable and safe to run twice: users whose summary is fresh are skipped, and a summary
is written whole or not at all. Run it after a backfill (import_events); summaries that
go stale afterwards (new events) are computed again on their next read, and by the
periodic refresh (celery beat).
"""


class Command(BaseCommand):
    help = HELP

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> Any:
        from argparse import RawDescriptionHelpFormatter

        kwargs["formatter_class"] = RawDescriptionHelpFormatter
        return super().create_parser(prog_name, subcommand, **kwargs)

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--year", type=int, required=True, help="the year to recap")
        add_tenant_arguments(parser)
        parser.add_argument(
            "--chunk-size",
            type=int,
            default=settings.WRAPPED_CHUNK_SIZE,
            help=f"users per task (default {settings.WRAPPED_CHUNK_SIZE})",
        )
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")
        parser.add_argument(
            "--no-wait",
            action="store_true",
            help="with a broker: enqueue the chunks and return without waiting for them",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        year = options["year"]
        if not 1 <= year <= timezone.now().year + 1:
            raise CommandError(f"--year {year} is not a year to recap.")
        if options["chunk_size"] < 1:
            raise CommandError("--chunk-size must be at least 1.")
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
        for tenant in tenants:
            self._precompute(tenant, year, options)

    def _precompute(self, tenant: Tenant, year: int, options: dict[str, Any]) -> None:
        started = time.monotonic()
        stats = populations_refresh(tenant=tenant, year=year)
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
        try:
            if in_process:
                # Loaded once for every chunk, as a worker cannot.
                percentiles = (stats.version, percentiles_of(stats))
                for part in parts:
                    summaries_precompute(
                        tenant=tenant, year=year, user_ids=part, percentiles=percentiles
                    )
                    bar.update(len(part))
            else:
                since = timezone.now()
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
        elapsed = time.monotonic() - started
        self.stdout.write(
            f"Wrapped {year} of tenant {tenant.customer_id!r} ({tenant.id}): {len(todo)} "
            f"summaries computed {'in this process' if in_process else 'by the workers'} "
            f"in {elapsed:.1f} s; population statistics version {stats.version}."
        )

    def _wait(self, tenant: Tenant, year: int, since: datetime, todo: int, bar: Any) -> None:
        """Until the workers have written `todo` summaries since `since` (counted in the
        database: no result backend needed)."""
        shown, last_progress = 0, time.monotonic()
        while shown < todo:
            written = WrappedSummary.objects.filter(
                tenant=tenant, year=year, computed_at__gte=since
            ).count()
            if written > shown:
                bar.update(min(written, todo) - shown)
                shown, last_progress = min(written, todo), time.monotonic()
            elif time.monotonic() - last_progress > STALL_SECONDS:
                raise CommandError(
                    f"No summary written for {STALL_SECONDS} s ({shown} of {todo} done): are "
                    "Celery workers running? Run the command again to resume."
                )
            time.sleep(POLL_SECONDS)
