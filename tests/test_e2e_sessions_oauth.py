"""End to end against a real ``serve`` with several workers: the OAuth consent
link sent to another user (issue 11, item 1) and cookies stolen before a
logout (item 8), replayed over HTTP as an attacker would."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import start_server, stop_server
from tests.standins.google import GoogleStandIn

pytestmark = pytest.mark.slow

USERS = ("alice", "bob")


@pytest.fixture(scope="module")
def google():
    with GoogleStandIn() as standin:
        yield standin


@pytest.fixture(scope="module")
def server(tmp_path_factory, google):
    live = start_server(tmp_path_factory.mktemp("e2e-auth"), workers=3, **google.env())
    for handle in USERS:
        made = live.cli(
            "create-user",
            "--email",
            f"{handle}@example.org",
            "--handle",
            handle,
            "--password",
            f"{handle}-password-123",
        )
        assert made.returncode == 0, made.stderr
    yield live
    stop_server(live)


def api_key(server, handle: str) -> str:
    made = server.cli("create-api-key", "--user", handle, "--scope", "full")
    assert made.returncode == 0, made.stderr
    return made.stdout.strip().splitlines()[-1]


def consent_answer(url: str) -> str:
    """The provider's redirect back to CalMesh after consent (path and query)."""
    answer = httpx.get(url, follow_redirects=False)
    location = httpx.URL(answer.headers["location"])
    return f"{location.path}?{location.query.decode()}"


def test_a_consent_link_sent_to_another_user_stores_nothing(server, web_login):
    alice_api = httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {api_key(server, 'alice')}"}
    )
    started = alice_api.post("/api/v1/connections/google", json={"name": "Trap"})
    assert started.status_code == 201, started.text
    url, connection_id = started.json()["authorization_url"], started.json()["connection"]["id"]

    bob = web_login(server, "bob", "bob-password-123")
    refused = bob.get(consent_answer(url))
    assert refused.status_code == 403 and "another CalMesh account" in refused.text
    anonymous = httpx.Client(base_url=server.url).get(consent_answer(url))
    assert anonymous.status_code == 302 and "/login?next=" in anonymous.headers["location"]

    waiting = alice_api.get(f"/api/v1/connections/{connection_id}").json()
    assert (waiting["status"], waiting["last_error"]) == ("auth_required", "waiting for consent")
    assert bob.get("/api/v1/connections").json()["data"] == []

    alice = web_login(server, "alice", "alice-password-123")
    done = alice.get(consent_answer(url))
    assert done.status_code == 302 and done.headers["location"].endswith("/connections")
    assert alice_api.get(f"/api/v1/connections/{connection_id}").json()["status"] != (
        "auth_required"
    )
    alice_api.close()


def test_cookies_copied_before_logout_are_refused_by_every_worker(server, web_login):
    alice = web_login(server, "alice", "alice-password-123")
    stolen = dict(alice.cookies)
    thief = httpx.Client(base_url=server.url, cookies=stolen)
    # Several requests, so that every worker answers some of them.
    assert all(thief.get("/api/v1/me").status_code == 200 for _ in range(6))

    out = alice.post("/logout", data={"csrf_token": alice.headers["X-CSRF-Token"]})
    assert out.status_code == 302
    assert all(thief.get("/api/v1/me").status_code == 401 for _ in range(6))
    thief.close()
