"""`python manage.py install_beat_schedule`: create or update the periodic tasks celery beat
runs (django-celery-beat's DatabaseScheduler). Idempotent; a migration runs it too, so a
fresh database already has the schedule."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

# name -> (task, every N seconds). Defined in code, never clicked together in the admin.
BEAT_SCHEDULE: dict[str, tuple[str, int]] = {
    "events: re-enqueue stale event batches": ("events.tasks.requeue_stale_batches", 60),
    # Wrapped's (task names only: events does not import wrapped).
    "wrapped: refresh population statistics": ("wrapped.tasks.refresh_populations", 600),
    "wrapped: refresh stale summaries": ("wrapped.tasks.refresh_stale_summaries", 300),
}


def install_beat_schedule(interval_model: Any, periodic_task_model: Any) -> list[str]:
    """Install BEAT_SCHEDULE with the given models (real ones, or a migration's historical
    ones). Returns the names of the periodic tasks it created."""
    created: list[str] = []
    for name, (task, seconds) in BEAT_SCHEDULE.items():
        # filter().first(): IntervalSchedule has no unique constraint, duplicates happen.
        interval = interval_model.objects.filter(every=seconds, period="seconds").first()
        if interval is None:
            interval = interval_model.objects.create(every=seconds, period="seconds")
        _task, was_created = periodic_task_model.objects.update_or_create(
            name=name, defaults={"task": task, "interval": interval}
        )
        if was_created:
            created.append(name)
    return created


class Command(BaseCommand):
    help = "Create or update the celery beat schedule (idempotent)."

    def handle(self, *args: Any, **options: Any) -> None:
        from django_celery_beat.models import IntervalSchedule, PeriodicTask

        created = install_beat_schedule(IntervalSchedule, PeriodicTask)
        self.stdout.write(
            f"beat schedule installed ({len(BEAT_SCHEDULE)} tasks, {len(created)} new)"
        )
