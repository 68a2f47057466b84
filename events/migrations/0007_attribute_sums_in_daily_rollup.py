"""The sums per event-attribute value move from their own table (DailyAttributeRollup, one
row per user, metric, day, attribute and value) into a JSON column of the daily rollup
(events.attribute_sums explains why). The existing sums are carried over, and back on
reversal; on PostgreSQL the upsert's function is created here.

`sqlmigrate` does not show RunPython operations: on PostgreSQL they run ADD_FUNCTION,
POSTGRESQL_MOVE (or POSTGRESQL_MOVE_BACK and DROP_FUNCTION when reversed)."""

from collections.abc import Iterator
from itertools import groupby, islice
from typing import Any

from django.db import migrations

import events.models.derived

BATCH = 1000

# The upsert's `trophy_add_attribute_sums(row's sums, new sums)` (events.attribute_sums.add
# in PL/pgSQL; SQLite calls that Python function itself). Frozen here: a later change to
# it belongs in a new migration. It walks the new sums, which are few (one event's, on the
# event path), and adds each into the row's with jsonb_set: its cost grows with the
# number of new values, not with the row's. A sum keeps no trailing zeros (trim_scale),
# as events.attribute_sums.number_text writes it.
ADD_FUNCTION = r"""
CREATE OR REPLACE FUNCTION trophy_add_attribute_sums(a jsonb, b jsonb) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
    name text;
    items jsonb;
    item text;
    pair jsonb;
    mine jsonb;
BEGIN
    IF a = '{}'::jsonb THEN
        RETURN b;
    END IF;
    FOR name, items IN SELECT * FROM jsonb_each(b) LOOP
        IF NOT a ? name THEN
            a := a || jsonb_build_object(name, items);
            CONTINUE;
        END IF;
        FOR item, pair IN SELECT * FROM jsonb_each(items) LOOP
            mine := a -> name -> item;
            IF mine IS NOT NULL THEN
                pair := jsonb_build_array(
                    trim_scale((mine ->> 0)::numeric + (pair ->> 0)::numeric),
                    (mine ->> 1)::bigint + (pair ->> 1)::bigint
                );
            END IF;
            a := jsonb_set(a, ARRAY[name, item], pair);
        END LOOP;
    END LOOP;
    RETURN a;
END
$$
"""
DROP_FUNCTION = "DROP FUNCTION IF EXISTS trophy_add_attribute_sums(jsonb, jsonb)"


def create_function(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(ADD_FUNCTION)


def drop_function(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_FUNCTION)


def _batches(items: Iterator[Any]) -> Iterator[list[Any]]:
    while batch := list(islice(items, BATCH)):
        yield batch


# On PostgreSQL the move is two statements (seconds for a million rows, where the
# portable code below, which SQLite runs, takes about a minute for 800,000 sums).
POSTGRESQL_MOVE = """
UPDATE events_dailyrollup AS d SET by_attribute = s.sums
FROM (
    SELECT user_id, local_date, metric_id, jsonb_object_agg(attribute_key, per_value) AS sums
    FROM (
        SELECT user_id, local_date, metric_id, attribute_key,
            jsonb_object_agg(
                attribute_value, jsonb_build_array(trim_scale(total), event_count)
            ) AS per_value
        FROM events_dailyattributerollup
        GROUP BY user_id, local_date, metric_id, attribute_key
    ) AS per_key
    GROUP BY user_id, local_date, metric_id
) AS s
WHERE d.user_id = s.user_id AND d.local_date = s.local_date AND d.metric_id = s.metric_id
"""
POSTGRESQL_MOVE_BACK = """
INSERT INTO events_dailyattributerollup
    (tenant_id, user_id, metric_id, local_date, attribute_key, attribute_value, total,
     event_count)
SELECT d.tenant_id, d.user_id, d.metric_id, d.local_date, a.name, v.item,
    (v.pair->>0)::numeric, (v.pair->>1)::integer
FROM events_dailyrollup AS d, jsonb_each(d.by_attribute) AS a(name, items),
    jsonb_each(a.items) AS v(item, pair)
"""


def move_sums_into_daily_rollups(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(POSTGRESQL_MOVE)
        return
    alias = schema_editor.connection.alias
    old = apps.get_model("events", "DailyAttributeRollup").objects.using(alias)
    daily = apps.get_model("events", "DailyRollup")
    rows = old.order_by("user_id", "local_date", "metric_id").values_list(
        "user_id",
        "local_date",
        "metric_id",
        "attribute_key",
        "attribute_value",
        "total",
        "event_count",
    )
    # Each day's rows, read in key order (a group is gone once groupby moves on: listed)
    days = (
        (key, list(group))
        for key, group in groupby(rows.iterator(chunk_size=BATCH), key=lambda row: row[:3])
    )
    for batch in _batches(days):
        sums: dict[tuple[Any, ...], dict[str, dict[str, list[Any]]]] = {}
        for key, group in batch:
            per_key = sums[key] = {}
            for *_, name, item, total, count in group:
                per_key.setdefault(name, {})[item] = [total, count]
        # The batch's users' rollups over its dates (a few users: the rows come in user order)
        dates = [key[1] for key in sums]
        rollups = list(
            daily.objects.using(alias).filter(
                user_id__in={key[0] for key in sums},
                local_date__range=(min(dates), max(dates)),
            )
        )
        changed = []
        for rollup in rollups:
            found = sums.get((rollup.user_id, rollup.local_date, rollup.metric_id))
            if found is not None:
                rollup.by_attribute = found
                changed.append(rollup)
        daily.objects.using(alias).bulk_update(changed, ["by_attribute"])


def move_sums_back(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(POSTGRESQL_MOVE_BACK)
        return
    alias = schema_editor.connection.alias
    old = apps.get_model("events", "DailyAttributeRollup")
    rollups = (
        apps.get_model("events", "DailyRollup")
        .objects.using(alias)
        .exclude(by_attribute={})
        .order_by("pk")
    )
    for batch in _batches(rollups.iterator(chunk_size=BATCH)):
        old.objects.using(alias).bulk_create(
            old(
                tenant_id=rollup.tenant_id,
                user_id=rollup.user_id,
                metric_id=rollup.metric_id,
                local_date=rollup.local_date,
                attribute_key=name,
                attribute_value=item,
                total=total,
                event_count=count,
            )
            for rollup in batch
            for name, per_value in rollup.by_attribute.items()
            for item, (total, count) in per_value.items()
        )


class Migration(migrations.Migration):
    dependencies = [
        ("events", "0006_indexes_without_tenant"),
    ]

    operations = [
        migrations.AddField(
            model_name="dailyrollup",
            name="by_attribute",
            field=events.models.derived.AttributeSumsField(blank=True, default=dict),
        ),
        migrations.RunPython(create_function, drop_function),
        # Nothing to move in a new database: a squash may drop these.
        migrations.RunPython(move_sums_into_daily_rollups, move_sums_back, elidable=True),
        migrations.DeleteModel(
            name="DailyAttributeRollup",
        ),
    ]
