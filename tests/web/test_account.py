"""First run, sign-in with throttling, sign-out, profile, CSRF on forms."""

from __future__ import annotations

import re

import pytest

from calmesh.models import User
from tests.conftest import CSRF, make_user, signed_in_client


def form_client(app):
    """A browser-like client: reads the CSRF token from the page it gets."""
    client = app.test_client()
    return client


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def post_form(client, path: str, data: dict, **kw):
    token = csrf_of(client.get(path, **kw).get_data(as_text=True))
    return client.post(path, data={**data, "csrf_token": token}, **kw)


def setup_path() -> str:
    from calmesh.auth import setup as first_run

    return f"/setup?token={first_run.setup_token()}"


OWNER_FIELDS = {
    "email": "Owner@Example.org",
    "handle": "owner",
    "password": "long-enough-pw",
    "name": "Owner",
    "timezone": "Europe/Berlin",
}


def test_first_visit_goes_to_setup_which_says_where_the_token_is(app):
    client = form_client(app)
    assert client.get("/login").headers["Location"].endswith("/setup")
    locked = client.get("/setup")
    assert locked.status_code == 403
    html = locked.get_data(as_text=True)
    assert "setup token" in html and "python -m calmesh setup-url" in html
    assert "server's log" in html and "create-user" in html
    assert 'name="email"' not in html
    assert client.get(setup_path()).status_code == 200


def test_setup_creates_the_owner_and_signs_in(app):
    client = form_client(app)
    response = post_form(client, setup_path(), OWNER_FIELDS)
    assert response.status_code == 302 and response.headers["Location"].endswith("/dashboard")
    user = User.get(User.handle == "owner")
    assert user.email == "owner@example.org" and user.timezone == "Europe/Berlin"
    assert client.get("/dashboard").status_code == 200
    # Once a user exists the page is closed for good.
    assert app.test_client().get("/setup").headers["Location"].endswith("/login")


def test_setup_shows_errors_and_creates_nothing(app):
    response = post_form(
        form_client(app),
        setup_path(),
        {
            "email": "nope",
            "handle": "Bad Handle",
            "password": "short",
            "timezone": "Mars/Base",
        },
    )
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "must be an e-mail address" in html and "at least 10 characters" in html
    assert "unknown time zone" in html
    assert User.select().count() == 0


@pytest.fixture
def owner(app):
    return make_user("owner")


def test_login_with_email_or_handle_then_logout(app, owner):
    client = form_client(app)
    response = post_form(
        client, "/login", {"login": "OWNER@example.org", "password": "owner-password-123"}
    )
    assert response.status_code == 302
    assert client.get("/dashboard").status_code == 200
    html = client.get("/dashboard").get_data(as_text=True)
    response = client.post("/logout", data={"csrf_token": csrf_of(html)})
    assert response.headers["Location"].endswith("/login")
    assert client.get("/dashboard").status_code == 302
    assert (
        post_form(
            client, "/login", {"login": "owner", "password": "owner-password-123"}
        ).status_code
        == 302
    )


def test_wrong_password_is_refused_then_throttled(app, owner):
    client = form_client(app)
    for _ in range(5):
        response = post_form(client, "/login", {"login": "owner", "password": "wrong"})
        assert response.status_code == 401
        assert "Wrong e-mail/handle or password" in response.get_data(as_text=True)
    # Even the right password is refused while throttled.
    response = post_form(client, "/login", {"login": "owner", "password": "owner-password-123"})
    assert response.status_code == 429
    assert "Too many failed attempts" in response.get_data(as_text=True)


def test_throttling_is_per_address(app, owner):
    client = form_client(app)
    for _ in range(5):
        post_form(client, "/login", {"login": "owner", "password": "wrong"})
    other = {"environ_base": {"REMOTE_ADDR": "127.0.0.2"}}
    response = post_form(
        form_client(app), "/login", {"login": "owner", "password": "owner-password-123"}, **other
    )
    assert response.status_code == 302


def test_every_spelling_of_the_account_shares_one_bucket(app, owner):
    client = form_client(app)
    spellings = ["owner", "OWNER", " Owner ", "owner@example.org", "OWNER@Example.ORG "]
    for login in spellings:
        response = post_form(client, "/login", {"login": login, "password": "wrong"})
        assert response.status_code == 401, login
    # Five tries in all, not five per spelling.
    for login in ("Owner", "owner@EXAMPLE.org"):
        response = post_form(client, "/login", {"login": login, "password": "owner-password-123"})
        assert response.status_code == 429, login


def test_one_address_trying_many_accounts_is_throttled(app, owner):
    app.config["CALMESH"]._values["security.login_max_failures_per_address"] = 8
    client = form_client(app)
    for n in range(8):
        response = post_form(client, "/login", {"login": f"guess{n}", "password": "wrong"})
        assert response.status_code == 401
    # Under the per-account limit for "owner", but this address has used its tries.
    response = post_form(client, "/login", {"login": "owner", "password": "owner-password-123"})
    assert response.status_code == 429
    # Another address is not affected, and the owner's own sign-in does not reset it.
    other = {"environ_base": {"REMOTE_ADDR": "198.51.100.4"}}
    response = post_form(
        form_client(app), "/login", {"login": "owner", "password": "owner-password-123"}, **other
    )
    assert response.status_code == 302


def test_ipv6_addresses_of_one_64_share_a_bucket(app, owner):
    app.config["CALMESH"]._values["security.login_max_failures_per_address"] = 3
    for n in range(3):
        remote = {"environ_base": {"REMOTE_ADDR": f"2001:db8:1:2::{n + 1:x}"}}
        post_form(form_client(app), "/login", {"login": f"u{n}", "password": "x"}, **remote)
    remote = {"environ_base": {"REMOTE_ADDR": "2001:db8:1:2:ffff::9"}}
    response = post_form(
        form_client(app), "/login", {"login": "owner", "password": "owner-password-123"}, **remote
    )
    assert response.status_code == 429


def test_forwarding_headers_without_trusted_proxies_are_reported_once(app, owner, caplog):
    client = form_client(app)
    client.get("/login")
    assert "trusted_proxies" not in caplog.text
    for header in ("X-Forwarded-For", "CF-Connecting-IP"):
        client.get("/login", headers={header: "203.0.113.9"})
    warnings = [r for r in caplog.records if "trusted_proxies" in r.getMessage()]
    assert len(warnings) == 1
    assert "X-Forwarded-For" in warnings[0].getMessage()
    assert "\n" not in warnings[0].getMessage()


def test_forwarding_headers_with_trusted_proxies_say_nothing(tmp_path, caplog):
    from tests.conftest import make_app

    trusting = make_app(tmp_path, **{"server.trusted_proxies": 1})
    trusting.test_client().get("/api/health", headers={"X-Forwarded-For": "203.0.113.9"})
    assert "trusted_proxies" not in caplog.text


@pytest.mark.parametrize(
    "next_param",
    [
        "https://evil.example/phish",
        "/%09/evil.example/x",
        "/%0d/x",
        "/%0a/evil.example",
        "/%5C%5Cevil.example",
        "/\\evil",
        "//evil",
        "/%2F/evil.example",
        "javascript:alert(1)",
    ],
)
def test_login_never_redirects_off_the_site(app, owner, next_param):
    client = form_client(app)
    path = f"/login?next={next_param}"
    token = csrf_of(client.get(path).get_data(as_text=True))
    response = client.post(
        path, data={"login": "owner", "password": "owner-password-123", "csrf_token": token}
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/dashboard"
    # Signed in already, the same link redirects at once: still to the dashboard.
    again = client.get(path)
    assert again.status_code == 302 and again.headers["Location"] == "/dashboard"


def test_login_follows_a_local_next(app, owner):
    client = form_client(app)
    path = "/login?next=/bookings%3Fstatus%3Dpending"
    token = csrf_of(client.get(path).get_data(as_text=True))
    response = client.post(
        path, data={"login": "owner", "password": "owner-password-123", "csrf_token": token}
    )
    assert response.headers["Location"] == "/bookings?status=pending"


def test_forms_without_csrf_token_are_refused(app, owner):
    client = form_client(app)
    client.get("/login")
    response = client.post("/login", data={"login": "owner", "password": "owner-password-123"})
    assert response.status_code == 403
    assert "Traceback" not in response.get_data(as_text=True)


def test_pages_need_a_sign_in(app, owner):
    for path in ("/dashboard", "/profile", "/api-keys"):
        response = app.test_client().get(path)
        assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_profile_updates_name_and_time_zone(app, owner):
    client = signed_in_client(app, owner)
    response = client.post(
        "/profile", data={"name": "The Owner", "timezone": "Asia/Kolkata", "csrf_token": CSRF}
    )
    assert response.status_code == 302
    owner = User.get_by_id(owner.id)
    assert (owner.name, owner.timezone) == ("The Owner", "Asia/Kolkata")
    bad = client.post(
        "/profile", data={"name": "x", "timezone": "Asia/Nowhere", "csrf_token": CSRF}
    )
    assert bad.status_code == 400 and "unknown time zone" in bad.get_data(as_text=True)
    assert User.get_by_id(owner.id).timezone == "Asia/Kolkata"


def test_dashboard_shows_navigation(app, owner):
    html = signed_in_client(app, owner).get("/dashboard").get_data(as_text=True)
    assert 'aria-label="Sections"' in html
    assert "API keys" in html and "Profile" in html


def test_html_errors_are_pages_not_tracebacks(app, owner):
    response = signed_in_client(app, owner).get("/no/such/page")
    assert response.status_code == 404
    assert "<h1>404" in response.get_data(as_text=True)


# --- account basics: clock, first day of the week, deleting the account -----------------


def test_the_clock_and_the_first_day_of_the_week_are_kept_and_used(app, owner):
    client = signed_in_client(app, owner)
    saved = client.post(
        "/profile",
        data={
            "name": "O",
            "timezone": "Asia/Kolkata",
            "clock": "12",
            "week_start": "6",
            "csrf_token": CSRF,
        },
    )
    assert saved.status_code == 302
    user = User.get_by_id(owner.id)
    assert (user.clock, user.week_start) == ("12", 6)
    page = client.get("/profile").get_data(as_text=True)
    assert 'value="12" checked' in page and '<option value="6" selected>Sunday' in page
    # Session times: the owner's zone and clock (Kolkata is UTC+5:30, written IST).
    assert re.search(r'data-label="Signed in">\d{4}-\d\d-\d\d \d{1,2}:\d\d[ap]m IST<', page)
    refused = client.post(
        "/profile",
        data={"name": "O", "timezone": "UTC", "clock": "13", "week_start": "7", "csrf_token": CSRF},
    )
    assert refused.status_code == 400
    assert "Times must be one of 24, 12" in refused.get_data(as_text=True)
    assert User.get_by_id(owner.id).clock == "12"


def test_deleting_the_account_needs_the_handle_and_the_password(app, owner, bob):
    from calmesh.models import Booking, BookingChange, Connection, UnifiedCalendar
    from calmesh.services import booking_pages, bookings, calendars
    from tests.factories import make_connection
    from tests.web.test_bookings import at

    calendar = calendars.create(owner, "work", "Work", "UTC")
    calendars.add_source(calendar, make_connection(owner).id)
    page = booking_pages.create(
        owner,
        booking_pages.NEW_PAGE.parse(
            {
                "slug": "intro",
                "title": "Intro",
                "calendar": "work",
                "timezone": "UTC",
                "min_notice": 0,
            }
        ),
    )
    with app.test_request_context():
        bookings.book(
            page, start=at(10), duration=None, attendee=bookings.Attendee("V", "v@x.org", "UTC")
        )
    calendars.create(bob, "work", "Bob's", "UTC")
    client = signed_in_client(app, owner)
    for form, message in (
        (
            {"confirm": "nope", "delete_password": "owner-password-123"},
            f"Your handle must be {owner.handle}",
        ),
        ({"confirm": owner.handle, "delete_password": "wrong"}, "is not your password"),
    ):
        refused = client.post("/profile/delete", data={**form, "csrf_token": CSRF})
        assert refused.status_code == 400 and message in refused.get_data(as_text=True)
        assert User.get_or_none(User.id == owner.id) is not None
    done = client.post(
        "/profile/delete",
        data={
            "confirm": owner.handle,
            "delete_password": "owner-password-123",
            "csrf_token": CSRF,
        },
    )
    assert done.status_code == 302 and "/login" in done.headers["Location"]
    assert User.get_or_none(User.id == owner.id) is None
    assert Booking.select().count() == BookingChange.select().count() == 0
    assert Connection.select().count() == 0
    assert [c.name for c in UnifiedCalendar.select()] == ["Bob's"]  # others keep theirs
    assert client.get("/dashboard").status_code == 302
