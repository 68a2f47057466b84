"""PostgreSQL helpers for tests: observe backends waiting for a lock in `pg_stat_activity`
(rather than inferring it from a thread that is slow), and terminate connections."""

from __future__ import annotations

import time
from collections.abc import Collection
from typing import NamedTuple

from django.db import connection


class Waiter(NamedTuple):
    pid: int
    query: str


def lock_waiters(timeout: float = 30, count: int = 1) -> list[Waiter]:
    """Wait until `count` backends of this database wait for a lock (at most `timeout`
    seconds); return them. Works inside a transaction: the statistics snapshot is
    cleared before each look."""
    deadline = time.monotonic() + timeout
    while True:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_stat_clear_snapshot()")
            cursor.execute(
                "SELECT pid, query FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND datname = current_database() AND pid <> pg_backend_pid()"
            )
            waiting = [Waiter(*row) for row in cursor.fetchall()]
        if len(waiting) >= count or time.monotonic() > deadline:
            return waiting
        time.sleep(0.02)


def terminate_backends(exclude: Collection[int] = (), only: int | None = None) -> int:
    """Terminate this database's client connections but ours and `exclude` (or only the
    backend `only`), as an operator or a failover would. Returns how many."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND backend_type = 'client backend' "
            "AND pid <> pg_backend_pid() AND NOT pid = ANY(%s) AND (%s::int IS NULL OR pid = %s)",
            [list(exclude), only, only],
        )
        return int(cursor.fetchone()[0])
