"""The project's gunicorn.conf.py, run for real: it serves, writes one access line per
request with the request's id, and stops gracefully on SIGTERM."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_gunicorn_conf_serves_logs_request_ids_and_stops_gracefully(tmp_path):
    port = free_port()
    env = {
        **os.environ,
        "SECRET_KEY": "gunicorn-test",
        "DATABASE_URL": f"sqlite:///{tmp_path}/unused.sqlite3",
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": "1",
    }
    gunicorn = Path(sys.executable).with_name("gunicorn")
    server = subprocess.Popen(
        [str(gunicorn), "trophy_site.wsgi:application"],  # ./gunicorn.conf.py, read by default
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        for _ in range(100):
            try:
                response = httpx.get(
                    f"http://127.0.0.1:{port}/healthz", headers={"X-Request-ID": "gunicorn-77"}
                )
                break
            except httpx.TransportError:
                assert server.poll() is None, server.stdout.read() if server.stdout else ""
                time.sleep(0.1)
        assert response.status_code == 200 and response.headers["X-Request-ID"] == "gunicorn-77"
        server.send_signal(signal.SIGTERM)
        output, _ = server.communicate(timeout=40)
    finally:
        if server.poll() is None:
            server.kill()
    assert server.returncode == 0, output
    access = [line for line in output.splitlines() if "GET /healthz" in line]
    assert access and access[0].endswith("[gunicorn-77]"), output
    assert "Shutting down" in output or "Handling signal: term" in output


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_revoked_key_stops_working_on_every_worker_at_once(owner):
    """Two gunicorn worker processes: once a key is revoked, the next request on either
    is refused (authentication reads the key's row on every request; nothing is cached)."""
    from django.db import connection
    from django.utils import timezone

    from events.models import ApiKey

    database = connection.settings_dict
    url = f"postgres://{database['USER']}@{database['HOST']}:{database['PORT'] or 5432}/{database['NAME']}"
    port = free_port()
    env = {
        **os.environ,
        "SECRET_KEY": "gunicorn-test",
        "DATABASE_URL": url,
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": "2",
        "GUNICORN_ACCESS_LOG": "",
    }
    gunicorn = Path(sys.executable).with_name("gunicorn")
    server = subprocess.Popen(
        [str(gunicorn), "trophy_site.wsgi:application"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    headers = {"X-API-KEY": owner.key}
    try:
        for _ in range(100):
            try:
                httpx.get(f"{base}/healthz")
                break
            except httpx.TransportError:
                time.sleep(0.1)
        # New connections each time, so both workers take requests.
        before = [httpx.get(f"{base}/v1/users/nobody", headers=headers) for _ in range(20)]
        ApiKey.objects.filter(organization=owner.organization).update(revoked_at=timezone.now())
        after = [httpx.get(f"{base}/v1/users/nobody", headers=headers) for _ in range(20)]
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=40)
    assert {r.status_code for r in before} == {404}, output  # authenticated, no such user
    assert {r.status_code for r in after} == {401}, output
    assert all("revoked" in r.json()["error"] for r in after)
    workers = set(re.findall(r"Booting worker with pid: (\d+)", output))
    assert len(workers) == 2, output
