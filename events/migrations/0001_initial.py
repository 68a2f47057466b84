"""The events app's schema, in one migration (0001-0007 were squashed before any
release), plus what the ORM cannot create: the PostgreSQL function the daily rollup's
upsert calls to add sums per event-attribute value (events/attribute_sums.py; SQLite
gets the same function from Python on every connection, events/apps.py) and the celery
beat schedule (the install_beat_schedule command).

`sqlmigrate` does not show RunPython operations: on PostgreSQL the first one runs
ADD_FUNCTION below."""

import django.core.validators
import django.db.models.deletion
import events.ids
import events.models.derived
import uuid
from django.db import migrations, models

# The upsert's `trophy_add_attribute_sums(row's sums, new sums)` (events.attribute_sums.add
# in PL/pgSQL). Frozen here: a later change to it belongs in a new migration. It walks the
# new sums, which are few (one event's, on the event path), and adds each into the row's
# with jsonb_set: its cost grows with the number of new values, not with the row's. A sum
# keeps no trailing zeros (trim_scale), as events.attribute_sums.number_text writes it.
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


def create_function(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(ADD_FUNCTION)


def drop_function(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_FUNCTION)


def install_beat_schedule(apps, schema_editor):
    from events.management.commands.install_beat_schedule import install_beat_schedule

    install_beat_schedule(
        apps.get_model("django_celery_beat", "IntervalSchedule"),
        apps.get_model("django_celery_beat", "PeriodicTask"),
    )


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [
        migrations.CreateModel(
            name='EndUser',
            fields=[
                ('id', models.BigAutoField(primary_key=True, serialize=False)),
                ('external_id', models.CharField(max_length=255, verbose_name='user id')),
                ('email', models.CharField(blank=True, max_length=320, null=True)),
                ('name', models.CharField(blank=True, max_length=255, null=True)),
                ('tz', models.CharField(blank=True, max_length=64, null=True, verbose_name='time zone')),
                ('device_tokens', models.JSONField(blank=True, null=True)),
                ('subscribe_to_emails', models.BooleanField(default=True)),
                ('attributes', models.JSONField(blank=True, default=dict)),
                ('control', models.BooleanField(default=False)),
                ('notification_preferences', models.JSONField(blank=True, default=dict)),
                ('streak_enabled', models.BooleanField(default=True)),
                ('created', models.DateTimeField()),
                ('updated', models.DateTimeField()),
                ('newest_event_at', models.DateTimeField(blank=True, editable=False, null=True)),
                ('newest_event_id', models.UUIDField(blank=True, editable=False, null=True)),
                ('derived_stamp', models.BigIntegerField(default=0, editable=False)),
                ('sequential_state', models.JSONField(blank=True, default=dict, editable=False)),
                ('sequential_stale', models.BooleanField(default=False, editable=False)),
            ],
            options={
                'verbose_name': 'end user',
                'ordering': ['created', 'id'],
            },
        ),
        migrations.CreateModel(
            name='Metric',
            fields=[
                ('id', models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False)),
                ('key', models.CharField(max_length=255, validators=[django.core.validators.RegexValidator('^[a-zA-Z\\d\\-_]+$', 'Keys may only contain letters, digits, - and _.')])),
                ('name', models.CharField(max_length=255)),
                ('unit_type', models.CharField(choices=[('number', 'Number'), ('currency', 'Currency')], default='number', max_length=16)),
                ('units', models.CharField(blank=True, default='', max_length=64)),
                ('status', models.CharField(choices=[('active', 'Active'), ('archived', 'Archived')], default='active', max_length=16)),
                ('created', models.DateTimeField(auto_now_add=True)),
                ('updated', models.DateTimeField(auto_now=True)),
            ],
            options={
                'ordering': ['created', 'id'],
            },
        ),
        migrations.CreateModel(
            name='Organization',
            fields=[
                ('id', models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False)),
                ('name', models.CharField(max_length=255)),
                ('created', models.DateTimeField(auto_now_add=True)),
            ],
            options={
                'ordering': ['created'],
            },
        ),
        migrations.CreateModel(
            name='ApiKey',
            fields=[
                ('id', models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False)),
                ('name', models.CharField(blank=True, default='', max_length=255)),
                ('prefix', models.CharField(editable=False, max_length=8, unique=True)),
                ('body_hash', models.CharField(editable=False, max_length=64)),
                ('created', models.DateTimeField(auto_now_add=True)),
                ('last_used', models.DateTimeField(blank=True, editable=False, null=True)),
                ('revoked_at', models.DateTimeField(blank=True, null=True)),
                ('organization', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='keys', to='events.organization')),
            ],
            options={
                'verbose_name': 'API key',
                'ordering': ['created'],
            },
        ),
        migrations.CreateModel(
            name='Tenant',
            fields=[
                ('id', models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False)),
                ('customer_id', models.CharField(max_length=255)),
                ('name', models.CharField(max_length=255)),
                ('status', models.CharField(choices=[('active', 'Active'), ('archived', 'Archived')], default='active', max_length=16)),
                ('default_timezone', models.CharField(default='UTC', max_length=64)),
                ('config_version', models.PositiveIntegerField(default=1, editable=False)),
                ('created', models.DateTimeField(auto_now_add=True)),
                ('updated', models.DateTimeField(auto_now=True)),
                ('organization', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='tenants', to='events.organization')),
            ],
            options={
                'ordering': ['created'],
            },
        ),
        migrations.CreateModel(
            name='StreakRun',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('started', models.DateField()),
                ('ended', models.DateField()),
                ('length', models.PositiveIntegerField()),
                ('user', models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='events.enduser')),
                ('tenant', models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='events.tenant')),
            ],
        ),
        migrations.AddField(
            model_name='organization',
            name='default_tenant',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='events.tenant'),
        ),
        migrations.CreateModel(
            name='MetricTotal',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('total', models.DecimalField(decimal_places=6, max_digits=28)),
                ('event_count', models.PositiveIntegerField()),
                ('metric', models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='events.metric')),
                ('user', models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='totals', to='events.enduser')),
                ('tenant', models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='events.tenant')),
            ],
        ),
        migrations.AddField(
            model_name='metric',
            name='tenant',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='metrics', to='events.tenant'),
        ),
        migrations.CreateModel(
            name='EventBatch',
            fields=[
                ('id', models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False)),
                ('items', models.JSONField()),
                ('received_at', models.DateTimeField()),
                ('status', models.CharField(choices=[('pending', 'Pending'), ('done', 'Done'), ('failed', 'Failed')], default='pending', max_length=16)),
                ('processed', models.PositiveIntegerField(default=0)),
                ('error', models.TextField(blank=True, default='')),
                ('finished_at', models.DateTimeField(blank=True, null=True)),
                ('tenant', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='events.tenant')),
            ],
            options={
                'verbose_name_plural': 'event batches',
                'ordering': ['received_at'],
            },
        ),
        migrations.CreateModel(
            name='Event',
            fields=[
                ('id', models.UUIDField(default=events.ids.uuid7, editable=False, primary_key=True, serialize=False)),
                ('value', models.DecimalField(decimal_places=6, max_digits=19)),
                ('attributes', models.JSONField(blank=True, default=dict)),
                ('timestamp', models.DateTimeField()),
                ('local_date', models.DateField()),
                ('received_at', models.DateTimeField()),
                ('idempotency_key', models.CharField(blank=True, max_length=255, null=True)),
                ('user', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='events', to='events.enduser')),
                ('metric', models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='events', to='events.metric')),
                ('tenant', models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='events.tenant')),
            ],
            options={
                'ordering': ['timestamp', 'id'],
            },
        ),
        migrations.AddField(
            model_name='enduser',
            name='tenant',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='users', to='events.tenant'),
        ),
        migrations.CreateModel(
            name='DailyRollup',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('local_date', models.DateField()),
                ('total', models.DecimalField(decimal_places=6, max_digits=28)),
                ('event_count', models.PositiveIntegerField()),
                ('by_attribute', events.models.derived.AttributeSumsField(blank=True, default=dict)),
                ('user', models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='events.enduser')),
                ('metric', models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='events.metric')),
                ('tenant', models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='events.tenant')),
            ],
        ),
        migrations.CreateModel(
            name='Attribute',
            fields=[
                ('id', models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False)),
                ('key', models.CharField(max_length=255, validators=[django.core.validators.RegexValidator('^[a-zA-Z\\d\\-_]+$', 'Keys may only contain letters, digits, - and _.')])),
                ('name', models.CharField(max_length=255)),
                ('type', models.CharField(choices=[('user', 'User'), ('event', 'Event')], max_length=8)),
                ('status', models.CharField(choices=[('active', 'Active'), ('archived', 'Archived')], default='active', max_length=16)),
                ('created', models.DateTimeField(auto_now_add=True)),
                ('updated', models.DateTimeField(auto_now=True)),
                ('tenant', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='attributes', to='events.tenant')),
            ],
            options={
                'ordering': ['created', 'id'],
            },
        ),
        migrations.AddConstraint(
            model_name='tenant',
            constraint=models.UniqueConstraint(fields=('organization', 'customer_id'), name='tenant_customer_id_unique'),
        ),
        migrations.AddConstraint(
            model_name='streakrun',
            constraint=models.UniqueConstraint(fields=('user', 'started'), name='streak_run_unique'),
        ),
        migrations.AddConstraint(
            model_name='metrictotal',
            constraint=models.UniqueConstraint(fields=('user', 'metric'), name='metric_total_unique'),
        ),
        migrations.AddConstraint(
            model_name='metric',
            constraint=models.UniqueConstraint(condition=models.Q(('status', 'active')), fields=('tenant', 'key'), name='metric_key_unique_per_tenant'),
        ),
        migrations.AddIndex(
            model_name='eventbatch',
            index=models.Index(fields=['status', 'received_at'], name='batch_status_idx'),
        ),
        migrations.AddIndex(
            model_name='event',
            index=models.Index(fields=['user', 'timestamp'], name='event_user_time_idx'),
        ),
        migrations.AddIndex(
            model_name='event',
            index=models.Index(fields=['metric', 'local_date'], name='event_metric_date_idx'),
        ),
        migrations.AddConstraint(
            model_name='event',
            constraint=models.UniqueConstraint(condition=models.Q(('idempotency_key__isnull', False)), fields=('user', 'metric', 'idempotency_key'), name='event_idempotency_key_unique'),
        ),
        migrations.AddIndex(
            model_name='enduser',
            index=models.Index(fields=['tenant', 'email'], name='user_email_idx'),
        ),
        migrations.AddIndex(
            model_name='enduser',
            index=models.Index(condition=models.Q(('sequential_stale', True)), fields=['tenant'], name='user_sequential_stale_idx'),
        ),
        migrations.AddConstraint(
            model_name='enduser',
            constraint=models.UniqueConstraint(fields=('tenant', 'external_id'), name='user_id_unique'),
        ),
        migrations.AddIndex(
            model_name='dailyrollup',
            index=models.Index(fields=['metric', 'local_date'], name='rollup_metric_date_idx'),
        ),
        migrations.AddConstraint(
            model_name='dailyrollup',
            constraint=models.UniqueConstraint(fields=('user', 'local_date', 'metric'), name='daily_rollup_unique'),
        ),
        migrations.AddConstraint(
            model_name='attribute',
            constraint=models.UniqueConstraint(condition=models.Q(('status', 'active')), fields=('tenant', 'type', 'key'), name='attribute_key_unique_per_tenant_and_type'),
        ),
        migrations.RunPython(create_function, drop_function),
        migrations.RunPython(install_beat_schedule, migrations.RunPython.noop),
    ]
