"""Connecting Google and Microsoft through the web app, against the local
stand-ins (the only way they are tested): consent, callback, state check,
encrypted tokens, sync, refresh, revocation and the reconnect button."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, quote, urlsplit

import httpx
import pytest

from calmesh.auth import crypto
from calmesh.models import Connection, Occurrence
from calmesh.services import sync
from tests.conftest import CSRF, signed_in_client
from tests.settings import cfg


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
    assert sync.sync_connection(connection.id, cfg()).status == "ok"
    assert [o.summary for o in Occurrence.select()] == ["Planning"]

    # The access token expires: the next sync refreshes it and saves the new one.
    before = crypto.decrypt(Connection.get_by_id(connection.id).credentials)
    stand.expire_access_tokens()
    assert sync.sync_connection(connection.id, cfg()).status == "ok"
    after = crypto.decrypt(Connection.get_by_id(connection.id).credentials)
    assert after["access_token"] != before["access_token"]

    # Access revoked at the provider: the connection waits for its owner.
    stand.revoke()
    stand.expire_access_tokens()
    report = sync.sync_connection(connection.id, cfg())
    assert report.status == "auth_required"
    assert [o.summary for o in Occurrence.select()] == ["Planning"]  # last good events kept
    page = client.get("/connections").get_data(as_text=True)
    assert "Reconnect" in page

    # The reconnect button asks for consent again, for the same connection.
    again = client.post(f"/connections/{connection.id}/reconnect", data={"csrf_token": CSRF})
    assert again.status_code == 302
    consent(app, client, kind, again.headers["Location"])
    assert Connection.get_by_id(connection.id).status == "pending"
    assert sync.sync_connection(connection.id, cfg()).status == "ok"
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


# --- the consent is bound to the user and browser that started it (issue 11, item 1) ----------


def callback_of(kind: str, url: str) -> str:
    """The callback path and query the provider sends a browser to after consent."""
    answer = httpx.get(url, follow_redirects=False)
    back = urlsplit(answer.headers["location"])
    assert back.path == f"/oauth/callback/{kind}"
    return f"{back.path}?{back.query}"


def untouched(connection: Connection) -> None:
    row = Connection.get_by_id(connection.id)
    assert crypto.decrypt(row.credentials) == {}, "no tokens may be stored"
    assert (row.status, row.last_error) == ("auth_required", "waiting for consent")


def sign_in_through_the_form(client, user, next_path: str):
    """The real login form, with the ``next`` the callback sent the browser to."""
    import re

    page = client.get(f"/login?next={quote(next_path)}").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    return client.post(
        f"/login?next={quote(next_path)}",
        data={"login": user.handle, "password": f"{user.handle}-password-123", "csrf_token": token},
    )


def test_a_consent_link_from_the_api_completed_by_another_user_stores_nothing(
    app, alice, bob, api_as, standin
):
    """The attack: alice starts connecting with her API key and sends the consent
    link to bob; bob's tokens must not land in alice's connection."""
    stand, kind = standin
    app.config["CALMESH"]._values.update(stand.config_overrides())
    started = api_as(alice, "full").post(f"/api/v1/connections/{kind}", json={"name": "Trap"})
    assert started.status_code == 201
    url = started.get_json()["authorization_url"]
    connection = Connection.get_by_id(started.get_json()["connection"]["id"])

    # bob, signed in, gives consent and comes back: refused, nothing stored.
    refused = signed_in_client(app, bob).get(callback_of(kind, url))
    assert refused.status_code == 403
    assert "another CalMesh account" in refused.get_data(as_text=True)
    untouched(connection)
    assert Connection.select().where(Connection.user == bob).count() == 0

    # An anonymous browser is asked to sign in first, and then refused all the same.
    anonymous = app.test_client()
    path = callback_of(kind, url)
    answer = anonymous.get(path)
    assert answer.status_code == 302 and "/login?next=" in answer.headers["Location"]
    signed_in = sign_in_through_the_form(anonymous, bob, path)
    assert signed_in.status_code == 302 and signed_in.headers["Location"] == path
    assert anonymous.get(path).status_code == 403
    untouched(connection)

    # alice herself, signed in in any browser (the API bound no browser), completes it.
    done = signed_in_client(app, alice).get(callback_of(kind, url))
    assert done.status_code == 302 and done.headers["Location"].endswith("/connections")
    assert crypto.decrypt(Connection.get_by_id(connection.id).credentials)["refresh_token"]


def test_signing_in_first_then_continuing_completes_the_connection(app, alice, api_as, standin):
    stand, kind = standin
    app.config["CALMESH"]._values.update(stand.config_overrides())
    started = api_as(alice, "full").post(f"/api/v1/connections/{kind}", json={"name": "Work"})
    path = callback_of(kind, started.get_json()["authorization_url"])

    browser = app.test_client()
    assert "/login?next=" in browser.get(path).headers["Location"]
    assert sign_in_through_the_form(browser, alice, path).headers["Location"] == path
    assert browser.get(path).headers["Location"].endswith("/connections")
    connection = Connection.get_by_id(started.get_json()["connection"]["id"])
    assert connection.status == "pending" and crypto.decrypt(connection.credentials)


def test_a_consent_started_in_the_dashboard_completes_only_in_that_browser(
    app, alice, bob, standin
):
    stand, kind = standin
    app.config["CALMESH"]._values.update(stand.config_overrides())
    browser = signed_in_client(app, alice)
    started = browser.post(f"/connections/add/{kind}", data={"name": "Work", "csrf_token": CSRF})
    url = started.headers["Location"]
    connection = Connection.get(Connection.user == alice)

    assert signed_in_client(app, bob).get(callback_of(kind, url)).status_code == 403
    untouched(connection)
    # alice signed in elsewhere (or someone holding a copy of her password) is another browser.
    elsewhere = signed_in_client(app, alice).get(callback_of(kind, url))
    assert elsewhere.status_code == 403
    assert "another browser" in elsewhere.get_data(as_text=True)
    untouched(connection)

    assert browser.get(callback_of(kind, url)).headers["Location"].endswith("/connections")
    assert Connection.get_by_id(connection.id).status == "pending"


def test_a_consent_started_by_api_from_a_browser_session_is_bound_to_that_browser(
    app, alice, alice_session, google_standin
):
    app.config["CALMESH"]._values.update(google_standin.config_overrides())
    started = alice_session.post("/api/v1/connections/google", json={"name": "Work"})
    url = started.get_json()["authorization_url"]
    connection = Connection.get_by_id(started.get_json()["connection"]["id"])

    assert signed_in_client(app, alice).get(callback_of("google", url)).status_code == 403
    untouched(connection)
    assert alice_session.get(callback_of("google", url)).status_code == 302
    assert Connection.get_by_id(connection.id).status == "pending"


def test_a_consent_answer_is_used_once(app, alice, standin):
    stand, kind = standin
    app.config["CALMESH"]._values.update(stand.config_overrides())
    browser = signed_in_client(app, alice)
    url = browser.post(f"/connections/add/{kind}", data={"name": "W", "csrf_token": CSRF}).headers[
        "Location"
    ]
    path = callback_of(kind, url)
    assert browser.get(path).status_code == 302
    stored = Connection.get(Connection.user == alice).credentials

    # The same answer again (a replay from the history or a log), and the same state
    # with a fresh code: refused, the stored tokens stay as they were.
    again = browser.get(path)
    assert again.status_code == 400 and "used already" in again.get_data(as_text=True)
    assert browser.get(callback_of(kind, url)).status_code == 400
    assert Connection.get(Connection.user == alice).credentials == stored


def test_a_declined_consent_from_another_user_leaves_the_connection_alone(
    app, alice, bob, api_as, google_standin
):
    app.config["CALMESH"]._values.update(google_standin.config_overrides())
    google_standin.deny_consent = True
    started = api_as(alice, "full").post("/api/v1/connections/google", json={"name": "G"})
    path = callback_of("google", started.get_json()["authorization_url"])
    assert signed_in_client(app, bob).get(path).status_code == 403
    untouched(Connection.get_by_id(started.get_json()["connection"]["id"]))
