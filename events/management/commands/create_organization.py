from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from events.services.organizations import organization_create


class Command(BaseCommand):
    help = "Create an organization with its default tenant; prints its admin API key last."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="the organization's name")

    def handle(self, *args: Any, name: str, **options: Any) -> None:
        organization, secret = organization_create(name=name)
        self.stdout.write(f"Created organization {organization.name!r} ({organization.id}).")
        self.stdout.write("Admin API key (shown once; send it as the X-API-KEY header):")
        self.stdout.write(secret)
