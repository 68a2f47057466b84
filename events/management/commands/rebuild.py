from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from events.engine import REGISTRY
from events.management.tenant_options import add_tenant_arguments, tenant_from_options
from events.models import EndUser, Event
from events.services.rebuild import derived_state_rebuild


class Command(BaseCommand):
    help = (
        "Rebuild a tenant's derived state (every registered derivation: "
        + ", ".join(str(table._meta.verbose_name_plural) for table in REGISTRY.tables())
        + ", and each user's sequential state and stamp) from its event log, in one "
        "transaction. With --user, only that user's."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        add_tenant_arguments(parser)
        parser.add_argument("--user", help="rebuild only this user (the integrator's user id)")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args: Any, **options: Any) -> None:
        tenant = tenant_from_options(options)
        user = None
        if options["user"] is not None:
            user = EndUser.objects.filter(tenant=tenant, external_id=options["user"]).first()
            if user is None:
                raise CommandError(f"No user with id {options['user']!r} in this tenant.")
        scope: dict[str, Any] = {"tenant": tenant} if user is None else {"user": user}
        bar = tqdm(
            total=Event.objects.filter(**scope).count(),
            unit=" events",
            file=getattr(self.stderr, "_out", sys.stderr),
            disable=options["no_progress"],
            dynamic_ncols=True,
        )
        try:
            result = derived_state_rebuild(tenant=tenant, user=user, progress=bar.update)
        finally:
            bar.close()
        who = f"user {user.external_id!r}" if user else f"tenant {tenant.customer_id!r}"
        counts = ", ".join(f"{name} {count}" for name, count in result.rows.items())
        self.stdout.write(
            f"Rebuilt {who} ({tenant.id}) from {result.events} events: "
            f"{result.deleted} derived rows deleted; now {counts}."
        )
