"""PostgreSQL helpers for tests that prove a lock is taken: they observe the waiting
backend in `pg_stat_activity` rather than inferring it from a thread that is slow."""

from __future__ import annotations

import time

from django.db import connection


def lock_waiters(timeout: float = 30, count: int = 1) -> list[str]:
    """Wait until `count` backends of this database wait for a lock (at most `timeout`
    seconds); return their queries. Works inside a transaction: the statistics snapshot
    is cleared before each look."""
    deadline = time.monotonic() + timeout
    while True:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_stat_clear_snapshot()")
            cursor.execute(
                "SELECT query FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND datname = current_database() AND pid <> pg_backend_pid()"
            )
            waiting = [query for (query,) in cursor.fetchall()]
        if len(waiting) >= count or time.monotonic() > deadline:
            return waiting
        time.sleep(0.02)
