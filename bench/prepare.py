"""Configure the benchmark organization's default tenant and print its id.

    DJANGO_SETTINGS_MODULE=bench.settings python -m bench.prepare

Creates the metric `words` (the HTTP benchmark's) and `minutes` plus the event
attributes `device` and `plan` (the import benchmark's) with the ORM,
bumping the tenant's config version in the same transaction, as
every configuration change must. Expects exactly one organization (run.sh's fresh one).
"""

from __future__ import annotations

import django


def main() -> None:
    django.setup()
    from django.db import transaction

    from events.models import Attribute, Metric, Organization

    organization = Organization.objects.get()
    tenant = organization.default_tenant
    assert tenant is not None
    with transaction.atomic():
        for key in ("words", "minutes"):
            Metric.objects.get_or_create(tenant=tenant, key=key, defaults={"name": key.title()})
        for key in ("device", "plan"):
            Attribute.objects.get_or_create(
                tenant=tenant, key=key, defaults={"name": key.title(), "type": "event"}
            )
        tenant.bump_config_version()
    print(tenant.id)


if __name__ == "__main__":
    main()
