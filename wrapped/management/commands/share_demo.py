"""`python manage.py share_demo`: after `load_demo`, share the first demo learner's
recap of last year and print its page and card URLs (`make run` calls it), so that a
newcomer sees a share page and a card at once. Gives the demo tenant a branding the
first time. Safe to run again: the same link is printed."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from events.engine import local_date
from events.models import EndUser, Organization
from events.services.demo import DEMO_ORGANIZATION
from wrapped.models import Branding
from wrapped.sharing import share

DEMO_BRANDING = {
    "display_name": "Demo Academy",
    "background_color": "#1b1340",
    "accent_color": "#ffcc33",
}


class Command(BaseCommand):
    help = "Share a demo learner's Wrapped of last year and print the page and card URLs."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--base-url",
            default=settings.SHARE_BASE_URL or "http://127.0.0.1:8000",
            help="where the server answers (default: SHARE_BASE_URL, else http://127.0.0.1:8000)",
        )

    def handle(self, *args: Any, base_url: str, **options: Any) -> None:
        organization = (
            Organization.objects.filter(name=DEMO_ORGANIZATION).order_by("created").first()
        )
        tenant = organization.default_tenant if organization else None
        if tenant is None:
            raise CommandError("No demo organization: run `python manage.py load_demo` first.")
        user = EndUser.objects.filter(tenant=tenant).order_by("external_id").first()
        if user is None:
            raise CommandError("The demo organization has no users: run load_demo first.")
        Branding.objects.get_or_create(tenant=tenant, defaults=DEMO_BRANDING)
        year = local_date(timezone.now(), user.tz or tenant.default_timezone).year - 1
        urls, _ = share(tenant=tenant, user=user, year=year, base=base_url.rstrip("/"))
        out = self.stdout.write
        out(f"Share page of {user.external_id}'s {year} (open it in a browser):")
        out(f"  {urls['url']}")
        out("  cards: " + "  ".join(f"{fmt} {url}" for fmt, url in urls["images"].items()))
