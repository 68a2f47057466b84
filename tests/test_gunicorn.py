"""The project's gunicorn.conf.py, run for real: it serves, writes one access line per
request with the worker and the request's id, stops gracefully on SIGTERM, and a revoked
key is refused at once by every worker."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parent.parent
# An access line: ... "GET /path HTTP/1.1" 401 <bytes> <ms>ms <pid> [request id]
ACCESS = re.compile(
    r'"(?P<request>[^"]*)" (?P<status>\d{3}) \S+ \d+ms <(?P<pid>\d+)> \[(?P<id>[^\]]*)\]'
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    base: str
    process: subprocess.Popen[str]
    output: str = field(default="")


@contextmanager
def gunicorn(**env: str) -> Iterator[Server]:
    """gunicorn with ./gunicorn.conf.py (read by default), on a free port; once ready,
    yields it; afterwards `output` holds what it wrote (SIGTERM, unless stopped already)."""
    port = free_port()
    process = subprocess.Popen(
        [str(Path(sys.executable).with_name("gunicorn")), "trophy_site.wsgi:application"],
        cwd=ROOT,
        env={
            **os.environ,
            "SECRET_KEY": "gunicorn-test",
            "GUNICORN_BIND": f"127.0.0.1:{port}",
            **env,
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    server = Server(f"http://127.0.0.1:{port}", process)
    try:
        for _ in range(100):
            try:
                httpx.get(f"{server.base}/healthz")
                break
            except httpx.TransportError:
                assert process.poll() is None, process.stdout.read() if process.stdout else ""
                time.sleep(0.1)
        yield server
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            server.output, _ = process.communicate(timeout=40)
        finally:
            if process.poll() is None:
                process.kill()


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
    from django.db import connection
    from django.utils import timezone

    from events.models import ApiKey

    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"
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
