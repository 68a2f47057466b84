"""The events app's one squashed migration, and what `make run` does with a database
built before the squash (`prepare_demo_database`)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from events.migrations import __path__ as migrations_path


def migrate(targets=None):
    """Migrate to targets, or with none to every app's latest migration: unapplying
    events also unapplies the apps that depend on it (wrapped), which the rest of the
    suite needs back."""
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets if targets is not None else executor.loader.graph.leaf_nodes())


def test_the_events_app_starts_from_the_squashed_initial_migration():
    names = sorted(p.name for p in Path(migrations_path[0]).glob("0*.py"))
    # The foundation's seven were squashed into 0001_initial before any release; later
    # migrations add to it, one after another.
    assert names[0] == "0001_initial.py"
    assert [name[:4] for name in names] == [f"{n:04d}" for n in range(1, len(names) + 1)]


def add_function_exists() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_proc WHERE proname = 'trophy_add_attribute_sums'")
        return cursor.fetchone()[0] == 1


@pytest.mark.django_db(transaction=True)
def test_the_migration_reverses_and_applies_again():
    migrate([("events", None)])
    try:
        assert "events_event" not in connection.introspection.table_names()
        if connection.vendor == "postgresql":
            assert not add_function_exists()
    finally:
        migrate()
    assert {"events_event", "events_streakrun", "events_enduser", "wrapped_wrappedsummary"} <= set(
        connection.introspection.table_names()
    )
    if connection.vendor == "postgresql":
        assert add_function_exists()


def run_command(database: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{database}", "SECRET_KEY": "x"}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def old_database(path: Path) -> None:
    """A database as the pre-squash code left it: its migration table records 0007."""
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE django_migrations (id integer PRIMARY KEY AUTOINCREMENT, "
            "app varchar(255), name varchar(255), applied datetime)"
        )
        db.executemany(
            "INSERT INTO django_migrations (app, name, applied) VALUES ('events', ?, '2026-11-26')",
            [("0001_initial",), ("0007_attribute_sums_in_daily_rollup",)],
        )


def test_an_old_demo_database_is_moved_aside_and_rebuilt(tmp_path):
    database = tmp_path / "db.sqlite3"
    old_database(database)

    prepared = run_command(database, "prepare_demo_database", "--demo-folder", str(tmp_path))

    assert prepared.returncode == 0, prepared.stderr
    assert "0007_attribute_sums_in_daily_rollup" in prepared.stdout
    moved = [p for p in tmp_path.iterdir() if p.name.startswith("db.sqlite3.pre-squash-")]
    assert len(moved) == 1 and not database.exists()
    migrated = run_command(database, "migrate", "--noinput")
    assert migrated.returncode == 0, migrated.stderr
    assert run_command(database, "prepare_demo_database").stdout == ""  # now current


def test_an_old_sqlite_database_elsewhere_is_left_alone_with_what_to_do(tmp_path):
    database = tmp_path / "mine.sqlite3"
    old_database(database)

    prepared = run_command(database, "prepare_demo_database")  # its folder is not var/

    assert prepared.returncode != 0 and "drop and re-create the database" in prepared.stderr
    assert database.exists()


def test_a_current_database_is_left_alone(tmp_path):
    database = tmp_path / "db.sqlite3"
    assert run_command(database, "migrate", "--noinput").returncode == 0

    prepared = run_command(database, "prepare_demo_database")

    assert prepared.returncode == 0 and prepared.stdout == ""
    assert [p.name for p in tmp_path.iterdir() if "pre-squash" in p.name] == []


@pytest.mark.postgres
def test_an_old_server_database_is_left_alone_with_what_to_do(db):
    from django.core.management import CommandError, call_command
    from django.db.migrations.recorder import MigrationRecorder

    MigrationRecorder(connection).record_applied("events", "0007_attribute_sums_in_daily_rollup")

    with pytest.raises(CommandError, match="drop and re-create the database"):
        call_command("prepare_demo_database")


def test_every_model_change_has_its_migration(db):
    """`makemigrations --check`: a model changed without a migration (found once by a
    deployment walk-through: a validator's pattern written differently) fails here."""
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    try:
        call_command("makemigrations", "--check", "--dry-run", stdout=out, stderr=out)
    except SystemExit as exit:
        pytest.fail(f"models without a migration (exit {exit.code}):\n{out.getvalue()}")
