"""Start-up fails loudly, naming the variable, when a setting is missing or malformed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.processes import ROOT
from trophy_site.settings import database_from_url


def start(**env: str) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DEBUG", "DATABASE_URL"}
    }
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "trophy_site.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({}, "SECRET_KEY"),
        ({"SECRET_KEY": "x", "DEBUG": "maybe"}, "DEBUG"),
        ({"SECRET_KEY": "x", "DATABASE_URL": "mysql://db/x"}, "DATABASE_URL"),
        ({"SECRET_KEY": "x", "RATE_LIMIT_WRITES": "lots"}, "RATE_LIMIT_WRITES"),
        ({"SECRET_KEY": "x", "RATE_LIMIT_READS": "5/fortnight"}, "RATE_LIMIT_READS"),
        ({"SECRET_KEY": "x", "CACHE_URL": "memcached://c:11211"}, "CACHE_URL"),
        (
            {"SECRET_KEY": "x", "DATABASE_CONN_MAX_AGE": "soon", "DATABASE_URL": "postgres://h/db"},
            "DATABASE_CONN_MAX_AGE",
        ),
    ],
)
def test_bad_or_missing_setting_stops_start_up_naming_it(env, named):
    result = start(**env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and named in result.stderr


def test_debug_runs_without_a_secret_key():
    assert start(DEBUG="1").returncode == 0


def test_prepared_statements_can_be_turned_off_for_a_pooler(monkeypatch):
    monkeypatch.setenv("DATABASE_PREPARED_STATEMENTS", "0")
    pg = database_from_url("postgres://app@db.internal:6432/trophy?sslmode=require")
    assert pg["OPTIONS"] == {"sslmode": "require"}


def test_database_url_forms(monkeypatch):
    monkeypatch.delenv("DATABASE_PREPARED_STATEMENTS", raising=False)
    pg = database_from_url("postgres://app:s%40cret@db.internal:6432/trophy?sslmode=require")
    assert pg["ENGINE"] == "django.db.backends.postgresql"
    assert (pg["NAME"], pg["USER"], pg["PASSWORD"], pg["HOST"], pg["PORT"]) == (
        "trophy",
        "app",
        "s@cret",
        "db.internal",
        "6432",
    )
    assert pg["OPTIONS"] == {
        "sslmode": "require",
        "server_side_binding": True,
        "prepare_threshold": 5,
    }
    sqlite = database_from_url("sqlite:///var/test.sqlite3")
    assert sqlite["ENGINE"] == "django.db.backends.sqlite3"
    assert str(sqlite["NAME"]).endswith("var/test.sqlite3")


def env_file(path: Path) -> dict[str, str]:
    """KEY=value lines, as systemd's EnvironmentFile= reads them (no quotes used here)."""
    lines = path.read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


# The walk-through's settings (docs/deploy/trophy.env), with a real secret.
PRODUCTION = {
    **env_file(ROOT / "docs" / "deploy" / "trophy.env"),
    "SECRET_KEY": "a-production-secret-of-fifty-or-more-characters-0123456789abcdefghij",
}


def check_deploy(**env: str) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DEBUG", "DATABASE_URL"}
    }
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "trophy_site.settings", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_is_silent_with_production_settings():
    result = check_deploy(**PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "System check identified no issues (0 silenced)."
    assert result.stderr == ""  # drf-spectacular's schema warnings included


def test_check_deploy_names_what_production_lacks():
    without_https = {k: v for k, v in PRODUCTION.items() if not k.startswith("SECURE_")}
    result = check_deploy(**without_https)
    assert result.returncode != 0
    assert "security.W004" in result.stderr and "security.W008" in result.stderr


def test_the_proxy_header_must_be_a_header_name():
    result = start(SECRET_KEY="x", SECURE_PROXY_SSL_HEADER="X-Forwarded-Proto: https")
    assert result.returncode != 0 and "SECURE_PROXY_SSL_HEADER" in result.stderr
