"""The public booking page in a real Chromium against a real server.

A visitor in New York books a page kept in Berlin time and sees New York times
throughout, then cancels from the manage link of the confirmation; axe-core
finds no serious problem on the way; the keyboard alone books; a phone screen
needs no sideways scrolling. The owner, calendar and page are made as an admin
and a script would: the CLI, then the REST API.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.sync_api import FrameLocator, Page, expect

from calmesh.services.booking_pages import DAYS
from tests.conftest import LiveServer, start_server, stop_server

pytestmark = [
    pytest.mark.slow,
    # conftest.start_server leaks its log file object (see test_browser_account); nothing else.
    pytest.mark.filterwarnings("ignore:unclosed file .*server.log:ResourceWarning"),
]

BERLIN, NEW_YORK = ZoneInfo("Europe/Berlin"), ZoneInfo("America/New_York")
OWNER = ("--email", "olivia@example.org", "--handle", "olivia", "--name", "Olivia Owner")
PAGE = {
    "slug": "intro-call",
    "title": "Intro call",
    "calendar": "work",
    "timezone": "Europe/Berlin",
    "duration": 30,
    # Every day, so that the tests do not depend on today's weekday.
    "weekly_hours": {d: [["09:00", "17:00"]] for d in DAYS},
    "min_notice": 0,
    "location": "Video call",
    "description": "A first conversation about your project.",
    "questions": [{"id": "company", "label": "Company", "type": "short_text", "required": True}],
}


@dataclass
class Site:
    """A live server whose owner has a calendar without sources and one booking page:
    the slots come from the working hours alone."""

    server: LiveServer
    api: httpx.Client  # the owner's full-scope key

    @property
    def page_url(self) -> str:
        return f"{self.server.url}/olivia/{PAGE['slug']}"

    def bookings_of(self, email: str) -> list[dict]:
        answer = self.api.get("/api/v1/bookings", params={"attendee": email})
        assert answer.status_code == 200, answer.text
        return answer.json()["data"]


def open_site(tmp_path: Path) -> Site:
    server = start_server(tmp_path)
    try:
        made = server.cli("create-user", *OWNER, "--timezone", "Europe/Berlin")
        assert made.returncode == 0, made.stderr
        key = server.cli("create-api-key", "--user", "olivia", "--scope", "full")
        assert key.returncode == 0, key.stderr
        api = httpx.Client(
            base_url=server.url,
            headers={"Authorization": f"Bearer {key.stdout.strip().splitlines()[-1]}"},
            timeout=30,
        )
        calendar = {"slug": "work", "name": "Work", "timezone": "Europe/Berlin"}
        assert api.post("/api/v1/calendars", json=calendar).status_code == 201
        created = api.post("/api/v1/booking-pages", json=PAGE)
        assert created.status_code == 201, created.text
    except BaseException:
        stop_server(server)
        raise
    return Site(server, api)


def close_site(site: Site) -> None:
    site.api.close()
    stop_server(site.server)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    opened = open_site(tmp_path_factory.mktemp("booker"))
    yield opened
    close_site(opened)


def a_day(ahead: int = 7) -> date:
    return datetime.now(BERLIN).date() + timedelta(days=ahead)


def at(day: date, hour: int, minute: int = 0) -> datetime:
    """``hour`` on ``day`` in the page's zone (Berlin)."""
    return datetime.combine(day, time(hour, minute), BERLIN)


def twelve(moment: datetime) -> str:
    """How a 12-hour (US English) visitor reads a time: 4:00 AM."""
    return f"{moment.hour % 12 or 12}:{moment:%M} {moment:%p}"


def utc_iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def serious(page: Page) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    found = Axe().run(page).response["violations"]
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']]}"
        for v in found
        if v["impact"] in ("serious", "critical")
    ]


def fill_details(page: Page | FrameLocator, name: str, email: str) -> None:
    page.get_by_label("Your name").fill(name)
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Company").fill("Acme")


# --- a visitor elsewhere ----------------------------------------------------------------


def test_new_york_visitor_books_in_local_time_and_cancels_from_the_manage_link(browser, site):
    context = browser.new_context(timezone_id="America/New_York", locale="en-US")
    page = context.new_page()
    page.set_default_timeout(15_000)
    day = a_day()
    start = at(day, 10).astimezone(NEW_YORK)
    try:
        page.goto(f"{site.page_url}?date={day}")
        # The page opens in Berlin time; the browser's zone replaces it, and its
        # language (en-US) reads 12-hour times.
        expect(page.locator("#booker-tz")).to_have_value("America/New_York")
        expect(page).to_have_url(re.compile(r"tz=America%2FNew_York"))
        times = page.locator(".times .slot")
        expect(times.first).to_have_text(twelve(at(day, 9).astimezone(NEW_YORK)))
        expect(times).to_have_count(16)
        expect(page.locator("#clock-12")).to_have_attribute("aria-current", "true")

        times.filter(has_text=re.compile(rf"^{twelve(start)}$")).click()
        expect(page.get_by_role("heading", name="Your details")).to_be_focused()
        expect(page.locator(".booker-chosen")).to_contain_text(twelve(start))
        fill_details(page, "Nora Newyork", "nora@example.org")
        page.get_by_role("button", name="Confirm booking").click()

        expect(page.get_by_role("heading", name="You are booked")).to_be_visible()
        end = start + timedelta(minutes=30)
        when = page.locator(".when")
        expect(when).to_contain_text(f"{start:%A}, {start:%B} {start.day}, {start.year}")
        expect(when).to_contain_text(f"{twelve(start)}–{twelve(end)}")
        expect(page.locator(".confirmation")).to_contain_text("America/New York")

        (booking,) = site.bookings_of("nora@example.org")
        assert booking["start"] == utc_iso(start)
        assert booking["status"] == "accepted"
        assert booking["attendee"]["timezone"] == "America/New_York"

        page.get_by_role("link", name="Cancel", exact=True).click()
        expect(page.locator(".when")).to_contain_text(twelve(start))
        expect(page.get_by_role("heading", name="Pick a new time")).to_have_count(0)
        page.get_by_label("Reason (optional)").fill("Plans changed")
        page.get_by_role("button", name="Cancel booking").click()
        expect(page.get_by_role("status")).to_contain_text("Your booking is cancelled")
        expect(page.get_by_role("button", name="Cancel booking")).to_have_count(0)
        # Still in 12-hour time and New York, with the way back to the page.
        expect(page.locator(".when")).to_contain_text(twelve(start))
        again = page.get_by_role("link", name="Book another time")
        expect(again).to_have_attribute("href", re.compile(r"tz=America(/|%2F)New_York&clock=12"))
        cancelled = site.api.get(f"/api/v1/bookings/{booking['id']}").json()
        assert (cancelled["status"], cancelled["reason"]) == ("cancelled", "Plans changed")
    finally:
        context.close()


def test_visitor_reschedules_from_the_manage_page(page, site):
    day = a_day(8)
    page.goto(f"{site.page_url}?tz=Europe/Berlin&clock=24&date={day}")
    page.locator(".times .slot", has_text=re.compile("^11:00$")).click()
    fill_details(page, "Rita Reschedule", "rita@example.org")
    page.get_by_role("button", name="Confirm booking").click()
    page.get_by_role("link", name="Reschedule").click()

    # The slot list opens on the booking's day.
    expect(page.locator(f"#day-{day}")).to_have_attribute("aria-current", "true")
    page.locator(".times .slot", has_text=re.compile("^15:30$")).click()
    expect(page.get_by_role("heading", name=re.compile("^Move to"))).to_be_focused()
    page.get_by_role("button", name="Move my booking").click()
    expect(page.get_by_role("status")).to_contain_text("Your booking is moved")
    (booking,) = site.bookings_of("rita@example.org")
    assert booking["start"] == utc_iso(at(day, 15, 30))


# --- accessibility ----------------------------------------------------------------------


def test_axe_finds_no_serious_problem_on_the_page_the_form_and_after(page, site):
    page.goto(f"{site.page_url}?date={a_day(9)}")
    expect(page.locator(".times .slot").first).to_be_visible()
    assert serious(page) == []

    page.locator(".times .slot").nth(2).click()
    expect(page.get_by_role("heading", name="Your details")).to_be_visible()
    assert serious(page) == []

    # The server's own field errors (past the browser's checks, as an old browser would be).
    page.locator("form.booker-details").evaluate("form => { form.noValidate = true; }")
    page.get_by_role("button", name="Confirm booking").click()
    expect(page.get_by_role("alert")).to_be_visible()
    expect(page.get_by_label("Your name")).to_have_attribute("aria-invalid", "true")
    assert serious(page) == []

    fill_details(page, "Axel Axe", "axel@example.org")
    page.get_by_role("button", name="Confirm booking").click()
    expect(page.get_by_role("heading", name="You are booked")).to_be_visible()
    assert serious(page) == []
    page.get_by_role("link", name="Reschedule").click()
    expect(page.get_by_role("heading", name="Pick a new time")).to_be_visible()
    assert serious(page) == []


def tab_to(page: Page, selector: str, limit: int = 120) -> None:
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("s => document.activeElement.matches(s)", selector):
            return
    raise AssertionError(f"Tab never reached {selector}")


def test_keyboard_alone_picks_a_day_and_a_time_and_books(page, site):
    day = a_day(10)
    page.goto(f"{site.page_url}?tz=Europe/Berlin&clock=24&month={day:%Y-%m}")
    # The month is one Tab stop (the chosen day); arrow keys move between its days.
    tab_to(page, "table.month .day")
    assert page.evaluate("document.activeElement.tabIndex") == 0
    assert page.locator("table.month .day[tabindex='0']").count() == 1
    for _ in range(40):
        if page.evaluate("document.activeElement.id") == f"day-{day}":
            break
        page.keyboard.press("ArrowRight")
    expect(page.locator(f"#day-{day}")).to_be_focused()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowUp")
    expect(page.locator(f"#day-{day}")).to_be_focused()
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline == "solid"  # a visible focus ring
    page.keyboard.press("Enter")
    expect(page.locator("#times-title")).to_contain_text(f"{day:%b} {day.day}")  # en-US
    expect(page.locator(f"#day-{day}")).to_be_focused()  # focus survives the swap
    expect(page.locator(f"#day-{day}")).to_have_attribute("aria-current", "true")

    tab_to(page, ".times .slot")
    expect(page.locator(".times .slot").first).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Your details")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_label("Your name")).to_be_focused()
    page.keyboard.type("Kim Keyboard")
    page.keyboard.press("Tab")
    page.keyboard.type("kim@example.org")
    page.keyboard.press("Tab")
    page.keyboard.type("Acme")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="You are booked")).to_be_visible()
    (booking,) = site.bookings_of("kim@example.org")
    assert booking["start"] == utc_iso(at(day, 9))


# --- a phone ------------------------------------------------------------------------------


def scroll_width(page: Page) -> int:
    return page.evaluate("document.scrollingElement.scrollWidth")


def test_every_step_fits_a_phone_screen(page, site):
    page.set_viewport_size({"width": 375, "height": 740})
    page.goto(f"{site.page_url}?date={a_day(11)}")
    expect(page.locator(".times .slot").first).to_be_visible()
    assert scroll_width(page) <= 375
    # The zone detection may swap the month grid in just now: wait until a day is laid out.
    page.wait_for_load_state("networkidle")
    day = page.locator("a.day.open").first
    expect(day).to_be_visible()
    day_box = day.bounding_box()
    assert day_box["width"] >= 36 and day_box["height"] >= 40  # thumb-sized
    page.locator(".times .slot").first.click()
    expect(page.get_by_label("Your name")).to_be_visible()
    assert scroll_width(page) <= 375
    # A long address must wrap, not widen the page.
    fill_details(page, "Pat Phone", "pat.with.a.rather.long.address@subdomain.example.org")
    page.get_by_role("button", name="Confirm booking").click()
    expect(page.get_by_role("heading", name="You are booked")).to_be_visible()
    assert scroll_width(page) <= 375
    page.get_by_role("link", name="Reschedule").click()
    expect(page.get_by_role("heading", name="Pick a new time")).to_be_visible()
    assert scroll_width(page) <= 375


# --- the zone picker ----------------------------------------------------------------------

KOLKATA = ZoneInfo("Asia/Kolkata")


@pytest.mark.parametrize("width, height", [(1280, 800), (390, 844)])
def test_keyboard_alone_searches_a_zone_picks_it_and_the_times_follow(
    browser, site, width, height, tmp_path
):
    context = browser.new_context(
        timezone_id="America/New_York", viewport={"width": width, "height": height}
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    day = a_day(12)
    fragments: list[int] = []
    page.on(
        "response",
        lambda r: fragments.append(len(r.body())) if r.request.headers.get("hx-request") else None,
    )
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        page.goto(f"{site.page_url}?tz=Europe/Berlin&clock=24&date={day}")
        expect(page.locator(".times .slot").first).to_have_text("09:00")
        tab_to(page, "#booker-tz-search")
        search = page.locator("#booker-tz-search")
        expect(search).to_have_attribute("aria-expanded", "false")

        # Empty, the list starts with the detected zone, then the common ones.
        page.keyboard.press("ArrowDown")
        expect(search).to_have_attribute("aria-expanded", "true")
        groups = page.locator("#booker-tz-list [role=group] > .zone-group")
        expect(groups.nth(0)).to_have_text("Detected")
        expect(groups.nth(1)).to_have_text("Common")
        first = page.locator("#booker-tz-list [role=option]").first
        expect(first).to_contain_text("America/New York")
        expect(first.locator(".zone-meta")).to_contain_text(re.compile(r"UTC-0[45]:00 · \d\d:\d\d"))
        assert serious(page) == []
        page.screenshot(path=str(tmp_path / f"zone-picker-{width}.png"))
        page.keyboard.press("Escape")
        expect(search).to_have_attribute("aria-expanded", "false")

        # By offset, by a piece of a name: the matches, each with its offset and time.
        page.keyboard.type("+05:30")  # focused, the shown zone is selected: typing replaces it
        options = page.locator("#booker-tz-list [role=option]")
        expect(options.filter(has_text="Asia/Kolkata")).to_have_count(1)
        expect(options.filter(has_text="Europe/Berlin")).to_have_count(0)
        page.keyboard.press("Control+a")
        page.keyboard.type("new y")
        expect(options.first).to_contain_text("America/New York")
        page.keyboard.press("Control+a")
        page.keyboard.type("kolk")
        expect(options).to_have_count(1)
        expect(options.first).to_contain_text("UTC+05:30")
        expect(search).to_have_attribute("aria-activedescendant", options.first.get_attribute("id"))
        page.keyboard.press("Enter")

        expect(page).to_have_url(re.compile(r"tz=Asia%2FKolkata"))
        shown = twelve_or_24(at(day, 9).astimezone(KOLKATA))
        expect(page.locator(".times .slot").first).to_have_text(shown)
        expect(page.locator("#booker-tz")).to_have_value("Asia/Kolkata")
        expect(page.locator("#booker-tz-search")).to_have_value("Asia/Kolkata")
        expect(page.locator("#booker-tz-search")).to_be_focused()  # focus stays on the picker
        assert scroll_width(page) <= width
        assert serious(page) == []

        # The day after, in the fragment: slots only, no zone list again.
        other = page.locator("a.day.open:not(.selected)").first
        other_day = date.fromisoformat(other.get_attribute("id").removeprefix("day-"))
        other.press("Enter")
        expect(page.locator("#times-title")).to_contain_text(f"{other_day:%b} {other_day.day}")
        expect(page.locator("#booker-tz-search")).to_have_value("Asia/Kolkata")
        expect(page.locator("#booker-tz")).to_be_hidden()
        assert len(fragments) == 2 and max(fragments) < 25_000
        page.screenshot(path=str(tmp_path / f"zone-picked-{width}.png"), full_page=True)
        assert errors == []
    finally:
        context.close()


def twelve_or_24(moment: datetime) -> str:
    return f"{moment:%H:%M}"


def test_without_javascript_the_grouped_select_still_changes_the_zone(browser, site):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.set_default_timeout(15_000)
    day = a_day(12)
    try:
        page.goto(f"{site.page_url}?tz=Europe/Berlin&clock=24&date={day}")
        expect(page.locator(".times .slot").first).to_have_text("09:00")
        page.get_by_label("Time zone").select_option("Asia/Kolkata")
        page.get_by_role("button", name="Show").click()
        expect(page).to_have_url(re.compile(r"tz=Asia%2FKolkata"))
        shown = twelve_or_24(at(day, 9).astimezone(KOLKATA))
        expect(page.locator(".times .slot").first).to_have_text(shown)
    finally:
        context.close()
