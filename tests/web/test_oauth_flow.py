"""Connecting Google and Microsoft through the web app, against the local
stand-ins (the only way they are tested): consent, callback, state check,
encrypted tokens, sync, refresh, revocation and the reconnect button."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from calmesh.auth import crypto
from calmesh.models import Connection, Occurrence
from calmesh.services import sync
from tests.conftest import CSRF, signed_in_client


@pytest.fixture(params=["google", "microsoft"])
def standin(request):
    return request.getfixturevalue(f"{request.param}_standin"), request.param


def consent(app, client, kind: str, url: str):
    """Follow the consent page as a browser would, and land on our callback."""
    answer = httpx.get(url, follow_redirects=False)
    assert answer.status_code in (302, 303)
    back = urlsplit(answer.headers["location"])
    assert back.path == f"/oauth/callback/{kind}"
    return client.get(f"{back.path}?{back.query}")


def test_connect_sync_refresh_revoke_and_reconnect(app, alice, standin):
    stand, kind = standin
    app.config["CALMESH"]._values.update(stand.config_overrides())
    client = signed_in_client(app, alice)
    # Start from the dashboard: it sends the browser to the consent page.
    started = client.post(f"/connections/add/{kind}", data={"name": "Work", "csrf_token": CSRF})
    assert started.status_code == 302
    url = started.headers["Location"]
    query = parse_qs(urlsplit(url).query)
    assert query["redirect_uri"][0].endswith(f"/oauth/callback/{kind}") and query["state"][0]
    connection = Connection.get(Connection.user == alice)
    assert connection.status == "auth_required"

    landed = consent(app, client, kind, url)
    assert landed.status_code == 302 and landed.headers["Location"].endswith("/connections")
    connection = Connection.get_by_id(connection.id)
    assert connection.status == "pending"
    token = crypto.decrypt(connection.credentials)
    assert token["refresh_token"] and token["access_token"]
    assert token["access_token"] not in connection.credentials  # encrypted at rest

    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=3)
    stand.add_event(stand.primary, "Planning", start, start + timedelta(hours=1))
    assert sync.sync_connection(connection.id).status == "ok"
    assert [o.summary for o in Occurrence.select()] == ["Planning"]

    # The access token expires: the next sync refreshes it and saves the new one.
    before = crypto.decrypt(Connection.get_by_id(connection.id).credentials)
    stand.expire_access_tokens()
    assert sync.sync_connection(connection.id).status == "ok"
    after = crypto.decrypt(Connection.get_by_id(connection.id).credentials)
    assert after["access_token"] != before["access_token"]

    # Access revoked at the provider: the connection waits for its owner.
    stand.revoke()
    stand.expire_access_tokens()
    report = sync.sync_connection(connection.id)
    assert report.status == "auth_required"
    assert [o.summary for o in Occurrence.select()] == ["Planning"]  # last good events kept
    page = client.get("/connections").get_data(as_text=True)
    assert "Reconnect" in page

    # The reconnect button asks for consent again, for the same connection.
    again = client.post(f"/connections/{connection.id}/reconnect", data={"csrf_token": CSRF})
    assert again.status_code == 302
    consent(app, client, kind, again.headers["Location"])
    assert Connection.get_by_id(connection.id).status == "pending"
    assert sync.sync_connection(connection.id).status == "ok"
    assert Connection.select().count() == 1


def test_a_tampered_state_is_refused(app, alice, google_standin):
    app.config["CALMESH"]._values.update(google_standin.config_overrides())
    client = signed_in_client(app, alice)
    answer = client.get("/oauth/callback/google?code=abc&state=forged")
    assert answer.status_code == 400
    assert "Traceback" not in answer.get_data(as_text=True)


def test_refused_consent_is_shown_on_the_connection(app, alice, google_standin):
    app.config["CALMESH"]._values.update(google_standin.config_overrides())
    google_standin.deny_consent = True
    client = signed_in_client(app, alice)
    url = client.post("/connections/add/google", data={"name": "G", "csrf_token": CSRF}).headers[
        "Location"
    ]
    consent(app, client, "google", url)
    connection = Connection.get(Connection.user == alice)
    assert connection.status == "auth_required" and "consent not given" in connection.last_error
