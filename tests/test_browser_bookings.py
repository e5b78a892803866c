"""The owner's bookings in a real Chromium against a real server, at 1280×800
and 390×844: the list's tabs and search, a booking in full, confirming from
the list; axe finds no serious or critical problem, and on a phone every
action is on screen without scrolling sideways.

Screenshots go to docs/screenshots/ when CALMESH_SCREENSHOTS=1, else to the
test's temporary folder (as in tests/test_browser_owner.py).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.sync_api import Page, expect

from calmesh.services.booking_pages import DAYS
from tests.conftest import start_server, stop_server
from tests.test_browser_booking import serious
from tests.test_browser_owner import shots

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore:unclosed file .*server.log:ResourceWarning"),
]

BERLIN = ZoneInfo("Europe/Berlin")
OWNER = ("--email", "olivia@example.org", "--handle", "olivia", "--name", "Olivia Owner")
PASSWORD = "olivia-pass-123"
QUESTIONS = [
    {"id": "company", "label": "Company", "type": "short_text", "required": False},
    {"id": "agenda", "label": "What should we cover?", "type": "long_text", "required": False},
]
PAGES = [
    {"slug": "intro-call", "title": "Intro call", "requires_confirmation": True},
    {"slug": "review", "title": "Project review", "duration": 60},
]
WIDTHS = [(1280, 800), (390, 844)]


def at(days: int, hour: int) -> str:
    day = datetime.now(BERLIN).date() + timedelta(days=days)
    moment = datetime.combine(day, time(hour), BERLIN)
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    server = start_server(tmp_path_factory.mktemp("owner-bookings"))
    try:
        made = server.cli(
            "create-user", *OWNER, "--timezone", "Europe/Berlin", "--password", PASSWORD
        )
        assert made.returncode == 0, made.stderr
        key = server.cli("create-api-key", "--user", "olivia", "--scope", "full")
        token = key.stdout.strip().splitlines()[-1]
        with httpx.Client(
            base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=30
        ) as api:
            calendar = {"slug": "work", "name": "Work", "timezone": "Europe/Berlin"}
            assert api.post("/api/v1/calendars", json=calendar).status_code == 201
            for page in PAGES:
                body = {
                    "calendar": "work",
                    "timezone": "Europe/Berlin",
                    "weekly_hours": {d: [["09:00", "17:00"]] for d in DAYS},
                    "min_notice": 0,
                    "location": "Video call",
                    "questions": QUESTIONS,
                    **page,
                }
                assert api.post("/api/v1/booking-pages", json=body).status_code == 201
            uids = {}
            for slug, name, email, days, hour, answers, notes in (
                (
                    "intro-call",
                    "Vera Visitor",
                    "vera@example.net",
                    2,
                    10,
                    {
                        "company": "Acme Rockets",
                        "agenda": "Pricing for 40 seats\nand the migration plan",
                    },
                    "I can only do mornings. Please send the video link a day ahead.",
                ),
                (
                    "intro-call",
                    "Sam Example-Longname",
                    "sam.example.longname@subdomain.example.com",
                    3,
                    14,
                    {"company": "Initech"},
                    "",
                ),
                ("review", "Lee Late", "lee@example.net", 4, 11, {}, ""),
                ("review", "Ann Gone", "ann@example.net", 5, 9, {}, ""),
            ):
                booked = httpx.post(
                    f"{server.url}/api/v1/booking-pages/{slug}/book",
                    json={
                        "start": at(days, hour),
                        "attendee": {"name": name, "email": email, "timezone": "America/New_York"},
                        "answers": answers,
                        "notes": notes,
                    },
                    timeout=30,
                )
                assert booked.status_code == 201, booked.text
                uids[name] = booked.json()["uid"]
            moved = api.post(
                f"/api/v1/bookings/{uids['Vera Visitor']}/reschedule",
                json={"start": at(2, 11), "reason": "A clash with the team meeting"},
            )
            assert moved.status_code == 200, moved.text
            cancelled = api.patch(
                f"/api/v1/bookings/{uids['Ann Gone']}/cancel", json={"reason": "Project paused"}
            )
            assert cancelled.status_code == 200, cancelled.text
        yield server, uids
    finally:
        stop_server(server)


def signed_in(browser, server, width: int, height: int) -> Page:
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto(server.url + "/login")
    page.get_by_label("E-mail or handle").fill("olivia")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/dashboard$"))
    return page


def no_sideways_scroll(page: Page, width: int) -> None:
    assert page.evaluate("document.scrollingElement.scrollWidth") <= width


def within(page: Page, locator, width: int) -> None:
    """Every visible element of ``locator`` is on screen between 0 and ``width``."""
    shown = [locator.nth(i) for i in range(locator.count()) if locator.nth(i).is_visible()]
    assert shown
    for element in shown:
        box = element.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= width, box


@pytest.mark.parametrize(("width", "height"), WIDTHS)
def test_the_list_has_tabs_search_and_cards_that_fit(browser, site, width, height, tmp_path):
    server, _ = site
    page = signed_in(browser, server, width, height)
    try:
        page.goto(server.url + "/bookings")
        expect(page.get_by_role("link", name=re.compile(r"^Bookings 2"))).to_be_visible()
        cards = page.locator(".booking-card")
        expect(cards).to_have_count(3)  # upcoming: not the cancelled one
        titles = cards.locator(".booking-title").all_inner_texts()
        assert titles == [
            "Intro call with Vera Visitor",
            "Intro call with Sam Example-Longname",
            "Project review with Lee Late",
        ]
        no_sideways_scroll(page, width)
        within(page, page.locator(".booking-actions summary, .booking-actions button"), width)
        page.screenshot(path=str(shots(tmp_path) / f"bookings-{width}.png"), full_page=True)
        assert serious(page) == []

        page.get_by_role("link", name=re.compile("^Unconfirmed")).click()
        expect(cards).to_have_count(2)
        page.get_by_role("link", name=re.compile("^Cancelled")).click()
        expect(cards).to_have_count(1)
        expect(cards.first).to_contain_text("Project paused")
        page.get_by_role("link", name=re.compile("^Upcoming")).click()
        page.get_by_role("searchbox", name="Search").fill("lee@")
        expect(cards).to_have_count(1)
        expect(cards.first).to_contain_text("Lee Late")
        assert serious(page) == []
    finally:
        page.context.close()


@pytest.mark.parametrize(("width", "height"), WIDTHS)
def test_a_booking_in_full_with_its_actions_on_screen(browser, site, width, height, tmp_path):
    server, _ = site
    page = signed_in(browser, server, width, height)
    try:
        page.goto(server.url + "/bookings")
        page.get_by_role("link", name="Intro call with Vera Visitor").click()
        expect(page.get_by_role("heading", name="Intro call with Vera Visitor")).to_be_visible()
        expect(page.locator(".answers")).to_contain_text("Acme Rockets")
        expect(page.locator(".answers")).to_contain_text("Pricing for 40 seats")
        expect(page.get_by_text("I can only do mornings.")).to_be_visible()
        expect(page.get_by_text("America/New_York").first).to_be_visible()
        history = page.locator(".history li")
        expect(history).to_have_count(2)
        expect(history.nth(0)).to_contain_text("Requested by Vera Visitor")
        expect(history.nth(1)).to_contain_text("Rescheduled by you")
        expect(history.nth(1)).to_contain_text("A clash with the team meeting")
        expect(
            page.get_by_text("a request goes into your calendar once you confirm it")
        ).to_be_visible()
        no_sideways_scroll(page, width)
        within(page, page.locator("#actions button, #actions summary"), width)
        page.screenshot(path=str(shots(tmp_path) / f"booking-detail-{width}.png"), full_page=True)
        assert serious(page) == []
        page.locator("#actions summary", has_text="Reschedule…").click()
        expect(page.get_by_label("New start")).to_be_visible()
        within(page, page.locator("#actions input, #actions button"), width)
        assert serious(page) == []
    finally:
        page.context.close()


def test_confirming_from_the_list_swaps_the_card_and_the_count_follows(browser, site):
    server, uids = site
    page = signed_in(browser, server, 390, 844)
    try:
        page.goto(server.url + "/bookings?tab=unconfirmed")
        card = page.locator(f"#booking-{uids['Sam Example-Longname']}")
        card.get_by_role("button", name=re.compile("^Confirm")).click()
        expect(card.get_by_role("status")).to_have_text("Confirmed.")
        expect(card.locator(".badge.accepted")).to_be_visible()
        page.reload()
        expect(page.get_by_role("link", name=re.compile(r"^Bookings 1"))).to_be_visible()
    finally:
        page.context.close()


@pytest.mark.parametrize(("width", "height"), WIDTHS)
def test_the_profile_sets_the_clock_and_passes_axe(browser, site, width, height, tmp_path):
    server, _ = site
    page = signed_in(browser, server, width, height)
    try:
        page.goto(server.url + "/profile")
        no_sideways_scroll(page, width)
        assert serious(page) == []
        page.get_by_label("12-hour (2:30pm)").check()
        page.get_by_label("Weeks start on").select_option(label="Sunday")
        page.get_by_role("button", name="Save", exact=True).click()
        expect(page.get_by_text("Profile saved.")).to_be_visible()
        expect(page.get_by_label("12-hour (2:30pm)")).to_be_checked()
        page.goto(server.url + "/bookings")
        times = page.locator(".booking-when strong").all_inner_texts()
        assert times and all(re.fullmatch(r"\d{1,2}:\d\d[ap]m–\d{1,2}:\d\d[ap]m", t) for t in times)
        page.goto(server.url + "/profile")
        page.get_by_label("24-hour (14:30)").check()
        page.get_by_role("button", name="Save", exact=True).click()
        expect(page.get_by_text("Profile saved.")).to_be_visible()
        assert serious(page) == []
        page.screenshot(path=str(shots(tmp_path) / f"profile-{width}.png"), full_page=True)
    finally:
        page.context.close()
