"""Running the project's processes for real in tests: gunicorn with ./gunicorn.conf.py,
and the test database's address for such processes."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from django.db import connection

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
    yields it; afterwards `output` holds what it wrote (SIGTERM, unless stopped already).
    The output goes to a file, not a pipe: a full pipe would block the server."""
    port = free_port()
    with tempfile.TemporaryFile("w+") as out:
        process = subprocess.Popen(
            [str(Path(sys.executable).with_name("gunicorn")), "trophy_site.wsgi:application"],
            cwd=ROOT,
            env={
                **os.environ,
                "SECRET_KEY": "gunicorn-test",
                "GUNICORN_BIND": f"127.0.0.1:{port}",
                **env,
            },
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
        )
        server = Server(f"http://127.0.0.1:{port}", process)

        def output() -> str:
            out.seek(0)
            return out.read()

        try:
            for _ in range(300):
                try:
                    httpx.get(f"{server.base}/healthz")
                    break
                except httpx.TransportError:
                    assert process.poll() is None, output()
                    time.sleep(0.1)
            else:
                raise AssertionError(f"gunicorn did not answer in 30 s:\n{output()}")
            yield server
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=40)
            finally:
                if process.poll() is None:
                    process.kill()
                server.output = output()


def database_url() -> str:
    """The address of the (test) database this process uses, for a subprocess."""
    db = connection.settings_dict
    assert db["ENGINE"].endswith("postgresql"), db["ENGINE"]
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"


# `celery -A trophy_site worker`, with the broker's keys under a prefix given as the first
# argument (the test's own, see the `redis_broker` fixture); the other arguments are the
# worker's.
CELERY_WORKER = """
import sys
from trophy_site.celery import app
app.conf.broker_transport_options = {
    **(app.conf.broker_transport_options or {}), "global_keyprefix": sys.argv[1]
}
app.worker_main(["worker", *sys.argv[2:]])
"""
WORKER_ARGS = "--pool prefork --concurrency 1 --loglevel INFO --without-gossip --without-mingle"
WORKER_ARGS_THEN_NAME = [*WORKER_ARGS.split(), "--hostname"]


@contextmanager
def celery_worker(prefix: str, name: str, log: Path, **env: str) -> Iterator[subprocess.Popen[str]]:
    """A Celery worker process (prefork, one pool process) on the Redis at REDIS_URL and
    the test database, in its own process group; yielded once ready, killed after."""
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-c", CELERY_WORKER, prefix, *WORKER_ARGS_THEN_NAME, f"{name}@%h"],
            cwd=ROOT,
            env={
                **os.environ,
                "SECRET_KEY": "celery-test",
                "DATABASE_URL": database_url(),
                "CELERY_BROKER_URL": os.environ["REDIS_URL"],
                **env,
            },
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 60
        while " ready." not in log.read_text():
            assert process.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        yield process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
