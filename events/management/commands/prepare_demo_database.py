"""`python manage.py prepare_demo_database` (run by `make run` before `migrate`).

The events app's migrations 0001-0007 were squashed into one 0001_initial before any
release. A database migrated before that still records the old names, so `migrate`
would take it as up to date and leave it without the new tables. This command finds
such a database: the embedded SQLite demo database is moved aside (to
`<name>.pre-squash-<time>`) so that `migrate` and `load_demo` build a new one; any other
database is left alone, with a message saying what to do.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.recorder import MigrationRecorder


def stale_migrations() -> list[str]:
    """Names of events migrations the database records but this code does not have."""
    recorder = MigrationRecorder(connection)
    if not recorder.has_table():
        return []
    known = {
        name
        for app, name in MigrationLoader(None, ignore_no_migrations=True).disk_migrations
        if app == "events"
    }
    applied = {name for app, name in recorder.applied_migrations() if app == "events"}
    return sorted(applied - known)


class Command(BaseCommand):
    help = (
        "Before `migrate` in `make run`: move aside an embedded demo database built before "
        "the events migrations were squashed, or say what to do with another database."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--demo-folder",
            default=str(Path(settings.BASE_DIR) / "var"),
            help="where the embedded demo database lives (default: var/)",
        )

    def handle(self, *args: Any, demo_folder: str, **options: Any) -> None:
        stale = stale_migrations()
        if not stale:
            return
        names = ", ".join(stale)
        path = Path(connection.settings_dict["NAME"])
        if connection.vendor != "sqlite" or path.parent.resolve() != Path(demo_folder).resolve():
            raise CommandError(
                f"This database records events migrations that no longer exist ({names}): "
                "it was built before they were squashed into events/0001_initial. Nothing "
                "had been released, so rebuild it: drop and re-create the database, then "
                "run `python manage.py migrate` (and `import_events` again for its data)."
            )
        connection.close()
        moved = path.with_name(f"{path.name}.pre-squash-{time.strftime('%Y%m%d-%H%M%S')}")
        path.rename(moved)
        for suffix in ("-wal", "-shm"):
            side = path.with_name(path.name + suffix)
            if side.exists():
                side.rename(moved.with_name(moved.name + suffix))
        self.stdout.write(
            f"{path} was built by an older version of this project (events migrations "
            f"{names}, since squashed into one). Moved it to {moved}; a new demo database "
            "is built now (the demo data is regenerated; your own data stays in the old file)."
        )
