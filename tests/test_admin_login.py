"""The Django admin's login resists password guessing (django-axes), and the admin can
live at another path (ADMIN_URL)."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client

LOGIN = "/admin/login/"


@pytest.fixture
def operator(db):
    return get_user_model().objects.create_superuser("ops", "ops@example.com", "right-password")


def attempt(client: Client, password: str, address: str = "203.0.113.7") -> int:
    response = client.post(LOGIN, {"username": "ops", "password": password}, REMOTE_ADDR=address)
    return response.status_code


def test_repeated_failures_lock_the_username_out_from_that_address(operator, settings):
    assert settings.AXES_FAILURE_LIMIT == 5
    client = Client()
    assert [attempt(client, f"guess-{n}") for n in range(4)] == [200] * 4  # the form again
    assert attempt(client, "guess-5") == 429  # the fifth failure locks
    # Locked: even the right password is refused, from that address...
    assert attempt(client, "right-password") == 429
    # ...but not from another one.
    assert attempt(Client(), "right-password", address="198.51.100.1") == 302

    call_command("axes_reset", verbosity=0)  # what an operator runs to lift it
    assert attempt(Client(), "right-password") == 302


def test_a_success_resets_the_count(operator):
    client = Client()
    assert [attempt(client, "wrong") for _ in range(4)] == [200] * 4
    assert attempt(Client(), "right-password") == 302
    assert [attempt(Client(), "wrong") for _ in range(4)] == [200] * 4  # counting from 0


def test_the_admin_path_is_configurable():
    import subprocess
    import sys

    from tests.processes import ROOT

    code = "import django; django.setup(); from django.urls import reverse; print(reverse('admin:index'))"
    env = {"SECRET_KEY": "x", "ADMIN_URL": "ops/console/", "PATH": "/usr/bin:/bin"}
    moved = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": "trophy_site.settings"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert moved.stdout.strip() == "/ops/console/", moved.stderr
    bad = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**env, "ADMIN_URL": "/admin", "DJANGO_SETTINGS_MODULE": "trophy_site.settings"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode != 0 and "ADMIN_URL" in bad.stderr


def test_behind_a_proxy_the_address_comes_from_the_header_it_sets(operator, settings):
    """Every request comes from the proxy's address; with CLIENT_IP_HEADER the lockout is
    per client address again, so guessing from one address does not lock out another."""
    settings.CLIENT_IP_HEADER = "X-Real-IP"
    proxy = "127.0.0.1"

    def via_proxy(password: str, client_address: str) -> int:
        response = Client().post(
            LOGIN,
            {"username": "ops", "password": password},
            REMOTE_ADDR=proxy,
            HTTP_X_REAL_IP=client_address,
        )
        return response.status_code

    assert [via_proxy(f"guess-{n}", "203.0.113.7") for n in range(5)] == [200] * 4 + [429]
    assert via_proxy("right-password", "203.0.113.7") == 429
    assert via_proxy("right-password", "198.51.100.1") == 302  # another client, same proxy


@pytest.mark.parametrize(
    ("header", "counted_as"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("198.51.100.9, 203.0.113.7", "203.0.113.7"),  # a list: the last, the proxy's own
        ("not-an-address", "127.0.0.1"),  # junk: the connection's address, never a 500
        ("", "127.0.0.1"),
    ],
)
def test_the_header_value_is_an_address_or_ignored(operator, settings, header, counted_as):
    from axes.models import AccessAttempt

    settings.CLIENT_IP_HEADER = "X-Forwarded-For"
    response = Client().post(
        LOGIN,
        {"username": "ops", "password": "wrong"},
        REMOTE_ADDR="127.0.0.1",
        HTTP_X_FORWARDED_FOR=header,
    )
    assert response.status_code == 200
    assert list(AccessAttempt.objects.values_list("ip_address", flat=True)) == [counted_as]
