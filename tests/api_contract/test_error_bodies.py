"""Errors Django answers before any view runs still have Trophy's error body (A5)."""

from __future__ import annotations

from .trophy_schema import assert_component


def test_disallowed_host_header_gets_a_json_400(api):
    # Found by schemathesis: a generated `Host` header produced Django's HTML 400 page.
    response = api.get("/v1/users/u1", HTTP_HOST="not-an-allowed-host.example")

    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/json")
    assert_component(response.json(), "ErrorBody")


def test_unknown_path_gets_a_json_404(api):
    response = api.get("/v1/no/such/path")

    assert response.status_code == 404
    assert_component(response.json(), "ErrorBody")
