"""A poll in a real Chromium against a real server: a participant votes on the
public page in their own zone, comes back through the edit link on another
device and changes a vote; the owner signs in, reads the heat-map and decides.

The owner and the poll are made as a script would: the CLI, then the REST API
with a key. Screenshots of both pages are left in the test's temporary folder.
"""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.conftest import start_server, stop_server

pytestmark = [
    pytest.mark.slow,
    # conftest.start_server leaks its log file object (see the report); nothing else.
    pytest.mark.filterwarnings("ignore:unclosed file .*server.log:ResourceWarning"),
]

OWNER = {"handle": "olivia", "email": "olivia@example.org", "password": "olivia-pass-123"}
# US summer time has begun on 10 March 2031, Europe's has not: New York is UTC-4.
OPTIONS = [
    {"start": "2031-03-10T17:00:00Z", "end": "2031-03-10T18:00:00Z"},
    {"start": "2031-03-11T17:00:00Z", "end": "2031-03-11T18:00:00Z"},
    {"start": "2031-03-12T17:00:00Z", "end": "2031-03-12T18:00:00Z"},
]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    live = start_server(tmp_path_factory.mktemp("poll"), workers=2)
    made = live.cli(
        "create-user", "--email", OWNER["email"], "--handle", OWNER["handle"],
        "--password", OWNER["password"], "--name", "Olivia Owner", "--timezone", "Europe/Berlin",
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    yield live
    stop_server(live)


@pytest.fixture(scope="module")
def api(server):
    issued = server.cli("create-api-key", "--user", OWNER["handle"], "--scope", "book")
    assert issued.returncode == 0, issued.stderr
    key = issued.stdout.strip().splitlines()[-1]
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {key}"}) as client:
        yield client


def serious(page: Page) -> list[str]:
    """axe-core's serious and critical findings on the page as it is now."""
    from axe_playwright_python.sync_playwright import Axe

    found = Axe().run(page).response["violations"]
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']]}"
        for v in found
        if v["impact"] in ("serious", "critical")
    ]


def new_context(browser: Browser, zone: str):
    context = browser.new_context(timezone_id=zone, viewport={"width": 1100, "height": 900})
    context.set_default_timeout(15_000)
    return context


def test_vote_edit_through_the_link_then_the_owner_decides_from_the_heat_map(
    browser, server, api, tmp_path
):
    made = api.post(
        "/api/v1/polls",
        json={
            "title": "Quarterly planning",
            "description": "Two hours, with lunch.",
            "location": "Room 4",
            "timezone": "Europe/Berlin",
            "options": OPTIONS,
        },
    )
    assert made.status_code == 201, made.text
    poll = made.json()
    pid = poll["id"]

    # --- a participant in New York votes ---------------------------------------------------
    visitor = new_context(browser, "America/New_York")
    page = visitor.new_page()
    page.goto(poll["url"])
    # The page learns the visitor's zone and shows the times in it.
    expect(page).to_have_url(re.compile(r"tz=America%2FNew_York"))
    expect(page.get_by_label("Time zone")).to_have_value("America/New_York")
    choices = page.get_by_role("group")
    expect(choices).to_have_count(3)
    # In the visitor's language (en-US): its dates, its 12-hour clock.
    expect(choices.nth(0)).to_have_accessible_name("Mon, Mar 10, 2031, 1:00 PM–2:00 PM")
    # No answer is given for them: nothing is checked until the visitor chooses.
    expect(page.locator(".poll-choices input:checked")).to_have_count(0)
    assert serious(page) == []

    page.get_by_label("Your name").fill("Vera Visitor")
    page.get_by_label("E-mail (optional)").fill("vera@example.net")
    choices.nth(0).locator("label", has_text="Yes").click()
    choices.nth(1).locator("label", has_text="If need be").click()
    # The third is left alone: "no answer", not a "No".
    expect(choices.nth(2).locator("input:checked")).to_have_count(0)
    page.get_by_role("button", name="Save my vote").click()

    expect(page.get_by_role("status")).to_contain_text("Your vote is saved")
    expect(page.get_by_role("heading", name="Change your vote")).to_be_visible()
    row = page.locator("table.poll-grid tbody tr", has_text="Vera Visitor")
    expect(row.locator("td.vote")).to_have_class(
        [re.compile("yes"), re.compile("ifneedbe"), re.compile("none")]
    )
    # The same browser back on the plain link is still Vera (a signed cookie): no second row.
    page.goto(poll["url"] + "?tz=America/New_York")
    expect(page.get_by_role("heading", name="Change your vote")).to_be_visible()
    expect(page.get_by_label("Your name")).to_have_value("Vera Visitor")
    expect(page.locator("table.poll-grid tbody tr")).to_have_count(1)
    edit_link = page.get_by_role("textbox", name="Edit link").input_value()
    assert f"/p/{pid}?token=" in edit_link
    assert serious(page) == []
    page.screenshot(path=str(tmp_path / "poll-public.png"), full_page=True)
    visitor.close()

    # --- later, on another device, through the edit link ------------------------------------
    phone = new_context(browser, "America/New_York")
    page = phone.new_page()
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(edit_link)
    expect(page.get_by_role("heading", name="Change your vote")).to_be_visible()
    expect(page.get_by_label("Your name")).to_have_value("Vera Visitor")
    choices = page.get_by_role("group")
    expect(choices.nth(1).get_by_role("radio", name="If need be")).to_be_checked()
    choices.nth(1).locator("label", has_text="Yes").click()
    page.get_by_role("button", name="Save my changes").click()
    expect(page.get_by_role("status")).to_contain_text("Your vote is changed")
    assert page.evaluate("document.scrollingElement.scrollWidth") <= 390
    page.screenshot(path=str(tmp_path / "poll-public-phone.png"), full_page=True)
    phone.close()
    token = edit_link.split("token=")[1]
    mine = httpx.get(f"{server.url}/api/v1/polls/{pid}/public", params={"token": token}).json()
    assert [v["value"] for v in mine["you"]["votes"]] == ["yes", "yes"]  # the third unanswered

    # --- the owner reads the heat-map and decides -----------------------------------------
    owner = new_context(browser, "Europe/Berlin")
    page = owner.new_page()
    page.goto(server.url + "/login")
    page.get_by_label("E-mail or handle").fill(OWNER["handle"])
    page.get_by_label("Password").fill(OWNER["password"])
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("navigation", name="Sections").get_by_role("link", name="Polls").click()
    page.get_by_role("link", name="Quarterly planning").click()

    grid = page.locator("#heat-map")
    expect(grid).to_be_visible()
    columns = grid.locator("thead th.opt")
    expect(columns).to_have_count(3)
    # Both yes (score 2) share the lead, the earlier first; Berlin time for the owner.
    expect(columns.nth(0)).to_contain_text("18:00–19:00")
    expect(columns.nth(0)).to_contain_text("10")
    expect(columns.nth(0)).to_contain_text("Best")
    expect(columns.nth(2)).to_contain_text("12")
    expect(grid.locator("tbody tr", has_text="Vera Visitor")).to_contain_text("vera@example.net")
    assert serious(page) == []
    page.screenshot(path=str(tmp_path / "poll-heat-map.png"), full_page=True)

    page.get_by_role("link", name="Pick Mon 10 Mar 2031, 18:00–19:00").click()
    expect(page.get_by_role("heading", name="Decide on this time?")).to_be_visible()
    page.get_by_role("button", name="Decide", exact=True).click()  # notifying, the default
    expect(page.get_by_role("status")).to_contain_text("Decided.")
    expect(columns.nth(0)).to_contain_text("Decided")
    expect(page.get_by_role("button", name="Reopen (withdraws the decision)")).to_be_visible()
    owner.close()

    decided = api.get(f"/api/v1/polls/{pid}").json()
    assert decided["status"] == "closed"
    assert decided["decided_option_id"] == poll["options"][0]["id"]
    public = httpx.get(poll["url"]).text
    assert "It is decided:" in public and "vera@example.net" not in public


def test_a_participant_votes_with_the_keyboard_alone(browser, server, api):
    made = api.post(
        "/api/v1/polls",
        json={"title": "Keyboard", "timezone": "Europe/Berlin", "options": OPTIONS[:2]},
    )
    assert made.status_code == 201, made.text
    poll = made.json()
    context = new_context(browser, "Europe/Berlin")
    page = context.new_page()
    page.goto(poll["url"])

    page.get_by_label("Your name").focus()
    page.keyboard.type("Kim Keys")
    page.keyboard.press("Tab")
    expect(page.get_by_label("E-mail (optional)")).to_be_focused()
    page.keyboard.press("Tab")  # into the first option's choices: none is chosen yet
    page.keyboard.press("Space")  # its first, "Yes"
    page.keyboard.press("Tab")  # the second option's choices
    page.keyboard.press("Space")
    page.keyboard.press("ArrowRight")  # "If need be"
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Save my vote")).to_be_focused()
    page.keyboard.press("Enter")

    expect(page.get_by_role("status")).to_contain_text("Your vote is saved")
    context.close()
    shown = httpx.get(f"{server.url}/api/v1/polls/{poll['id']}/public").json()
    assert [(p["name"], [v["value"] for v in p["votes"]]) for p in shown["participants"]] == [
        ("Kim Keys", ["yes", "ifneedbe"])
    ]


def test_the_zone_is_found_with_one_page_load_and_a_phone_gets_one_option_per_row(
    browser, server, api, tmp_path
):
    made = api.post(
        "/api/v1/polls",
        json={"title": "Zones", "timezone": "Europe/Berlin", "options": OPTIONS},
    )
    assert made.status_code == 201, made.text
    poll = made.json()
    context = new_context(browser, "America/New_York")
    page = context.new_page()
    page.set_viewport_size({"width": 390, "height": 844})
    loads, pieces = [], []
    page.on("request", lambda r: (loads if r.resource_type == "document" else pieces).append(r))
    page.goto(poll["url"])
    page.get_by_label("Your name").fill("Pia Phone")  # typed while the zone is being found

    expect(page).to_have_url(re.compile(r"tz=America%2FNew_York"))
    choices = page.get_by_role("group")
    expect(choices.nth(0)).to_have_accessible_name("Mon, Mar 10, 2031, 1:00 PM–2:00 PM")
    assert len(loads) == 1  # no reload in the detected zone
    zoned = [r for r in pieces if r.headers.get("hx-request") == "true"]
    assert len(zoned) == 1 and "Africa/Abidjan" not in zoned[0].response().text()
    expect(page.get_by_label("Your name")).to_have_value("Pia Phone")

    # One option per row with its tally, not a table to scroll sideways.
    expect(page.locator("table.poll-grid")).to_be_hidden()
    expect(page.locator(".poll-list > li")).to_have_count(3)
    expect(page.locator(".poll-list > li").nth(0)).to_contain_text("1:00 PM–2:00 PM")
    choices.nth(0).locator("label", has_text="Yes").click()
    page.get_by_role("button", name="Save my vote").click()
    expect(page.get_by_role("status")).to_contain_text("Your vote is saved")
    first = page.locator(".poll-list > li").nth(0)
    expect(first.locator(".vote.yes")).to_have_text(re.compile("Pia Phone"))
    expect(choices.nth(0).locator(".tally .count.yes")).to_contain_text("1")
    assert page.evaluate("document.scrollingElement.scrollWidth") <= 390
    assert serious(page) == []
    page.screenshot(path=str(tmp_path / "poll-phone-list.png"), full_page=True)

    # Another zone chosen: again only the pieces, and the address follows.
    page.get_by_label("Time zone").select_option("Asia/Tokyo")
    expect(choices.nth(0)).to_have_accessible_name("Tue, Mar 11, 2031, 2:00 AM–3:00 AM")
    expect(page).to_have_url(re.compile(r"tz=Asia%2FTokyo"))
    assert [r.method for r in loads] == ["GET", "POST", "GET"]  # the vote, its redirect
    href = page.get_by_role("link", name="Deutsch").get_attribute("href")
    assert "tz=Asia%2FTokyo" in href and "lang=de" in href
    context.close()

    # Without JavaScript: the poll's zone, and a button to show another.
    plain = browser.new_context(java_script_enabled=False, timezone_id="America/New_York")
    page = plain.new_page()
    page.goto(poll["url"])
    expect(page.get_by_role("group").nth(0)).to_have_accessible_name(
        "Mon, Mar 10, 2031, 6:00 PM–7:00 PM"
    )
    page.get_by_label("Time zone").select_option("America/New_York")
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_role("group").nth(0)).to_have_accessible_name(
        "Mon, Mar 10, 2031, 1:00 PM–2:00 PM"
    )
    plain.close()
