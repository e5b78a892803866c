"""The account pages in a real Chromium against a real server: first run, sign-in
and sign-out, API keys through htmx, and a phone-sized screen.

The first-run tests each get an empty server of their own; the others share one
whose owner was created with the CLI.
"""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.conftest import start_server, stop_server, wait_until

pytestmark = pytest.mark.slow

OWNER = {
    "name": "Olivia Owner",
    "email": "olivia@example.org",
    "handle": "olivia",
    "password": "olivia-pass-123",
}
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


def path_is(path: str) -> re.Pattern[str]:
    """A URL matcher for ``expect(page).to_have_url``: this path, any query."""
    return re.compile(rf"^http://127\.0\.0\.1:\d+{re.escape(path)}(\?.*)?$")


def sign_in(page: Page, url: str, password: str = OWNER["password"]) -> None:
    page.goto(url + "/login")
    page.get_by_label("E-mail or handle").fill(OWNER["handle"])
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A server whose owner exists (made with the CLI, as an admin would)."""
    live = start_server(tmp_path_factory.mktemp("browser"))
    done = live.cli(
        "create-user",
        *("--email", OWNER["email"], "--handle", OWNER["handle"]),
        *("--password", OWNER["password"], "--name", OWNER["name"]),
    )
    assert done.returncode == 0, done.stderr
    yield live
    stop_server(live)


# --- first run ----------------------------------------------------------------------


def logged_setup_token(server) -> str:
    return wait_until(
        lambda: re.search(r"/setup\?token=([0-9a-f]{32})", server.log()),
        what="the setup link in the log",
    ).group(1)


def test_first_run_with_the_logged_link_creates_the_owner_and_closes_setup(page, tmp_path):
    server = start_server(tmp_path)
    try:
        # Even from this machine, the first visit only says where the link is.
        page.goto(server.url + "/")
        expect(page).to_have_url(path_is("/setup"))
        expect(page.get_by_role("heading", name="Welcome to CalMesh")).to_be_visible()
        expect(page.get_by_text("python -m calmesh setup-url")).to_be_visible()
        expect(page.get_by_label("E-mail")).to_have_count(0)

        link = f"{server.url}/setup?token={logged_setup_token(server)}"
        assert link in server.log()  # the log prints the ready link, on the listen address
        page.goto(link)

        page.get_by_label("Your name").fill(OWNER["name"])
        page.get_by_label("E-mail").fill(OWNER["email"])
        page.get_by_label("Handle").fill(OWNER["handle"])
        page.get_by_label("Password").fill("too-short")
        page.get_by_role("button", name="Create account").click()

        password = page.locator("#f-password")
        expect(password).to_have_attribute("aria-invalid", "true")
        expect(password).to_have_attribute("aria-describedby", "e-password")
        expect(page.locator("#e-password")).to_have_text("Password must be at least 10 characters")
        expect(page.get_by_label("E-mail")).to_have_value(OWNER["email"])
        expect(page.locator(".error")).to_have_count(1)
        # Nothing was created: the sign-in page still sends visitors to the first run.
        assert httpx.get(server.url + "/login").headers["location"] == "/setup"

        password.fill(OWNER["password"])
        page.get_by_role("button", name="Create account").click()
        expect(page).to_have_url(path_is("/dashboard"))
        expect(page.get_by_role("heading", name=f"Hello, {OWNER['name']}")).to_be_visible()
        expect(page.get_by_role("status")).to_have_text("Welcome! Your account is ready.")
        nav = page.get_by_role("navigation", name="Sections")
        expect(nav.get_by_role("link", name="Overview")).to_have_attribute("aria-current", "page")
        expect(nav.get_by_role("link", name="API keys")).to_be_visible()
        expect(nav.get_by_role("link", name="Profile")).to_be_visible()

        # Setup is over: it now goes through the sign-in page (which, signed in, is the
        # dashboard), even for a visitor from this machine.
        response = page.goto(server.url + "/setup")
        visited = []
        request = response.request
        while request is not None:
            visited.insert(0, request.url.removeprefix(server.url).split("?")[0])
            request = request.redirected_from
        assert visited == ["/setup", "/login", "/dashboard"]
        assert httpx.get(server.url + "/setup").headers["location"] == "/login"
    finally:
        stop_server(server)


def test_setup_needs_the_token_printed_in_the_log_however_the_request_arrives(tmp_path):
    server = start_server(tmp_path)
    relayed = [{}, {"X-Forwarded-For": "127.0.0.1"}, {"CF-Connecting-IP": "203.0.113.7"}]
    try:
        with httpx.Client(base_url=server.url) as client:
            for headers in relayed:
                for path in ("/setup", "/setup?token=not-the-token"):
                    refused = client.get(path, headers=headers)
                    assert refused.status_code == 403, (path, headers)
                    assert "setup token" in refused.text

            token = logged_setup_token(server)
            form = client.get(f"/setup?token={token}")
            assert form.status_code == 200
            assert f'action="/setup?token={token}"' in form.text
            fields = {
                "csrf_token": CSRF_FIELD.search(form.text).group(1),
                **{k: OWNER[k] for k in ("name", "email", "handle", "password")},
                "timezone": "Europe/Berlin",
            }
            assert client.post("/setup", data=fields).status_code == 403

            created = client.post(f"/setup?token={token}", data=fields)
            assert created.status_code == 302
            assert created.headers["location"] == "/dashboard"
            me = client.get("/api/v1/me")
            assert me.status_code == 200
            assert me.json()["handle"] == OWNER["handle"]
            assert me.json()["timezone"] == "Europe/Berlin"
            # With an owner, even the token no longer opens the page.
            assert client.get(f"/setup?token={token}").headers["location"] == "/login"
    finally:
        stop_server(server)


def test_setup_presets_the_browsers_time_zone_and_creates_the_owner_in_it(browser, tmp_path):
    server = start_server(tmp_path)
    context = browser.new_context(timezone_id="America/New_York")
    try:
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.goto(f"{server.url}/setup?token={logged_setup_token(server)}")
        # Without JavaScript the form says UTC; app.js moves it to the browser's zone.
        expect(page.get_by_label("Time zone")).to_have_value("America/New_York")
        page.get_by_label("Your name").fill(OWNER["name"])
        page.get_by_label("E-mail").fill(OWNER["email"])
        page.get_by_label("Handle").fill(OWNER["handle"])
        page.get_by_label("Password").fill(OWNER["password"])
        page.get_by_role("button", name="Create account").click()
        expect(page).to_have_url(path_is("/dashboard"))
        me = page.request.get(server.url + "/api/v1/me")
        assert me.json()["timezone"] == "America/New_York"
    finally:
        context.close()
        stop_server(server)


def test_setup_without_javascript_presets_utc_and_refuses_an_unknown_zone(tmp_path):
    server = start_server(tmp_path)
    try:
        with httpx.Client(base_url=server.url) as client:
            token = logged_setup_token(server)
            form = client.get(f"/setup?token={token}")
            assert "<option selected>UTC</option>" in form.text
            fields = {
                "csrf_token": CSRF_FIELD.search(form.text).group(1),
                **{k: OWNER[k] for k in ("name", "email", "handle", "password")},
            }
            refusals = {
                "Mars/Olympus_Mons": "use an IANA name such as Europe/Berlin",
                "america/new_york": "use an IANA name such as Europe/Berlin",
                "../../etc/passwd": "use an IANA name such as Europe/Berlin",
                "": "Time zone is required",
            }
            for bad, message in refusals.items():
                refused = client.post(f"/setup?token={token}", data={**fields, "timezone": bad})
                assert refused.status_code == 200, bad  # the form again, as for every field
                error = re.search(r'<small class="error"[^>]*>([^<]*)</small>', refused.text)
                assert error and error.group(1).startswith("Time zone"), bad
                assert message in error.group(1), bad
                # The refused value is kept, not swapped for the browser's zone again.
                assert "data-detect-zone" not in refused.text
            assert client.get("/login").headers["location"] == "/setup"  # nothing created
            created = client.post(
                f"/setup?token={token}", data={**fields, "timezone": "America/New_York"}
            )
            assert created.status_code == 302
            assert client.get("/api/v1/me").json()["timezone"] == "America/New_York"
    finally:
        stop_server(server)


# --- signing in and out ------------------------------------------------------------


def test_sign_out_then_a_wrong_password_is_refused_and_the_right_one_signs_in(page, server):
    sign_in(page, server.url)
    expect(page).to_have_url(path_is("/dashboard"))

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(path_is("/login"))
    expect(page.get_by_role("status")).to_have_text("You are signed out.")
    page.goto(server.url + "/dashboard")
    expect(page).to_have_url(path_is("/login"))

    sign_in(page, server.url, password="not-the-password")
    expect(page.get_by_role("alert")).to_have_text("Wrong e-mail/handle or password.")
    expect(page.get_by_label("E-mail or handle")).to_have_value(OWNER["handle"])
    expect(page.get_by_role("button", name="Sign out")).to_have_count(0)

    sign_in(page, server.url)
    expect(page).to_have_url(path_is("/dashboard"))
    expect(page.get_by_role("heading", name=f"Hello, {OWNER['name']}")).to_be_visible()
    page.goto(server.url + "/setup")
    expect(page).to_have_url(path_is("/dashboard"))


# --- API keys -------------------------------------------------------------------------


def test_api_key_is_shown_once_listed_by_prefix_and_can_be_revoked(page, server):
    sign_in(page, server.url)
    page.goto(server.url + "/api-keys")
    page.get_by_label("Name").fill("Laptop script")
    page.get_by_label("Scope").select_option("book")
    with page.expect_response(lambda r: r.url.endswith("/api-keys")) as created:
        page.get_by_role("button", name="Create key").click()
    assert created.value.request.headers.get("hx-request") == "true"
    assert created.value.status == 200

    key = page.locator("#new-key").inner_text()
    assert key.startswith("cm_live_")
    expect(page).to_have_url(path_is("/api-keys"))  # swapped in place, no navigation
    row = page.locator("tr", has_text="Laptop script")
    expect(row.locator("code")).to_have_text(key[:12] + "…")
    expect(row.locator(".badge")).to_have_text("active")
    expect(row.locator("td").nth(2)).to_have_text("book")

    me = httpx.get(server.url + "/api/v1/me", headers={"Authorization": f"Bearer {key}"})
    assert me.status_code == 200 and me.json()["scope"] == "book"

    page.reload()
    expect(page.locator("#new-key")).to_have_count(0)
    assert key not in page.content()
    expect(row.locator("code")).to_have_text(key[:12] + "…")

    page.once("dialog", lambda dialog: dialog.accept())  # hx-confirm asks first
    row.get_by_role("button", name="Revoke").click()
    expect(row.locator(".badge")).to_have_text("revoked")
    expect(row.get_by_role("button", name="Revoke")).to_have_count(0)
    refused = httpx.get(server.url + "/api/v1/me", headers={"Authorization": f"Bearer {key}"})
    assert refused.status_code == 401


# --- a phone ----------------------------------------------------------------------------


def scroll_width(page: Page) -> int:
    return page.evaluate("document.scrollingElement.scrollWidth")


def test_login_and_dashboard_fit_a_phone_screen_without_sideways_scrolling(page, server):
    page.set_viewport_size({"width": 375, "height": 740})
    page.goto(server.url + "/login")
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    assert scroll_width(page) <= 375
    sign_in(page, server.url)
    expect(page).to_have_url(path_is("/dashboard"))
    assert scroll_width(page) <= 375


def test_api_keys_table_fits_a_phone_screen_without_sideways_scrolling(page, server):
    page.set_viewport_size({"width": 375, "height": 740})
    sign_in(page, server.url)
    page.goto(server.url + "/api-keys")
    page.get_by_label("Name").fill("Phone")
    page.get_by_role("button", name="Create key").click()
    expect(page.locator("#new-key")).to_be_visible()
    expect(page.locator("table")).to_be_visible()
    assert scroll_width(page) <= 375
