"""API keys from the dashboard: shown once, listed by prefix, revocable."""

from __future__ import annotations

import re

from calmesh.models import ApiKey
from tests.conftest import CSRF, signed_in_client


def test_create_key_shows_it_once(app, alice):
    client = signed_in_client(app, alice)
    response = client.post(
        "/api-keys",
        data={"name": "cli", "scope": "full", "expires_days": "30", "csrf_token": CSRF},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    key = re.search(r"(cm_live_[A-Za-z0-9_-]+)", html).group(1)
    assert "<html" not in html  # an htmx fragment, not the page
    row = ApiKey.get(ApiKey.user == alice)
    assert (row.name, row.scope, row.prefix) == ("cli", "full", key[:12])
    assert row.expires_at is not None
    assert key not in client.get("/api-keys").get_data(as_text=True)


def test_create_key_form_errors_keep_nothing(app, alice):
    client = signed_in_client(app, alice)
    response = client.post(
        "/api-keys", data={"name": "x", "scope": "root", "expires_days": "7", "csrf_token": CSRF}
    )
    assert response.status_code == 400
    assert ApiKey.select().count() == 0


def test_revoke_from_the_dashboard(app, alice, bob):
    from calmesh.auth import apikeys

    row, _ = apikeys.create(alice, "old", "read")
    bobs, _ = apikeys.create(bob, "bob", "read")
    client = signed_in_client(app, alice)
    assert client.post(f"/api-keys/{row.id}/revoke", data={"csrf_token": CSRF}).status_code == 302
    assert ApiKey.get_by_id(row.id).status == "revoked"
    client.post(f"/api-keys/{bobs.id}/revoke", data={"csrf_token": CSRF})
    assert ApiKey.get_by_id(bobs.id).status == "active"
