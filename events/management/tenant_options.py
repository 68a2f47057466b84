"""The `--tenant UUID` / `--organization UUID --customer-id CID` options that the
operator commands (import_events, replay) share."""

from __future__ import annotations

import uuid
from typing import Any

from django.core.management.base import CommandError, CommandParser

from events.models import Tenant


def add_tenant_arguments(parser: CommandParser) -> None:
    parser.add_argument("--tenant", help="the tenant's id (UUID)")
    parser.add_argument("--organization", help="an organization id (UUID), with --customer-id")
    parser.add_argument("--customer-id", help="the tenant's customerId in --organization")


def tenant_from_options(options: dict[str, Any]) -> Tenant:
    return resolve_tenant(
        tenant=options["tenant"],
        organization=options["organization"],
        customer_id=options["customer_id"],
    )


def resolve_tenant(
    *, tenant: str | None, organization: str | None, customer_id: str | None
) -> Tenant:
    """The tenant named by `--tenant UUID` or `--organization UUID --customer-id CID`;
    CommandError naming what is wrong otherwise."""
    if tenant and (organization or customer_id):
        raise CommandError("Give either --tenant or --organization with --customer-id, not both.")
    if tenant:
        try:
            tenant_id = uuid.UUID(tenant)
        except ValueError:
            raise CommandError(f"--tenant {tenant!r} is not a tenant id (a UUID).") from None
        found = Tenant.objects.filter(pk=tenant_id).first()
        if found is None:
            raise CommandError(f"No tenant with id {tenant}.")
        return found
    if organization and customer_id:
        try:
            organization_id = uuid.UUID(organization)
        except ValueError:
            raise CommandError(
                f"--organization {organization!r} is not an organization id (a UUID)."
            ) from None
        found = Tenant.objects.filter(
            organization_id=organization_id, customer_id=customer_id
        ).first()
        if found is None:
            raise CommandError(
                f"No tenant with customer id {customer_id!r} in organization {organization}."
            )
        return found
    if organization or customer_id:
        raise CommandError("--organization and --customer-id must be given together.")
    raise CommandError("Name the tenant: --tenant UUID, or --organization UUID --customer-id CID.")
