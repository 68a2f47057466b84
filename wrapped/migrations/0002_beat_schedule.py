from django.db import migrations


def install_beat_schedule(apps, schema_editor):
    from events.management.commands.install_beat_schedule import install_beat_schedule

    install_beat_schedule(
        apps.get_model("django_celery_beat", "IntervalSchedule"),
        apps.get_model("django_celery_beat", "PeriodicTask"),
    )


class Migration(migrations.Migration):
    """Wrapped's periodic tasks, on databases created before they existed."""

    dependencies = [
        ("wrapped", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(install_beat_schedule, migrations.RunPython.noop)]
