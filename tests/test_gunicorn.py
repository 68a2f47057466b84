"""The project's gunicorn.conf.py, run for real: it serves, writes one access line per
request with the worker and the request's id, stops gracefully on SIGTERM, and a revoked
key is refused at once by every worker."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.processes import ACCESS, database_url, gunicorn


def test_gunicorn_conf_serves_logs_request_ids_and_stops_gracefully(tmp_path):
    with gunicorn(
        DATABASE_URL=f"sqlite:///{tmp_path}/unused.sqlite3", WEB_CONCURRENCY="1"
    ) as server:
        response = httpx.get(f"{server.base}/healthz", headers={"X-Request-ID": "gunicorn-77"})
    assert response.status_code == 200 and response.headers["X-Request-ID"] == "gunicorn-77"
    assert server.process.returncode == 0, server.output
    lines = [m for m in map(ACCESS.search, server.output.splitlines()) if m]
    assert [(m["request"], m["status"], m["id"]) for m in lines][-1] == (
        "GET /healthz HTTP/1.1",
        "200",
        "gunicorn-77",
    ), server.output
    assert "Handling signal: term" in server.output or "Shutting down" in server.output


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_revoked_key_stops_working_on_every_worker_at_once(owner):
    """Two gunicorn worker processes: once a key is revoked, the next requests on both are
    refused (authentication reads the key's row on every request; nothing is cached)."""
    from django.utils import timezone

    from events.models import ApiKey

    url = database_url()
    headers = {"X-API-KEY": owner.key}

    def many(base: str, marker: str) -> list[int]:
        # Concurrent requests, so that both sync workers take some.
        def one(n: int) -> int:
            ids = {**headers, "X-Request-ID": f"{marker}-{n}"}
            return httpx.get(f"{base}/v1/users/nobody", headers=ids).status_code

        with ThreadPoolExecutor(8) as pool:
            return list(pool.map(one, range(40)))

    with gunicorn(DATABASE_URL=url, WEB_CONCURRENCY="2") as server:
        before = many(server.base, "before")
        ApiKey.objects.filter(organization=owner.organization).update(revoked_at=timezone.now())
        after = many(server.base, "after")

    assert set(before) == {404}, server.output  # authenticated; no such user
    assert set(after) == {401}, server.output
    lines = [m for m in map(ACCESS.search, server.output.splitlines()) if m]
    workers_after = {m["pid"] for m in lines if m["id"].startswith("after-")}
    assert all(m["status"] == "401" for m in lines if m["id"].startswith("after-"))
    assert len(workers_after) == 2, server.output  # both workers refused the revoked key
