"""Which database errors are a 503 (retry) and which stay a 500: real errors, raised by
the database through Django's own wrapping; and a share page (a plain Django view) on a
connection that broke while idle, with the health checks off."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from django.db import DatabaseError, connection, transaction

from tests.pg import terminate_backends
from tests.processes import database_url, gunicorn
from trophy_site.database_errors import is_retryable


def raised(action: Callable[[], object]) -> DatabaseError:
    with pytest.raises(DatabaseError) as caught, transaction.atomic():
        action()
    return caught.value


def execute(sql: str) -> Callable[[], object]:
    def run() -> object:
        with connection.cursor() as cursor:
            return cursor.execute(sql)

    return run


@pytest.mark.django_db
def test_a_missing_table_or_a_syntax_error_is_not_retryable():
    assert not is_retryable(raised(execute("SELECT * FROM no_such_table")))
    assert not is_retryable(raised(execute("SELEC 1")))


def test_a_locked_sqlite_database_is_retryable(tmp_path: Path):
    """What Django raises when SQLite's busy timeout runs out (it wraps sqlite3's error
    as django.db.OperationalError, the original as __cause__)."""
    from django.db import OperationalError

    path = tmp_path / "locked.sqlite3"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN IMMEDIATE")
    waiter = sqlite3.connect(path, timeout=0)
    with pytest.raises(sqlite3.OperationalError) as locked:
        waiter.execute("INSERT INTO t VALUES (1)")
    holder.rollback()
    try:
        raise OperationalError(*locked.value.args) from locked.value
    except OperationalError as wrapped:
        assert "locked" in str(wrapped) and is_retryable(wrapped)


@pytest.mark.postgres
@pytest.mark.django_db
def test_postgresql_errors_by_their_sqlstate():
    # 40001 serialization failure, 57P01 admin shutdown, 25006 read only: retryable
    for sqlstate in ("40001", "57P01", "25006"):
        error = raised(
            execute(f"DO $$ BEGIN RAISE EXCEPTION 'x' USING ERRCODE = '{sqlstate}'; END $$")
        )
        assert is_retryable(error), sqlstate
    # 57014 query canceled (a statement timeout), 22012 division by zero: not
    for sqlstate in ("57014", "22012"):
        error = raised(
            execute(f"DO $$ BEGIN RAISE EXCEPTION 'x' USING ERRCODE = '{sqlstate}'; END $$")
        )
        assert not is_retryable(error), sqlstate


@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_connection_that_broke_while_idle_is_a_503_then_the_next_request_reconnects(owner):
    """With DATABASE_CONN_HEALTH_CHECKS=0 a kept connection is not checked before use: the
    first query on one that was terminated fails. The share page (not a DRF view) and the
    API answer 503 for it, and the following request works."""
    with gunicorn(
        DATABASE_URL=database_url(), WEB_CONCURRENCY="1", DATABASE_CONN_HEALTH_CHECKS="0"
    ) as server:
        page = f"{server.base}/w/{'x' * 32}/"
        api = f"{server.base}/v1/users/nobody"
        headers = {"X-API-KEY": owner.key}
        assert httpx.get(page).status_code == 404  # the worker's connection is open now

        for request in (lambda: httpx.get(page), lambda: httpx.get(api, headers=headers)):
            assert terminate_backends() == 1  # the web process's connection
            failed = request()
            assert failed.status_code == 503, failed.text
            assert failed.json() == {"error": "Database unavailable, please retry"}
            assert failed.headers["Retry-After"] == "1"
            assert request().status_code == 404  # reconnected: the page or user is unknown
