from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.urls import reverse
from django.utils import timezone

from events.services.demo import USER_COUNT, demo_load


class Command(BaseCommand):
    help = (
        "Create (or top up) the demo organization with synthetic events from the start of "
        "the previous year to today, a demo admin API key and a demo superuser; safe to run "
        "again. Prints how to use them."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--base-url", default="http://127.0.0.1:8000", help="where the server listens"
        )
        parser.add_argument(
            "--credentials",
            default=str(Path(settings.BASE_DIR) / "var" / "demo-credentials.json"),
            help="file that remembers the demo key and password (only a hash is in the DB)",
        )
        parser.add_argument(
            "--users",
            type=int,
            default=USER_COUNT,
            help=f"how many demo learners (default {USER_COUNT})",
        )

    def handle(
        self, *args: Any, base_url: str, credentials: str, users: int, **options: Any
    ) -> None:
        started = time.monotonic()
        result = demo_load(credentials_path=Path(credentials), now=timezone.now(), user_count=users)
        elapsed = time.monotonic() - started
        base = base_url.rstrip("/")
        body = json.dumps(
            {"user": {"id": "learner-001"}, "value": 1, "attributes": {"source": "web"}}
        )
        out = self.stdout.write
        out(
            f"Demo organization {result.organization.name!r}: {result.created_users} users and "
            f"{result.created_events} events added ({result.total_events} events in all) "
            f"in {elapsed:.1f}s."
        )
        out("")
        out("Admin API key (demo only; send it as the X-API-KEY header):")
        out(f"  {result.api_key}")
        out("")
        out("Record an event:")
        out(
            f"  curl -X POST {base}/v1/metrics/lessons-completed/event \\\n"
            f"    -H 'X-API-KEY: {result.api_key}' -H 'Content-Type: application/json' \\\n"
            f"    -d '{body}'"
        )
        out("")
        if result.wrapped_user is not None:
            out(f"Wrapped, {result.wrapped_user}'s year in review of {result.wrapped_year}:")
            url = f"{base}/v1/users/{result.wrapped_user}/wrapped?year={result.wrapped_year}"
            out(f"  curl -H 'X-API-KEY: {result.api_key}' '{url}'")
            out("")
        out(f"Django admin: {base}{reverse('admin:index')}")
        out(
            f"  username {result.admin_username!r}, password {result.admin_password!r} "
            "(a demo superuser: never use these credentials outside this demo)"
        )
        out(f"API docs: {base}/api/docs/")
        out(f"(Credentials are kept in {credentials}.)")
