"""The official Node SDK (`@trophyso/node`, pinned in node/package-lock.json) driven from
pytest: installing it, and running its calls against the live server through node/run.mjs.

Each `NodeSdk.run` starts one node process that makes the calls in order with the real
SDK client and reports what the SDK returned or raised. Every raw response it received is
also checked against Trophy's OpenAPI files, as conftest.Recorder does for the Python SDK.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .trophy_schema import assert_response_conforms

NODE_DIR = Path(__file__).with_name("node")
RUNNER = NODE_DIR / "run.mjs"
LOCK_FILE = NODE_DIR / "package-lock.json"
SDK_DIR = NODE_DIR / "node_modules" / "@trophyso" / "node"
# An SDK error that means our response (or the test's request) broke the SDK's schema,
# rather than an HTTP error status the SDK reports.
SCHEMA_ERRORS = {"ParseError", "JsonError", "UnknownMethod", "BadCall"}


def missing_tools() -> list[str]:
    return [tool for tool in ("node", "npm") if shutil.which(tool) is None]


def install_needed() -> bool:
    return not SDK_DIR.is_dir() or SDK_DIR.stat().st_mtime < LOCK_FILE.stat().st_mtime


def install() -> None:
    """`npm ci` from the lock file when the SDK is missing or older than the lock file.
    A lock held across the check and the install keeps parallel workers (xdist) from
    installing into the same folder at once."""
    digest = hashlib.sha256(str(NODE_DIR).encode()).hexdigest()[:16]
    lock_path = Path(tempfile.gettempdir()) / f"trophy-node-sdk-{digest}.lock"
    with lock_path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not install_needed():
            return
        done = subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=NODE_DIR,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"npm ci failed in {NODE_DIR}:\n{done.stdout}\n{done.stderr}")
        # Stamp the install newer than the lock file, whatever dates npm gave the files.
        os.utime(SDK_DIR)


@dataclass
class Exchange:
    method: str
    path: str
    status: int
    body: Any


@dataclass
class Outcome:
    """One SDK call: what it returned (`ok`, `value`) or raised (the rest)."""

    call: str
    ok: bool
    value: Any = None
    error_class: str | None = None
    status_code: int | None = None
    body: Any = None
    message: str | None = None
    exchanges: list[Exchange] = field(default_factory=list, repr=False)

    def describe(self) -> str:
        if self.ok:
            return f"{self.call} returned {json.dumps(self.value)[:2000]}"
        return (
            f"{self.call} raised {self.error_class} (status {self.status_code}):\n"
            f"{self.message}\nbody: {json.dumps(self.body)[:2000]}"
        )


Call = tuple[Any, ...]  # ("users.get", "u1"): the SDK method, then its positional arguments


@dataclass
class NodeSdk:
    """A Node SDK client for one API key (and optional Tenant-ID) on `base_url`."""

    base_url: str
    api_key: str
    tenant_id: str | None = None
    exchanges: list[Exchange] = field(default_factory=list, repr=False)

    @property
    def last(self) -> Exchange:
        assert self.exchanges, "no request was made"
        return self.exchanges[-1]

    def run(self, *calls: Call) -> list[Outcome]:
        """Make `calls` in order in one node process; one Outcome each."""
        request = {
            "baseUrl": self.base_url,
            "apiKey": self.api_key,
            "tenantId": self.tenant_id,
            "calls": [{"method": method, "args": list(args)} for method, *args in calls],
        }
        done = subprocess.run(
            ["node", str(RUNNER)],
            input=json.dumps(request),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, f"node runner failed ({done.returncode}):\n{done.stderr}"
        results = json.loads(done.stdout)["results"]
        outcomes = [
            self._outcome(call, result) for call, result in zip(calls, results, strict=True)
        ]
        for outcome in outcomes:
            for exchange in outcome.exchanges:
                self.exchanges.append(exchange)
                try:
                    assert_response_conforms(
                        exchange.method, exchange.path, exchange.status, exchange.body
                    )
                except AssertionError as problem:
                    raise AssertionError(f"{problem}\n(Node SDK: {outcome.describe()})") from None
        return outcomes

    def call(self, method: str, *args: Any) -> Any:
        """What the SDK returned; fails with the SDK's error text when it raised."""
        (outcome,) = self.run((method, *args))
        assert outcome.ok, outcome.describe()
        return outcome.value

    def error(self, method: str, *args: Any) -> Outcome:
        """The SDK's error for a call that must fail with an HTTP error status; fails when it
        succeeded or when the SDK could not parse the response (ParseError)."""
        (outcome,) = self.run((method, *args))
        assert not outcome.ok, outcome.describe()
        assert outcome.error_class not in SCHEMA_ERRORS, outcome.describe()
        return outcome

    @staticmethod
    def _outcome(call: Call, result: dict[str, Any]) -> Outcome:
        method, *args = call
        exchanges = []
        for raw in result.get("exchanges", []):
            # A body that is not JSON fails here, with the text the server sent.
            assert "text" not in raw and str(raw["contentType"]).startswith("application/json"), (
                f"{raw['method']} {raw['url']} -> {raw['status']}: not JSON: {raw}"
            )
            path = urlsplit(raw["url"]).path
            exchanges.append(Exchange(raw["method"], path, raw["status"], raw["body"]))
        return Outcome(
            call=f"{method}({', '.join(json.dumps(a) for a in args)})",
            ok=result["ok"],
            value=result.get("value"),
            error_class=result.get("errorClass"),
            status_code=result.get("statusCode"),
            body=result.get("body"),
            message=result.get("message"),
            exchanges=exchanges,
        )
