"""The import benchmark's baseline: the same JSON Lines file, parsed and COPYed as-is
into a bare table with the event log's columns.

    DJANGO_SETTINGS_MODULE=bench.settings python -m bench.copy_baseline FILE.jsonl TENANT_ID

The table is `CREATE TABLE ... (LIKE events_event)`: the same columns and NOT NULLs,
but no primary key, no index, no foreign key, no unique constraint. Each line is parsed
with `json.loads` and becomes one row (a uuid7 id, the tenant, a user id taken from the
user's number instead of looked up, the metric's id, value, attributes, timestamp, its
UTC date as local date, received_at), streamed with psycopg's `COPY ... FROM STDIN`. No
validation, no users, no idempotency, no totals or rollups: a lower bound for "read the
file and write the log once". Prints one JSON line with the row count.
"""

from __future__ import annotations

import json
import sys
import uuid
from datetime import UTC, datetime

import django


def main() -> None:
    path, tenant_id = sys.argv[1], uuid.UUID(sys.argv[2])
    django.setup()
    from django.db import connection, transaction

    from events.ids import uuid7
    from events.models import Metric

    metrics = {m.key: m.id for m in Metric.objects.filter(tenant_id=tenant_id)}
    now = datetime.now(UTC)
    columns = (
        "id, tenant_id, user_id, metric_id, value, attributes, timestamp, local_date, "
        "received_at, idempotency_key"
    )
    rows = 0
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_copy_events")
        cursor.execute("CREATE TABLE bench_copy_events (LIKE events_event)")
        raw = cursor.cursor  # the psycopg cursor: Django's wrapper has no copy()
        with (
            raw.copy(f"COPY bench_copy_events ({columns}) FROM STDIN") as copy,
            open(path, encoding="utf-8") as lines,
        ):
            for line in lines:
                event = json.loads(line)
                timestamp = datetime.fromisoformat(event["timestamp"])
                copy.write_row(
                    (
                        uuid7(),
                        tenant_id,
                        int(event["user"]["id"].rsplit("-", 1)[1]),
                        metrics[event["key"]],
                        event["value"],
                        json.dumps(event.get("attributes", {})),
                        timestamp,
                        timestamp.date(),
                        now,
                        None,
                    )
                )
                rows += 1
    print(json.dumps({"rows": rows}))


if __name__ == "__main__":
    main()
