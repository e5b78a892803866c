"""The first-run page opens only with the one-time setup token, whoever asks.

Replays of the takeover: a request relayed by an SSH tunnel, socat or a proxy
that sends only CF-Connecting-IP/True-Client-IP arrives from 127.0.0.1, exactly
like one from this machine, and must not create the owner.
"""

from __future__ import annotations

import pytest

from calmesh.auth import setup as first_run
from calmesh.models import InstanceSetting, User
from tests.conftest import CSRF, make_user, run_cli, server_env

FIELDS = {
    "email": "mallory@example.org",
    "handle": "mallory",
    "password": "mallory-pass-123",
    "timezone": "UTC",
    "csrf_token": CSRF,
}
RELAYED = {
    "no proxy header (SSH tunnel, socat)": {},
    "CF-Connecting-IP": {"CF-Connecting-IP": "203.0.113.9"},
    "True-Client-IP": {"True-Client-IP": "203.0.113.9"},
    "X-Forwarded-For claiming loopback": {"X-Forwarded-For": "127.0.0.1"},
}


def client_with_csrf(app):
    client = app.test_client()
    with client.session_transaction() as session:
        session["csrf"] = CSRF
    return client


@pytest.mark.parametrize("headers", RELAYED.values(), ids=RELAYED.keys())
def test_a_request_from_loopback_without_the_token_cannot_create_the_owner(app, headers):
    client = client_with_csrf(app)
    loopback = {"environ_base": {"REMOTE_ADDR": "127.0.0.1"}, "headers": headers}
    assert client.get("/setup", **loopback).status_code == 403
    for path in ("/setup", "/setup?token=", "/setup?token=0123456789abcdef0123456789abcdef"):
        refused = client.post(path, data=FIELDS, **loopback)
        assert refused.status_code == 403, path
        assert "setup token" in refused.get_data(as_text=True)
    refused = client.post("/setup", data={**FIELDS, "token": "guess"}, **loopback)
    assert refused.status_code == 403
    assert User.select().count() == 0


def test_with_the_token_the_owner_is_created_from_anywhere(app):
    token = first_run.setup_token()
    assert len(token) == 32
    remote = {"environ_base": {"REMOTE_ADDR": "203.0.113.9"}}
    client = client_with_csrf(app)
    assert client.get(f"/setup?token={token}", **remote).status_code == 200
    created = client.post(f"/setup?token={token}", data=FIELDS, **remote)
    assert created.status_code == 302 and created.headers["Location"].endswith("/dashboard")
    assert User.get().handle == "mallory"


def test_the_token_stops_working_once_the_owner_exists(app):
    token = first_run.setup_token()
    client = client_with_csrf(app)
    assert client.post(f"/setup?token={token}", data=FIELDS).status_code == 302
    assert first_run.setup_token() is None
    assert InstanceSetting.read(InstanceSetting.SETUP_NONCE) is None
    # Even were every account gone again, the old link (in old logs) stays dead.
    User.delete().execute()
    assert not first_run.token_is_valid(token)
    fresh = client_with_csrf(app)
    assert fresh.post(f"/setup?token={token}", data={**FIELDS, "handle": "m2"}).status_code == 403
    assert User.select().count() == 0


def test_create_user_also_ends_the_token(app):
    token = first_run.setup_token()
    make_user("alice")
    assert not first_run.token_is_valid(token)
    assert InstanceSetting.read(InstanceSetting.SETUP_NONCE) is None


def test_the_token_is_random_the_same_for_every_worker_and_can_be_renewed(app):
    token = first_run.setup_token()
    assert first_run.setup_token() == token  # what another worker or host prints
    assert token not in InstanceSetting.read(InstanceSetting.SETUP_NONCE)
    renewed = first_run.setup_token(renew=True)
    assert renewed != token
    assert first_run.token_is_valid(renewed) and not first_run.token_is_valid(token)


def test_init_and_setup_url_print_the_link_and_new_makes_another(tmp_path):
    env = server_env(tmp_path, CALMESH_SERVER_BASE_URL="https://cal.example.org")
    init = run_cli("init", env=env)
    assert init.returncode == 0, init.stderr
    printed = init.stdout.strip().splitlines()[-1]
    assert printed.startswith(
        "No account yet. Create the owner at https://cal.example.org/setup?token="
    )
    url = printed.rsplit(" ", 1)[1]
    again = run_cli("setup-url", env=env)
    assert again.returncode == 0 and again.stdout.strip() == url
    renewed = run_cli("setup-url", "--new", env=env)
    assert renewed.returncode == 0
    assert "previous link no longer works" in renewed.stdout
    new_url = renewed.stdout.strip().splitlines()[-1]
    assert new_url.startswith("https://cal.example.org/setup?token=") and new_url != url

    made = run_cli("create-user", "--email", "o@example.org", "--handle", "olivia", env=env)
    assert made.returncode == 0, made.stderr
    over = run_cli("setup-url", env=env)
    assert over.returncode == 2 and over.stderr.startswith("error: an account exists already")
    assert "No account yet" not in run_cli("init", env=env).stdout
