"""Outgoing links on the trusted origin only, and redirect targets on this site only.

Host-header poisoning replayed: with ``server.base_url`` empty, a visitor sends
``Host: evil.example``; the visitor's confirmation (a manage link with a valid
token), the owner's poll notification and API answers must still point at the
origin the owner set the instance up on.
"""

from __future__ import annotations

import pytest
from flask import current_app

from calmesh.auth import setup as first_run
from calmesh.jobs.outbox import process_due
from calmesh.models import MailMessage, User
from calmesh.urls import external_url, listen_origin, local_path, trusted_origin
from tests.conftest import CSRF, make_user, signed_in_client
from tests.web.test_polls import cast
from tests.web.test_polls import create as create_poll
from tests.web.test_public_booking import berlin, make_page, post_booking

TRUSTED = "https://cal.example.test"
EVIL = {"HTTP_HOST": "evil.example", "HTTP_X_FORWARDED_HOST": "evil.example"}


@pytest.fixture
def alice(app):
    """alice, made on the first-run page opened at the trusted origin."""
    client = app.test_client()
    with client.session_transaction(base_url=TRUSTED) as session:
        session["csrf"] = CSRF
    fields = {
        "email": "alice@example.org",
        "handle": "alice",
        "password": "alice-password-123",
        "timezone": "Europe/Berlin",
        "csrf_token": CSRF,
    }
    created = client.post(f"/setup?token={first_run.setup_token()}", data=fields, base_url=TRUSTED)
    assert created.status_code == 302
    return User.get(User.handle == "alice")


def with_host(client, environ: dict[str, str]):
    """``client`` with every request's Host (and X-Forwarded-Host) replaced: the
    test client would otherwise put its own Host over ``environ_base``'s."""
    plain_open = client.open

    def open_(*args, **kw):
        kw["environ_overrides"] = {**kw.get("environ_overrides", {}), **environ}
        return plain_open(*args, **kw)

    client.open = open_
    return client


def evil_client(app):
    client = with_host(app.test_client(), EVIL)
    assert client.get("/login").request.host == "evil.example"
    return client


def mails_to(address: str) -> list[str]:
    process_due(current_app)
    return [m.body for m in MailMessage.select().where(MailMessage.to_address == address)]


def test_the_first_run_fixes_the_origin_of_links(app, alice):
    assert trusted_origin() == TRUSTED
    assert external_url("public.poll_page", poll_id="x") == f"{TRUSTED}/p/x"


def test_without_any_origin_links_use_the_listen_address(app):
    assert trusted_origin() == listen_origin(app.config["CALMESH"]) == "http://127.0.0.1:8000"


def test_base_url_wins_over_the_recorded_origin(app, alice):
    app.config["CALMESH"]._values["server.base_url"] = "https://book.example.org/"
    assert external_url("public.poll_page", poll_id="x") == "https://book.example.org/p/x"


def test_a_poisoned_host_never_reaches_the_visitors_confirmation(app, alice):
    make_page(alice)
    visitor = evil_client(app)
    assert post_booking(visitor, berlin(10)).status_code == 303
    (confirmation,) = mails_to("vera@example.org")
    assert f"{TRUSTED}/b/" in confirmation and "token=" in confirmation
    assert "evil.example" not in confirmation
    (owner_mail,) = mails_to("alice@example.org")
    assert "evil.example" not in owner_mail


def test_a_poisoned_host_never_reaches_the_owners_poll_notification(app, alice):
    poll = create_poll(signed_in_client(app, alice))
    assert cast(evil_client(app), poll, "Mallory", ["yes"], email="m@example.net").status_code
    (notification,) = mails_to("alice@example.org")
    assert f"Results: {TRUSTED}/polls/{poll.public_id}" in notification
    (edit_link,) = mails_to("m@example.net")
    assert f"{TRUSTED}/p/{poll.public_id}?token=" in edit_link
    assert "evil.example" not in notification + edit_link


def test_a_poisoned_host_never_reaches_api_answers(app, alice, api_as):
    make_page(alice)
    evil = api_as(alice, "full")
    with_host(evil.client, EVIL)
    booked = evil.post(
        "/api/v1/booking-pages/intro/book",
        json={
            "start": berlin(11).isoformat(),
            "attendee": {"name": "Vera", "email": "vera@example.org", "timezone": "UTC"},
            "answers": {"company": "Acme"},
        },
    )
    assert booked.status_code == 201, booked.get_json()
    assert booked.get_json()["manage_url"].startswith(f"{TRUSTED}/b/")
    page = evil.get("/api/v1/booking-pages/intro").get_json()
    assert page["url"] == f"{TRUSTED}/alice/intro"
    assert f'src="{TRUSTED}/embed.js"' in page["embed_snippet"]
    calendar = evil.patch("/api/v1/calendars/work", json={"feed_mode": "busy"}).get_json()
    assert calendar["feed_url"].startswith(f"{TRUSTED}/feeds/")
    assert "evil.example" not in booked.get_data(as_text=True) + str(page) + str(calendar)


def test_a_later_sign_in_elsewhere_does_not_move_the_origin(app, alice):
    sign_in(app, "alice", "alice-password-123", "evil.example")
    assert trusted_origin() == TRUSTED


@pytest.mark.parametrize(
    "target",
    [
        "/\t/evil.example/x",  # ?next=/%09/evil.example/x, as Flask decodes it
        "/\r/x",
        "/\n/evil.example",
        "/\\evil.example",
        "\\\\evil.example",
        "//evil.example",
        "///evil.example",
        "/%2F/evil.example",
        "/%5Cevil.example",
        "https://evil.example",
        "javascript:alert(1)",
        "evil.example/x",
        " /x",
        "/x\x00",
        "/x\u2028",
        "",
        None,
    ],
)
def test_local_path_refuses_every_way_off_the_site(target):
    assert local_path(target) is None


@pytest.mark.parametrize(
    "target", ["/dashboard", "/bookings?status=pending&p=2", "/polls/x?q=John%20Doe", "/"]
)
def test_local_path_keeps_paths_of_this_site(target):
    assert local_path(target) == target


def sign_in(app, login: str, password: str, host: str) -> None:
    client = with_host(app.test_client(), {"HTTP_HOST": host})
    with client.session_transaction(environ_overrides={"HTTP_HOST": host}) as session:
        session["csrf"] = CSRF
    form = {"login": login, "password": password, "csrf_token": CSRF}
    signed_in = client.post("/login", data=form)
    assert signed_in.status_code == 302 and signed_in.request.host == host


def test_an_owner_made_on_the_command_line_fixes_the_origin_at_first_sign_in(app):
    owner, other = make_user("olivia"), make_user("mallory")
    # Another user signs in first, through a Host of their choosing: nothing moves.
    sign_in(app, "mallory", "mallory-password-123", "evil.example")
    assert trusted_origin() == "http://127.0.0.1:8000"
    sign_in(app, "olivia", "olivia-password-123", "cal.example.test")
    assert trusted_origin() == "http://cal.example.test"
    sign_in(app, "olivia", "olivia-password-123", "elsewhere.example")
    assert trusted_origin() == "http://cal.example.test"
    assert owner.is_owner and not other.is_owner
