"""calmesh.auth (the package): sign-in through flask-login by a session's token,
where an unsigned-in visitor is sent, and the CSRF check in front of every page's
change (the API checks its own)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from calmesh.auth import sessions
from calmesh.models import UserSession
from tests.conftest import CSRF, signed_in_client


def test_a_signed_out_visitor_is_sent_to_the_login_page_and_back(app):
    answer = app.test_client().get("/calendars?tab=feeds")

    assert answer.status_code == 302
    target = urlsplit(answer.headers["Location"])
    assert target.path == "/login"
    assert parse_qs(target.query)["next"] == ["/calendars?tab=feeds"]


def test_htmx_is_told_to_load_the_login_page_instead_of_swapping_it_in(app):
    answer = app.test_client().get("/calendars", headers={"HX-Request": "true"})

    assert answer.status_code == 302
    assert urlsplit(answer.headers["HX-Redirect"]).path == "/login"
    assert parse_qs(urlsplit(answer.headers["HX-Redirect"]).query)["next"] == ["/calendars?"]


def test_the_cookie_names_one_sign_in_and_ending_it_signs_the_browser_out(app, alice):
    client = signed_in_client(app, alice)
    assert client.get("/calendars").status_code == 200

    (row,) = UserSession.active_for(alice)
    sessions.end(row)

    assert client.get("/calendars").status_code == 302
    assert sessions.load("not-a-token") is None


def test_pages_get_the_csrf_token_helper(app, alice):
    page = signed_in_client(app, alice).get("/calendars").get_data(as_text=True)

    assert CSRF in page  # rendered by the csrf_token() template global


def test_a_change_without_the_token_is_refused_before_the_view(app, alice):
    client = signed_in_client(app, alice)
    form = {"slug": "team", "name": "Team", "timezone": "UTC"}

    refused = client.post("/calendars", data=form)
    assert refused.status_code == 403
    assert "The form expired or came from another site" in refused.get_data(as_text=True)

    accepted = client.post("/calendars", data=form, headers={"X-CSRF-Token": CSRF})
    assert accepted.status_code == 302


def test_reads_and_the_api_are_not_checked_here(app, alice):
    client = signed_in_client(app, alice)
    assert client.get("/calendars").status_code == 200
    # The API checks CSRF itself, for cookie-authenticated calls only: its answer, not ours.
    answer = client.post("/api/v1/calendars", json={})
    assert "The form expired" not in answer.get_data(as_text=True)
