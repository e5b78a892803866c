"""The owner's Overview, week grid, booking-page editor and polls in a real Chromium
at 1280×800 and 390×844: axe-core finds nothing serious, nothing scrolls sideways,
and the interactive parts work by keyboard alone.

The owner is made with the CLI; calendars, events and bookings are written into
the server's database as a finished sync leaves them (tests/factories.py).
Screenshots go to docs/screenshots/ when CALMESH_SCREENSHOTS=1, else to the
test's temporary folder.
"""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import make_app, start_server, stop_server
from tests.test_browser_poll import serious  # axe-core's serious and critical findings

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore:unclosed file .*server.log:ResourceWarning"),
]

PASSWORD = "olivia-pass-123"
BERLIN = ZoneInfo("Europe/Berlin")
POLL = {
    "title": "Team offsite",
    "timezone": "Europe/Berlin",
    "location": "Lisbon",
    "options": [
        {"start": "2030-03-04T09:00:00+01:00", "end": "2030-03-04T12:00:00+01:00"},
        {"start": "2030-03-05T09:00:00+01:00", "end": "2030-03-05T12:00:00+01:00"},
        {"start": "2030-03-07T14:00:00+01:00", "end": "2030-03-07T17:00:00+01:00"},
    ],
}
WIDTHS = {"desktop": (1280, 800), "phone": (390, 844)}
DOCS = Path(__file__).parents[1] / "docs" / "screenshots"


def shots(tmp_path: Path) -> Path:
    return DOCS if os.environ.get("CALMESH_SCREENSHOTS") == "1" else tmp_path


def berlin(day, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), BERLIN).astimezone(UTC)


def seed(tmp_path: Path, url: str) -> None:
    """A calendar with two sources, overlapping events, an all-day event, a booking
    page with weekday hours and two bookings this week, in the server's database."""
    from calmesh import db
    from calmesh.effects import poll_writeback
    from calmesh.models import Booking, BookingPage, OutboxItem, Poll, PollOption, User
    from calmesh.services import calendars, polls
    from tests.factories import add_event, make_connection

    app = make_app(tmp_path, database_url=url)  # the server's data folder: its keys
    with app.app_context(), db.db.connection_context():
        olivia = User.get(User.handle == "olivia")
        work = calendars.create(olivia, "work", "Work", "Europe/Berlin")
        sources = [make_connection(olivia, name=n) for n in ("Radicale", "Family")]
        for connection in sources:
            calendars.add_source(work, connection.id)
        radicale, family = (c.calendars.get() for c in sources)
        today = datetime.now(BERLIN).date()
        monday = today - timedelta(days=today.weekday())
        tue, wed, thu = (monday + timedelta(days=n) for n in (1, 2, 3))
        add_event(radicale, berlin(monday, 9), berlin(monday, 10), "Stand-up")
        add_event(radicale, berlin(tue, 10), berlin(tue, 11, 30), "Planning")
        add_event(family, berlin(tue, 11), berlin(tue, 12), "Dentist")  # conflicts
        add_event(radicale, berlin(wed, 14), berlin(wed, 15), "Review")
        add_event(radicale, berlin(wed, 14, 30), berlin(wed, 16), "Design crit")
        add_event(family, thu, thu + timedelta(days=2), "School trip")  # all day, 2 days
        page = BookingPage.create(
            user=olivia,
            slug="intro-call",
            title="Intro call",
            calendar=work,
            timezone="Europe/Berlin",
            durations=[30],
            weekly_hours={str(d): [["09:00", "17:00"]] for d in range(5)},
            min_notice=0,
        )
        poll = polls.create(olivia, polls.NEW_POLL.parse(POLL))
        first, second = list(PollOption.of(poll))[:2]
        for name, answers in (("Vera", ("yes", "ifneedbe")), ("Sam", ("no", "yes"))):
            votes = [
                {"option_id": o.id, "value": v}
                for o, v in zip((first, second), answers, strict=True)
            ]
            polls.vote(poll, name, f"{name.lower()}@example.net", votes)
        polls.comment(poll, "Vera", "Thursday works better for me, if that helps.")
        # Decided polls whose event could not be written (as the outbox leaves them).
        for title in ("Board dinner", "Board lunch"):
            decided = polls.create(olivia, polls.NEW_POLL.parse({**POLL, "title": title}))
            first_option = PollOption.of(decided).first().id
            Poll.update(status="closed", decided_option_id=first_option).where(
                Poll.id == decided.id
            ).execute()
            OutboxItem.create(
                user=olivia,
                kind=poll_writeback.KIND,
                payload={"poll": decided.public_id},
                ordering_key=poll_writeback.ordering_key(decided.public_id),
                status="failed",
                last_error="the calendar server refused the event (403)",
            )
        broken = make_connection(olivia, name="Google")
        broken.status, broken.last_error = "auth_required", "The token was revoked: sign in again."
        broken.save()
        now = datetime.now(BERLIN)
        for day, hour, status, name in (
            (wed, 10, "accepted", "Ana"),
            # A request is always ahead: this week's Thursday was in the past
            # by Thursday afternoon.
            (now.date() + timedelta(days=1), 15, "pending", "Ben"),
            (now.date(), min(now.hour + 1, 23), "accepted", "Carla"),
            (now.date() + timedelta(days=3), 11, "accepted", "Dev"),
        ):
            Booking.create(
                page=page,
                user=olivia,
                start=berlin(day, hour),
                end=berlin(day, hour, 30),
                status=status,
                attendee_name=name,
                attendee_email=f"{name.lower()}@example.net",
                attendee_timezone="Europe/Lisbon",
            )
    db.db.close()


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    folder = tmp_path_factory.mktemp("owner")
    server = start_server(folder, workers=2)
    try:
        made = server.cli(
            "create-user", "--email", "olivia@example.org", "--handle", "olivia",
            "--name", "Olivia Owner", "--password", PASSWORD, "--timezone", "Europe/Berlin",
        )  # fmt: skip
        assert made.returncode == 0, made.stderr
        fresh = server.cli(
            "create-user", "--email", "nina@example.org", "--handle", "nina",
            "--name", "Nina New", "--password", PASSWORD, "--timezone", "Europe/Berlin",
        )  # fmt: skip
        assert fresh.returncode == 0, fresh.stderr
        seed(folder, server.env["CALMESH_DATABASE_URL"])
        yield server
    finally:
        stop_server(server)


@pytest.fixture
def owner(browser, site):
    """A signed-in page per width: ``owner("phone")``."""
    contexts = []

    def open_at(width: str, handle: str = "olivia") -> Page:
        w, h = WIDTHS[width]
        context = browser.new_context(
            viewport={"width": w, "height": h}, timezone_id="Europe/Berlin"
        )
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.new_page()
        page.goto(site.url + "/login")
        page.get_by_label("E-mail or handle").fill(handle)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        expect(page.locator("h1")).to_be_visible()
        return page

    yield open_at
    for context in contexts:
        context.close()


def no_sideways_scroll(page: Page) -> None:
    width = page.viewport_size["width"]
    assert page.evaluate("document.documentElement.scrollWidth") <= width


# --- the week grid ---------------------------------------------------------------------------


@pytest.mark.parametrize("width", ["desktop", "phone"])
def test_the_week_grid_places_events_and_passes_axe(owner, site, width, tmp_path):
    page = owner(width)
    page.goto(site.url + "/calendars/work")
    label = "1280" if width == "desktop" else "390"
    if width == "desktop":
        grid = page.locator("#week-grid")
        expect(grid).to_be_visible()
        planning = grid.locator(".wg-event", has_text="Planning")
        dentist = grid.locator(".wg-event", has_text="Dentist")
        expect(planning).to_have_class(re.compile(r"\bconflict\b"))
        expect(dentist).to_have_class(re.compile(r"\bconflict\b"))
        # Side by side: same day, different lanes, neither hides the other.
        a, b = planning.bounding_box(), dentist.bounding_box()
        assert a["x"] + a["width"] <= b["x"] + 1 and b["y"] > a["y"]
        # Sized by time: 90 minutes are 1.5 times as tall as 60 (within a pixel of margin).
        assert abs(a["height"] / b["height"] - 1.5) < 0.1
        expect(grid.locator(".wg-event.booking", has_text="Ana")).to_be_visible()
        expect(grid.locator(".wg-chip", has_text="School trip")).to_have_count(2)
        expect(grid.locator(".wg-now")).to_have_count(1)
        expect(grid.locator(".wg-open").first).to_be_attached()
        grid.scroll_into_view_if_needed()
        page.wait_for_function("document.querySelector('#week-grid').scrollTop > 0")
    else:
        expect(page.locator("#week-grid")).to_be_hidden()
        expect(page.locator(".week-list")).to_be_visible()
        expect(page.locator(".week-list .event.booking", has_text="Ana")).to_be_visible()
    no_sideways_scroll(page)
    assert serious(page) == []
    page.locator(".week-card").screenshot(path=str(shots(tmp_path) / f"week-{label}.png"))


def test_the_arrow_keys_on_the_grid_change_the_week(owner, site):
    page = owner("desktop")
    page.goto(site.url + "/calendars/work")
    heading = page.locator("#week-title").inner_text()
    page.locator("#week-grid").focus()
    page.keyboard.press("ArrowRight")
    expect(page).to_have_url(re.compile(r"week=\d{4}-\d{2}-\d{2}"))
    expect(page.locator("#week-title")).not_to_have_text(heading)
    expect(page.locator("#week-grid")).to_be_focused()  # the grid keeps the focus
    page.keyboard.press("ArrowLeft")
    expect(page.locator("#week-title")).to_have_text(heading)
    page.keyboard.press("ArrowRight")
    page.keyboard.press("t")
    expect(page.locator("#week-title")).to_have_text(heading)


# --- the Overview ------------------------------------------------------------------------------


@pytest.mark.parametrize("width", ["desktop", "phone"])
def test_the_overview_of_a_set_up_owner_is_their_home(owner, site, width, tmp_path):
    page = owner(width)
    page.goto(site.url + "/dashboard")
    expect(page.get_by_role("heading", name="Set up CalMesh")).to_have_count(0)
    today = page.locator("section", has=page.get_by_role("heading", name=re.compile("^Today")))
    expect(today).to_contain_text("Carla")
    for item in today.locator(".agenda-item").all():  # each time above its booking
        when, who = item.locator("time").bounding_box(), item.locator("a").bounding_box()
        assert when["y"] + when["height"] <= who["y"] + 1
    requests = page.locator("section", has=page.get_by_role("heading", name=re.compile("Requests")))
    expect(requests).to_contain_text("Ben")
    expect(page.locator("section", has_text="Open polls")).to_contain_text("Vera")
    attention = page.locator("section", has_text="Needs your attention")
    expect(attention).to_contain_text("Google")
    expect(attention).to_contain_text("Decided poll not written to your calendar: Board dinner")
    no_sideways_scroll(page)
    assert serious(page) == []
    label = "1280" if width == "desktop" else "390"
    page.screenshot(path=str(shots(tmp_path) / f"overview-{label}.png"), full_page=True)


def test_a_new_owner_follows_the_checklist_by_keyboard(owner, site, tmp_path):
    page = owner("desktop", "nina")
    page.goto(site.url + "/dashboard")
    expect(page.get_by_text("0 of 4 steps done")).to_be_visible()
    assert serious(page) == []
    page.screenshot(path=str(shots(tmp_path) / "overview-first-run-1280.png"), full_page=True)
    # Tab from the top reaches the current step's button; Enter follows it.
    start = page.get_by_role("link", name="Connect a calendar")
    for _ in range(30):
        page.keyboard.press("Tab")
        if start.evaluate("el => el === document.activeElement"):
            break
    else:
        pytest.fail("the current step's button is not reachable by Tab")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/connections$"))


# --- the booking-page editor --------------------------------------------------------------------


@pytest.mark.parametrize("width", ["desktop", "phone"])
def test_the_editor_has_sections_a_live_preview_and_passes_axe(owner, site, width, tmp_path):
    page = owner(width)
    page.goto(site.url + "/booking-pages/intro-call")
    nav = page.get_by_role("navigation", name="Editor sections")
    for name in ("Basics", "Availability", "Limits", "Questions", "Confirmation", "Sharing"):
        expect(nav.get_by_role("link", name=name)).to_be_visible()
    preview = page.locator("#preview")
    page.get_by_label("Title").fill("Deep dive")
    expect(preview.locator(".preview-title")).to_have_text("Deep dive")
    page.get_by_label("Durations (minutes)").fill("45, 15")
    expect(preview.locator(".chip")).to_have_text(["45 min", "15 min"])
    if width == "desktop":
        box, form = preview.bounding_box(), page.locator("#page-form").bounding_box()
        assert box["x"] > form["x"] + form["width"] - 1, "the preview sits beside the form"
    no_sideways_scroll(page)
    assert serious(page) == []
    label = "1280" if width == "desktop" else "390"
    page.screenshot(path=str(tmp_path / f"editor-{label}-full.png"), full_page=True)
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(shots(tmp_path) / f"editor-{label}.png"))  # as the owner first sees it


def test_a_new_page_by_keyboard_slug_from_title_options_per_type_copy_hours(owner, site):
    page = owner("desktop")
    page.goto(site.url + "/booking-pages/new")
    page.get_by_label("Title").focus()
    page.keyboard.type("Café chat")
    expect(page.get_by_label("Slug")).to_have_value("cafe-chat")
    # The duration quick picks toggle their minutes in the input, in order.
    page.get_by_role("button", name="60 min").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_label("Durations (minutes)")).to_have_value("30, 60")
    expect(page.get_by_role("button", name="60 min")).to_have_attribute("aria-pressed", "true")
    # Monday's hours to every weekday, by keyboard.
    page.locator("#f-hours-mon-0-start").fill("08:30")
    page.get_by_role("button", name="Copy Mon’s hours to Mon–Fri").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#f-hours-fri-0-start")).to_have_value("08:30")
    # A question's options show only for a choice.
    page.get_by_role("button", name="+ Add a question").click()
    expect(page.locator("#f-question-0-label")).to_be_focused()
    page.keyboard.type("Team size")
    expect(page.locator("#f-question-0-options")).to_be_hidden()
    page.locator("#f-question-0-type").select_option("select")
    expect(page.locator("#f-question-0-options")).to_be_visible()
    page.locator("#f-question-0-options").fill("1-5\n6-20")
    page.get_by_role("button", name="Create booking page").click()
    expect(page).to_have_url(re.compile(r"/booking-pages/cafe-chat$"))
    expect(page.get_by_role("status").first).to_contain_text("Next: copy its link")
    expect(page.get_by_label("Durations (minutes)")).to_have_value("30, 60")


# --- polls -----------------------------------------------------------------------------------


@pytest.mark.parametrize("width", ["desktop", "phone"])
def test_poll_dates_and_times_are_picked_on_a_month_by_keyboard(owner, site, width, tmp_path):
    page = owner(width)
    page.goto(site.url + "/polls/new")
    page.get_by_label("Title").fill("Board meeting")
    grid = page.get_by_role("grid")
    expect(grid).to_be_visible()
    expect(page.locator("#f-options")).to_be_hidden()  # the typed lines fold away
    today = grid.locator("button[tabindex='0']")
    expect(today).to_have_count(1)  # one tab stop in the month
    today.focus()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("Enter")  # tomorrow
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Space")  # a week after tomorrow
    expect(grid.locator("[aria-pressed='true']")).to_have_count(2)
    page.get_by_label("Specify times").check()
    first = page.get_by_role("button", name=re.compile(r"^Add a time on ")).first
    first.click()
    expect(page.locator(".picker-slots").first.locator("li")).to_have_count(2)
    lines = page.locator("#f-options").input_value().splitlines()
    assert len(lines) == 3 and all(
        re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d-\d\d:\d\d", x) for x in lines
    )
    assert lines[0].endswith("09:00-10:00") and lines[1].endswith("10:00-11:00")
    no_sideways_scroll(page)
    assert serious(page) == []
    label = "1280" if width == "desktop" else "390"
    page.screenshot(path=str(shots(tmp_path) / f"poll-new-{label}.png"), full_page=True)
    if width == "desktop":
        page.get_by_role("button", name="Create poll").click()
        expect(page.get_by_role("status").first).to_contain_text("Next: copy its link")
        expect(page.locator("table.poll-grid th.opt")).to_have_count(3)


def test_deciding_asks_first_and_the_decision_stands_out(owner, site, tmp_path):
    page = owner("desktop")
    page.goto(site.url + "/polls")
    page.get_by_role("link", name="Team offsite").click()
    comments = page.locator("section", has=page.get_by_role("heading", name=re.compile("Comments")))
    expect(comments).to_contain_text("Thursday works better for me")
    assert serious(page) == []
    page.locator("tfoot").get_by_role("link", name=re.compile("^Pick")).first.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Decide on this time?")).to_be_visible()
    assert serious(page) == []
    page.get_by_label("No: I will tell them myself").check()
    page.get_by_role("button", name="Decide", exact=True).click()
    expect(page.get_by_role("status").first).to_contain_text("Nobody was e-mailed")
    expect(page.get_by_role("heading", name=re.compile("^✓? ?Decided:"))).to_be_visible()
    expect(page.locator("th.opt.decided")).to_have_count(1)
    assert serious(page) == []
    page.screenshot(path=str(shots(tmp_path) / "poll-decided-1280.png"), full_page=True)
    page.get_by_role("link", name="Duplicate").click()
    expect(page.get_by_label("Title")).to_have_value("Team offsite (copy)")
    # The month opens at the copied dates: 4, 5 and 7 March 2030.
    expect(page.locator("#picker-title")).to_have_text("March 2030")
    expect(page.get_by_role("grid").locator("[aria-pressed='true']")).to_have_count(3)
    expect(page.locator("#f-options")).to_have_value(re.compile(r"^2030-03-04 09:00-12:00"))


def test_without_javascript_the_typed_lines_make_the_poll(browser, site):
    context = browser.new_context(
        java_script_enabled=False, viewport={"width": 1280, "height": 800}
    )
    context.set_default_timeout(15_000)
    page = context.new_page()
    try:
        page.goto(site.url + "/login")
        page.get_by_label("E-mail or handle").fill("olivia")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.goto(site.url + "/polls/new")
        expect(page.get_by_role("grid")).to_have_count(0)  # no calendar without its script
        page.get_by_label("Title").fill("Plain lines")
        page.get_by_label("Days or times, one per line").fill("2031-06-02\n2031-06-03")
        page.get_by_role("button", name="Create poll").click()
        expect(page.locator("table.poll-grid th.opt")).to_have_count(2)
    finally:
        context.close()


# --- a decided poll's failed write-back ---------------------------------------------------------


@pytest.mark.parametrize("width", ["desktop", "phone"])
def test_a_polls_failed_write_back_is_on_the_overview_and_the_poll_with_retry(
    owner, site, width, tmp_path
):
    page = owner(width)
    page.goto(site.url + "/dashboard")
    page.get_by_role("link", name="Board dinner").click()
    alert = page.locator("#write-back-failed")
    expect(alert).to_contain_text("Not in your calendar.")
    expect(alert).to_contain_text("refused the event (403)")
    expect(alert.get_by_role("button", name="Retry")).to_be_visible()
    expect(alert.get_by_role("button", name="Dismiss")).to_be_visible()
    no_sideways_scroll(page)
    assert serious(page) == []
    label = "1280" if width == "desktop" else "390"
    page.screenshot(path=str(tmp_path / f"poll-write-back-failed-{label}.png"))


def test_dismissing_a_polls_failure_takes_it_off_the_overview(owner, site):
    page = owner("desktop")
    page.goto(site.url + "/polls")
    page.get_by_role("link", name="Board lunch").click()
    page.locator("#write-back-failed").get_by_role("button", name="Dismiss").click()
    expect(page.get_by_role("status").first).to_contain_text("Failure dismissed.")
    expect(page.locator("#write-back-failed")).to_have_count(0)
    expect(page.locator("#write-back")).to_contain_text("(dismissed)")
    page.goto(site.url + "/dashboard")
    expect(page.get_by_role("link", name="Board lunch")).to_have_count(0)


# --- every owner page, at both widths ----------------------------------------------------------

OWNER_PAGES = (
    "/dashboard",
    "/connections",
    "/calendars",
    "/calendars/work",
    "/booking-pages",
    "/booking-pages/new",
    "/booking-pages/intro-call",
    "/bookings",
    "/bookings?tab=unconfirmed",
    "/bookings?tab=past",
    "/bookings?tab=cancelled",
    "/polls",
    "/polls/new",
    "/webhooks",
    "/mail",
    "/api-keys",
    "/profile",
)


def walk(page: Page, url: str, paths) -> dict[str, list[str]]:
    """Each page's axe findings (serious, critical) and sideways scrolling, by path."""
    found = {}
    for path in paths:
        answer = page.goto(url + path)
        assert answer is not None and answer.status == 200, path
        page.wait_for_load_state("networkidle")
        found[path] = serious(page)
        width_now = page.evaluate("document.documentElement.scrollWidth")
        if width_now > page.viewport_size["width"]:
            found[path].append(f"scrolls sideways: {width_now}px")
    return {path: problems for path, problems in found.items() if problems}


def console_errors(page: Page) -> list[str]:
    """The list the page's console errors and uncaught errors go to from now on."""
    errors: list[str] = []
    page.on(
        "console", lambda m: errors.append(f"{page.url}: {m.text}") if m.type == "error" else None
    )
    page.on("pageerror", lambda e: errors.append(f"{page.url}: {e}"))
    return errors


@pytest.mark.parametrize("width", ["desktop", "phone"])
def test_every_owner_page_passes_axe_fits_the_width_and_logs_no_error(owner, site, width):
    page = owner(width)
    errors = console_errors(page)
    page.goto(site.url + "/polls")
    poll = page.get_by_role("link", name="Team offsite").get_attribute("href")
    page.goto(site.url + "/bookings")
    booking = page.locator("a[href^='/bookings/']").first.get_attribute("href")
    assert walk(page, site.url, (*OWNER_PAGES, poll, f"{poll}/edit", booking)) == {}
    assert errors == []


@pytest.mark.parametrize("width", ["desktop", "phone"])
def test_a_new_owners_empty_pages_pass_axe_too(owner, site, width):
    page = owner(width, "nina")
    errors = console_errors(page)
    empty = [p for p in OWNER_PAGES if p not in ("/calendars/work", "/booking-pages/intro-call")]
    assert walk(page, site.url, empty) == {}
    assert errors == []
