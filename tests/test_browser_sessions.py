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
