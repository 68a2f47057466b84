"""Migration 0007 moves the sums per attribute value from their own table into the daily
rollup, and back when reversed, without losing or changing a sum."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

BEFORE = [("events", "0006_indexes_without_tenant")]
AFTER = [("events", "0007_attribute_sums_in_daily_rollup")]
DAY = date(2026, 3, 1)


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_the_sums_move_into_the_daily_rollups_and_back():
    old = migrate(BEFORE)
    try:
        Organization = old.get_model("events", "Organization")
        Tenant = old.get_model("events", "Tenant")
        EndUser = old.get_model("events", "EndUser")
        Metric = old.get_model("events", "Metric")
        Daily = old.get_model("events", "DailyRollup")
        ByAttribute = old.get_model("events", "DailyAttributeRollup")
        organization = Organization.objects.create(name="Acme")
        tenant = Tenant.objects.create(organization=organization, customer_id="acme", name="Acme")
        now = timezone.now()
        users = [
            EndUser.objects.create(tenant=tenant, external_id=f"u{i}", created=now, updated=now)
            for i in range(3)
        ]
        metric = Metric.objects.create(tenant=tenant, key="words", name="Words")
        attribute_rows: dict[tuple[int, date], list[tuple[str, str, int | Decimal, int]]] = {
            # (user, day): [(key, value, total, count)]
            (0, DAY): [("device", "ios", Decimal("1.5"), 2), ("device", "web", 3, 1)],
            (0, date(2026, 3, 2)): [("plan", "pro", 4, 1)],
            (1, DAY): [("device", "ios", 2, 1), ("plan", "free", 2, 1)],
        }
        for user in users:
            for day in (DAY, date(2026, 3, 2)):
                Daily.objects.create(
                    tenant=tenant, user=user, metric=metric, local_date=day, total=9, event_count=3
                )
        for (index, day), rows in attribute_rows.items():
            for key, value, total, count in rows:
                ByAttribute.objects.create(
                    tenant=tenant,
                    user=users[index],
                    metric=metric,
                    local_date=day,
                    attribute_key=key,
                    attribute_value=value,
                    total=total,
                    event_count=count,
                )

        new = migrate(AFTER)
        moved = {
            (row.user_id, row.local_date): row.by_attribute
            for row in new.get_model("events", "DailyRollup").objects.all()
        }
        assert moved == {
            (users[0].pk, DAY): {"device": {"ios": [Decimal("1.5"), 2], "web": [3, 1]}},
            (users[0].pk, date(2026, 3, 2)): {"plan": {"pro": [4, 1]}},
            (users[1].pk, DAY): {"device": {"ios": [2, 1]}, "plan": {"free": [2, 1]}},
            (users[1].pk, date(2026, 3, 2)): {},
            (users[2].pk, DAY): {},
            (users[2].pk, date(2026, 3, 2)): {},
        }

        back = migrate(BEFORE)
        restored = back.get_model("events", "DailyAttributeRollup").objects.values_list(
            "user_id", "local_date", "attribute_key", "attribute_value", "total", "event_count"
        )
        assert sorted(restored) == sorted(
            (users[index].pk, day, *row)
            for (index, day), rows in attribute_rows.items()
            for row in rows
        )
    finally:
        # back to the latest migrations (the rows are flushed after a transactional test)
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
