"""Every owner page and the public pages in a real Chromium: no console error and
no Content-Security-Policy violation, including after the htmx swaps of the
booking-page editor (a failed save, then "+ Add hours").

Chromium reports a CSP violation both as a console error and as a
``securitypolicyviolation`` event; an init script turns the event into a console
error too, so one listener collects both (and uncaught page errors).
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.sync_api import Page, expect

from calmesh.services.booking_pages import DAYS
from tests.conftest import start_server, stop_server
from tests.test_browser_owner import OWNER_PAGES

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore:unclosed file .*server.log:ResourceWarning"),
]

OWNER = ("--email", "olivia@example.org", "--handle", "olivia", "--name", "Olivia Owner")
PASSWORD = "olivia-pass-123"
PAGE = {
    "slug": "intro-call",
    "title": "Intro call",
    "calendar": "work",
    "timezone": "Europe/Berlin",
    "duration": 30,
    "weekly_hours": {d: [["09:00", "17:00"]] for d in DAYS},
    "min_notice": 0,
}
POLL = {
    "title": "Planning",
    "timezone": "Europe/Berlin",
    "options": [
        {"start": "2030-03-04T09:00:00+01:00", "end": "2030-03-04T10:00:00+01:00"},
        {"start": "2030-03-05T09:00:00+01:00", "end": "2030-03-05T10:00:00+01:00"},
    ],
}
REPORT_CSP = """
document.addEventListener("securitypolicyviolation", (e) => {
  console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`);
});
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """A server with an owner, a calendar, a booking page, a webhook and a poll."""
    server = start_server(tmp_path_factory.mktemp("console"))
    try:
        made = server.cli("create-user", *OWNER, "--password", PASSWORD)
        assert made.returncode == 0, made.stderr
        key = server.cli("create-api-key", "--user", "olivia", "--scope", "full")
        assert key.returncode == 0, key.stderr
        token = key.stdout.strip().splitlines()[-1]
        with httpx.Client(
            base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=30
        ) as api:
            calendar = {"slug": "work", "name": "Work", "timezone": "Europe/Berlin"}
            assert api.post("/api/v1/calendars", json=calendar).status_code == 201
            page = api.post("/api/v1/booking-pages", json=PAGE)
            assert page.status_code == 201, page.text
            poll = api.post("/api/v1/polls", json=POLL)
            assert poll.status_code == 201, poll.text
        yield server, poll.json()
    finally:
        stop_server(server)


@pytest.fixture
def watched(page: Page) -> tuple[Page, list[str]]:
    """The page, and the list its console errors, CSP violations and page errors go to."""
    errors: list[str] = []
    page.add_init_script(REPORT_CSP)
    page.on(
        "console", lambda m: errors.append(f"{page.url}: {m.text}") if m.type == "error" else None
    )
    page.on("pageerror", lambda e: errors.append(f"{page.url}: {e}"))
    return page, errors


def sign_in(page: Page, url: str) -> None:
    page.goto(url + "/login")
    page.get_by_label("E-mail or handle").fill("olivia")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Hello, Olivia Owner")).to_be_visible()


def visit(page: Page, url: str) -> None:
    answer = page.goto(url)
    assert answer is not None and answer.status == 200, (url, answer and answer.status)
    page.wait_for_load_state("networkidle")


def a_booking(url: str) -> str:
    """The uid of a new booking of the page, tomorrow at 10:00 Berlin time."""
    day = datetime.now(ZoneInfo("Europe/Berlin")).date() + timedelta(days=1)
    start = datetime.combine(day, time(10), ZoneInfo("Europe/Berlin"))
    attendee = {"name": "Vera", "email": "vera@example.net", "timezone": "Asia/Tokyo"}
    booked = httpx.post(
        f"{url}/api/v1/booking-pages/{PAGE['slug']}/book",
        json={"start": start.isoformat(), "attendee": attendee},
        timeout=30,
    )
    assert booked.status_code == 201, booked.text
    return booked.json()["uid"]


def test_no_owner_page_logs_an_error_or_breaks_the_csp(watched, site):
    page, errors = watched
    server, poll = site
    sign_in(page, server.url)
    paths = [
        *OWNER_PAGES,
        f"/polls/{poll['id']}",
        f"/polls/{poll['id']}/edit",
        f"/polls/new?from={poll['id']}",
        f"/polls/{poll['id']}/decide?option_id={poll['options'][0]['id']}",
        f"/bookings/{a_booking(server.url)}",
    ]
    for path in paths:
        visit(page, server.url + path)
    assert errors == []


def test_the_editor_after_a_failed_save_and_add_hours_breaks_no_csp(watched, site, tmp_path):
    page, errors = watched
    server, _ = site
    sign_in(page, server.url)
    visit(page, server.url + "/booking-pages/intro-call")
    page.locator("#f-hours-mon-0-start").fill("25:00")
    page.get_by_role("button", name="Save changes").click()
    expect(page.locator("#f-hours-mon-0-start")).to_have_attribute("aria-invalid", "true")
    # The refused save answers 400, which Chromium logs (a status, not a fault of the page).
    assert [e for e in errors if "status of 400" not in e] == []
    errors.clear()
    adds = page.get_by_role("button", name="Add hours: Tue")
    adds.click()
    expect(page.locator("#f-hours-tue-1-start")).to_be_visible()
    page.get_by_role("button", name="Add hours: Wed").click()
    expect(page.locator("#f-hours-wed-1-start")).to_be_visible()
    page.wait_for_load_state("networkidle")
    assert errors == []


def test_public_pages_log_no_error_and_break_no_csp(watched, site):
    page, errors = watched
    server, poll = site
    visit(page, server.url + "/olivia/intro-call")
    page.locator("#month-next").click()  # an htmx swap of the booker
    expect(page.locator("#month-prev")).to_be_visible()
    page.wait_for_load_state("networkidle")
    visit(page, poll["url"])
    assert errors == []


def test_htmx_injects_no_style_and_its_indicator_rules_come_from_the_stylesheet(page, site):
    server, _ = site
    visit(page, server.url + "/olivia/intro-call")
    assert page.evaluate("htmx.config.includeIndicatorStyles") is False
    assert page.locator("style").count() == 0
    hidden = page.evaluate("""() => {
      const probe = document.createElement("span");
      probe.className = "htmx-indicator";
      document.body.append(probe);
      return getComputedStyle(probe).visibility;
    }""")
    assert hidden == "hidden"


def test_htmx_requests_work_with_compressed_answers(watched, site):
    page, errors = watched
    server, _ = site
    visit(page, server.url + "/olivia/intro-call")
    with page.expect_response(lambda r: r.request.headers.get("hx-request") == "true") as swap:
        page.locator("#month-next").click()
    answer = swap.value
    assert answer.status == 200
    assert answer.all_headers()["content-encoding"] == "gzip"
    assert "accept-encoding" in answer.all_headers()["vary"].lower()
    expect(page.locator("#month-prev")).to_be_visible()  # the swap took the decoded HTML
    assert errors == []


@pytest.mark.parametrize("width", [1280, 390])
def test_the_editor_fits_desktop_and_phone_without_sideways_scrolling(
    watched, site, width, tmp_path
):
    page, errors = watched
    server, _ = site
    sign_in(page, server.url)
    page.set_viewport_size({"width": width, "height": 900})
    visit(page, server.url + "/booking-pages/intro-call")
    page.screenshot(path=str(tmp_path / f"editor-{width}.png"), full_page=True)
    page.screenshot(path=str(tmp_path / f"editor-{width}-top.png"))
    page.locator("#weekly").screenshot(path=str(tmp_path / f"editor-{width}-weekly.png"))
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    assert errors == []
