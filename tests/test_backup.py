"""The backup procedure of docs/operations.md, run for real on a small database: pg_dump
in the custom format, pg_restore into a new database, and the restored copy serves the
same data (the same rows in every table, migrations applied, the API answers alike)."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psycopg
import pytest
from django.db import connection

from events.models import Event
from tests.processes import ROOT, database_url, gunicorn

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def table_checksums(url: str) -> dict[str, tuple[int, str]]:
    """Every table of the public schema: its row count and an md5 of its rows, sorted."""
    with psycopg.connect(url, autocommit=True) as conn:
        tables = [
            name
            for (name,) in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
            )
        ]
        out = {}
        for table in tables:
            count, digest = conn.execute(
                f"SELECT count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM \"{table}\" t"
            ).fetchone()  # type: ignore[misc]
            out[table] = (count, digest)
        return out


@pytest.fixture
def restore_target() -> Iterator[str]:
    """A new, empty database beside the test database; dropped afterwards."""
    name = f"{connection.settings_dict['NAME']}_restore_{uuid.uuid4().hex[:8]}"
    admin = database_url().rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield database_url().rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.django_db(transaction=True)
def test_pg_dump_and_pg_restore_give_a_database_that_serves_the_same(
    owner, words, restore_target, tmp_path: Path
):
    api = owner.client()
    start = datetime.now(UTC) - timedelta(days=40)
    for day in range(0, 40, 3):
        for user in ("ann", "bob"):
            response = api.post(
                "/v1/metrics/words/event",
                {
                    "user": {"id": user, "tz": "Europe/Paris"},
                    "value": day + 1,
                    "timestamp": (start + timedelta(days=day)).isoformat(),
                },
                format="json",
            )
            assert response.status_code == 201, response.content
    source = database_url()
    dump = tmp_path / "trophy.dump"

    # The commands of docs/operations.md, "Backups".
    subprocess.run(["pg_dump", "--format=custom", f"--file={dump}", source], check=True)
    subprocess.run(
        ["pg_restore", "--no-owner", "--exit-on-error", f"--dbname={restore_target}", str(dump)],
        check=True,
    )

    assert table_checksums(restore_target) == table_checksums(source)
    env = {**os.environ, "SECRET_KEY": "backup-test", "DATABASE_URL": restore_target}
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--check"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    path = "/v1/users/ann/metrics/words"
    expected = api.get(path).json()
    assert expected["current"] == sum(day + 1 for day in range(0, 40, 3))
    with gunicorn(DATABASE_URL=restore_target, WEB_CONCURRENCY="1") as server:
        restored = httpx.get(server.base + path, headers={"X-API-KEY": owner.key})
    assert restored.status_code == 200 and restored.json() == expected
    assert Event.objects.count() == 28
