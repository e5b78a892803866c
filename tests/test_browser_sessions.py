"""Profile → Sessions in a real Chromium against a real server: the owner sees
where they are signed in and signs a lost phone out; a password change signs
out the rest."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.conftest import start_server, stop_server

pytestmark = pytest.mark.slow

HANDLE, PASSWORD = "olivia", "olivia-pass-123"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    live = start_server(tmp_path_factory.mktemp("browser-sessions"))
    done = live.cli(
        "create-user", "--email", "olivia@example.org", "--handle", HANDLE, "--password", PASSWORD
    )
    assert done.returncode == 0, done.stderr
    yield live
    stop_server(live)


def signed_in_page(browser, server, user_agent: str):
    context = browser.new_context(user_agent=user_agent)
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto(server.url + "/login")
    page.get_by_label("E-mail or handle").fill(HANDLE)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/dashboard$"))
    return context, page


def test_signing_out_another_session_from_the_list(browser, server):
    laptop_context, laptop = signed_in_page(browser, server, "Laptop browser")
    phone_context, phone = signed_in_page(browser, server, "Phone browser")
    try:
        laptop.goto(server.url + "/profile")
        rows = laptop.locator("#sessions tbody tr")
        expect(rows).to_have_count(2)
        expect(rows.filter(has_text="Laptop browser")).to_contain_text("this session")
        phone_row = rows.filter(has_text="Phone browser")
        phone_row.get_by_role("button", name=re.compile("Sign out")).click()
        expect(laptop.get_by_text("That session is signed out.")).to_be_visible()
        expect(laptop.locator("#sessions tbody tr")).to_have_count(1)

        phone.goto(server.url + "/dashboard")
        expect(phone).to_have_url(re.compile(r"/login"))
    finally:
        laptop_context.close()
        phone_context.close()


CHROME_LINUX = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36"
)
SAFARI_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1"
)


def test_sessions_name_the_browser_and_fit_a_phone_without_sideways_scrolling(browser, server):
    laptop_context, _laptop = signed_in_page(browser, server, CHROME_LINUX)
    phone_context, phone = signed_in_page(browser, server, SAFARI_IPHONE)
    try:
        for width in (1280, 390):
            phone.set_viewport_size({"width": width, "height": 844})
            phone.goto(server.url + "/profile")
            rows = phone.locator("#sessions tbody tr")
            this_one = rows.filter(has_text="Safari on iPhone")
            expect(this_one).to_contain_text("this session")
            expect(rows.filter(has_text="Chrome on Linux")).to_have_count(1)
            assert CHROME_LINUX not in phone.locator("#sessions").inner_text()
            assert phone.evaluate("document.scrollingElement.scrollWidth") <= width
            # Every fact of the row is on screen, the times whole on one line each.
            for label in ("Signed in", "Last seen"):
                cell = this_one.locator(f'td[data-label="{label}"]')
                expect(cell).to_contain_text("UTC")
                box = cell.bounding_box()
                assert box["x"] >= 0 and box["x"] + box["width"] <= width, (width, label, box)
                line = cell.evaluate("el => parseFloat(getComputedStyle(el).lineHeight)")
                assert box["height"] < 2 * line, (width, label, box)  # not wrapped
            button = this_one.get_by_role("button", name=re.compile("Sign out"))
            box = button.bounding_box()
            assert box["x"] + box["width"] <= width
    finally:
        laptop_context.close()
        phone_context.close()


def test_a_password_change_signs_out_the_other_sessions(browser, server):
    laptop_context, laptop = signed_in_page(browser, server, "Laptop browser")
    other_context, other = signed_in_page(browser, server, "Other browser")
    try:
        laptop.goto(server.url + "/profile")
        laptop.get_by_label("Current password", exact=True).first.fill(PASSWORD)
        laptop.get_by_label("New password").fill("olivia-new-pass-456")
        laptop.get_by_role("button", name="Change password").click()
        expect(laptop.get_by_text("Password changed.")).to_be_visible()
        expect(laptop.locator("#sessions tbody tr")).to_have_count(1)

        other.goto(server.url + "/dashboard")
        expect(other).to_have_url(re.compile(r"/login"))
    finally:
        laptop_context.close()
        other_context.close()
