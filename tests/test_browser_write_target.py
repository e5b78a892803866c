"""Where bookings go, in a real Chromium against a real server and Radicale, at
1280×800 and 390×844: the unified calendar's "Bookings go to" offers the two
writable Radicale calendars and never the iCal feed, the choice is kept, the
booking pages list says where each page's bookings go; axe finds no serious
or critical problem."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import expect

from calmesh.services.booking_pages import DAYS
from tests.conftest import start_server, stop_server
from tests.providers import conftest as dav_fixtures
from tests.providers.feeds import FeedServer
from tests.test_browser_booking import serious
from tests.test_browser_bookings import PASSWORD, WIDTHS, no_sideways_scroll, shots, signed_in

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore:unclosed file .*server.log:ResourceWarning"),
]

radicale = dav_fixtures.radicale
FEED = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nEND:VCALENDAR\r\n"


@pytest.fixture(scope="module")
def site(tmp_path_factory, radicale):
    server = start_server(tmp_path_factory.mktemp("write-target"))
    feeds = FeedServer()
    feeds.__enter__()
    try:
        made = server.cli(
            "create-user", "--email", "olivia@example.org", "--handle", "olivia",
            "--timezone", "Europe/Berlin", "--password", PASSWORD,
        )  # fmt: skip
        assert made.returncode == 0, made.stderr
        key = server.cli("create-api-key", "--user", "olivia", "--scope", "full")
        token = key.stdout.strip().splitlines()[-1]
        feeds.set("holidays.ics", FEED)
        first, second = radicale.new_calendar("Work bookings"), radicale.new_calendar("Private")
        with httpx.Client(
            base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=60
        ) as api:
            ics = api.post(
                "/api/v1/connections/ics",
                json={"name": "Holidays", "url": feeds.url_for("holidays.ics")},
            )
            assert ics.status_code == 201, ics.text
            dav = api.post(
                "/api/v1/connections/caldav",
                json={
                    "name": "Radicale",
                    "url": radicale.url,
                    "username": radicale.username,
                    "password": radicale.password,
                },
            )
            assert dav.status_code == 201, dav.text
            remotes = {c["remote_id"].rstrip("/"): c["id"] for c in dav.json()["calendars"]}
            calendar = {"slug": "work", "name": "Work", "timezone": "Europe/Berlin"}
            assert api.post("/api/v1/calendars", json=calendar).status_code == 201
            for body in (
                {"connection_id": ics.json()["id"]},
                {
                    "connection_id": dav.json()["id"],
                    "remote_calendar_id": remotes[first.rstrip("/")],
                },
                {
                    "connection_id": dav.json()["id"],
                    "remote_calendar_id": remotes[second.rstrip("/")],
                },
            ):
                added = api.post("/api/v1/calendars/work/sources", json=body)
                assert added.status_code == 201, added.text
            page = {
                "slug": "intro",
                "title": "Intro call",
                "calendar": "work",
                "timezone": "Europe/Berlin",
                "weekly_hours": {d: [["09:00", "17:00"]] for d in DAYS},
            }
            assert api.post("/api/v1/booking-pages", json=page).status_code == 201
        yield server, remotes[second.rstrip("/")]
    finally:
        feeds.__exit__(None, None, None)
        stop_server(server)


@pytest.mark.parametrize(("width", "height"), WIDTHS)
def test_bookings_go_to_a_writable_calendar_chosen_on_the_calendar_page(
    browser, site, width, height, tmp_path
):
    server, private = site
    page = signed_in(browser, server, width, height)
    try:
        page.goto(server.url + "/calendars/work")
        choice = page.get_by_label("Bookings go to")
        options = choice.locator("option").all_inner_texts()
        assert options == ["Work bookings · Radicale", "Private · Radicale"]
        assert not any("Holidays" in o for o in options)
        # "Add" offers what is not in the calendar yet: not the two calendars, not the feed.
        addable = page.locator("#f-source option").all_inner_texts()
        assert "Radicale (all calendars)" in addable
        assert not {
            "Radicale · Work bookings",
            "Radicale · Private",
            "Holidays (all calendars)",
        } & set(addable)
        no_sideways_scroll(page, width)
        assert serious(page) == []
        page.locator("#write-target").screenshot(
            path=str(shots(tmp_path) / f"write-target-{width}.png")
        )

        choice.select_option(str(private))
        page.locator("#write-target").get_by_role("button", name="Save").click()
        expect(page.get_by_text("Bookings go to Private.")).to_be_visible()
        expect(page.get_by_label("Bookings go to")).to_have_value(str(private))
        page.goto(server.url + "/booking-pages")
        expect(page.get_by_text(re.compile("bookings go to Private"))).to_be_visible()
        # Back to the first, for the other width.
        page.goto(server.url + "/calendars/work")
        page.get_by_label("Bookings go to").select_option(index=0)
        page.locator("#write-target").get_by_role("button", name="Save").click()
        expect(page.get_by_text("Bookings go to Work bookings.")).to_be_visible()
    finally:
        page.context.close()
