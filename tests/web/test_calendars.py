"""The dashboard's calendar pages: creating a unified calendar, adding, moving
and removing its sources, the feed settings, deleting it, the week and day
arguments, and another owner's calendar staying out of reach."""

from __future__ import annotations

import html
import re

import pytest

from calmesh.models import CalendarSource, Connection, RemoteCalendar, UnifiedCalendar
from calmesh.services import calendars
from tests.conftest import CSRF, signed_in_client
from tests.factories import make_connection


@pytest.fixture
def client(app, alice):
    return signed_in_client(app, alice)


@pytest.fixture
def work(alice):
    return calendars.create(alice, "work", "Work", "Europe/Berlin")


def text_of(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def post(client, path: str, **data: str):
    return client.post(path, data={"csrf_token": CSRF, **data})


def flashes(client) -> list[str]:
    """The messages flashed since the last call (taken, as a page would)."""
    with client.session_transaction() as session:
        return [message for _, message in session.pop("_flashes", [])]


def source_names(calendar: UnifiedCalendar) -> list[str]:
    return [
        source.remote_calendar.name if source.remote_calendar else source.connection.name
        for source in calendars.sources(calendar)
    ]


# --- creating --------------------------------------------------------------------------------


def test_creating_a_calendar_leads_to_its_page(client, alice):
    created = post(client, "/calendars", slug="team", name="Team", timezone="America/Chicago")

    assert created.status_code == 302
    assert created.headers["Location"].endswith("/calendars/team")
    calendar = calendars.get_for(alice, "team")
    assert (calendar.name, calendar.timezone) == ("Team", "America/Chicago")
    assert [str(f) for f in flashes(client)] == [
        'Created “Team”. <a href="/calendars/team#f-source">Next: add its sources</a>'
    ]
    page = client.get("/calendars/team")
    assert page.status_code == 200 and "Team" in text_of(page)


def test_the_index_lists_only_the_owners_calendars_by_name(client, alice, bob):
    calendars.create(alice, "b", "Beta", "UTC")
    calendars.create(alice, "a", "Alpha", "UTC")
    calendars.create(bob, "secret", "Bob's secret", "UTC")

    body = text_of(client.get("/calendars"))

    assert body.index("Alpha") < body.index("Beta")
    assert "Bob's secret" not in body


def test_a_taken_slug_is_shown_on_the_form_and_nothing_is_created(client, alice, work):
    answer = post(client, "/calendars", slug="work", name="Second", timezone="UTC")

    assert answer.status_code == 400
    assert "you already have a calendar with the slug 'work'" in text_of(answer)
    assert [c.name for c in UnifiedCalendar.for_user(alice)] == ["Work"]


@pytest.mark.parametrize(
    "fields",
    [
        {"slug": "Not A Slug!", "name": "Team", "timezone": "UTC"},
        {"slug": "team", "name": "", "timezone": "UTC"},
        {"slug": "team", "name": "Team", "timezone": "Mars/Olympus"},
        {"slug": "team", "name": "x" * 201, "timezone": "UTC"},
    ],
)
def test_bad_input_is_a_400_with_the_form_again(client, alice, fields):
    answer = post(client, "/calendars", **fields)

    assert answer.status_code == 400
    assert 'name="slug"' in text_of(answer), "the form is shown again"
    assert list(UnifiedCalendar.for_user(alice)) == []


def test_a_blank_slug_is_proposed_from_the_name(client, alice):
    answer = post(client, "/calendars", slug="", name="Team Calls", timezone="UTC")

    assert answer.status_code == 302
    assert [c.slug for c in UnifiedCalendar.for_user(alice)] == ["team-calls"]


def test_a_post_without_the_csrf_token_creates_nothing(client, alice):
    answer = client.post("/calendars", data={"slug": "team", "name": "Team", "timezone": "UTC"})

    assert answer.status_code in (400, 403)
    assert list(UnifiedCalendar.for_user(alice)) == []


# --- sources ---------------------------------------------------------------------------------


def test_a_whole_connection_or_one_of_its_calendars_is_added_as_a_source(client, alice, work):
    whole = make_connection(alice, name="Home")
    several = make_connection(alice, name="Office", calendars=2)
    second = RemoteCalendar.get(RemoteCalendar.name == "Office 1")

    assert post(client, "/calendars/work/sources", source=str(whole.id)).status_code == 302
    answer = post(client, "/calendars/work/sources", source=f"{several.id}:{second.id}")

    assert answer.status_code == 302 and answer.headers["Location"].endswith("/calendars/work")
    assert source_names(work) == ["Home", "Office 1"]


def test_adding_the_same_source_twice_is_refused_with_a_message(client, alice, work):
    home = make_connection(alice, name="Home")
    post(client, "/calendars/work/sources", source=str(home.id))
    assert [str(f) for f in flashes(client)] == [
        'Source added. <a href="/booking-pages/new">Next: make a booking page</a>'
    ]

    post(client, "/calendars/work/sources", source=str(home.id))

    assert flashes(client) == ["Could not add the source: this source is already in the calendar"]
    assert source_names(work) == ["Home"]


@pytest.mark.parametrize(
    "choice",
    ["", "abc", "1:x", ":", "0", "-1", "99999999999999999999999", "1:99999999999999999999"],
)
def test_a_malformed_choice_asks_for_a_connection(client, alice, work, choice):
    """An id beyond what the database holds was a 500 (an overflow on SQLite)."""
    make_connection(alice, name="Home")

    answer = post(client, "/calendars/work/sources", source=choice)

    assert answer.status_code == 302
    assert flashes(client) == ["Choose a connection to add."]
    assert calendars.sources(work) == []


def test_another_owners_connection_or_calendar_cannot_be_added(client, alice, bob, work):
    theirs = make_connection(bob, name="Bob's")
    mine = make_connection(alice, name="Mine")
    their_calendar = RemoteCalendar.get(RemoteCalendar.connection == theirs)

    post(client, "/calendars/work/sources", source=str(theirs.id))
    assert flashes(client) == ["Could not add the source: no such connection"]
    post(client, "/calendars/work/sources", source=f"{mine.id}:{their_calendar.id}")
    assert flashes(client) == ["Could not add the source: that connection has no such calendar"]
    assert calendars.sources(work) == []


def test_removing_a_source_keeps_the_others_in_order(client, alice, work):
    for name in ("One", "Two", "Three"):
        calendars.add_source(work, make_connection(alice, name=name).id)
    two = CalendarSource.get(CalendarSource.connection == Connection.get(Connection.name == "Two"))

    answer = post(client, f"/calendars/work/sources/{two.id}/remove")

    assert answer.status_code == 302
    assert source_names(work) == ["One", "Three"]
    assert [s.sort_order for s in calendars.sources(work)] == [0, 1]
    assert Connection.get_or_none(Connection.name == "Two"), "the connection itself stays"


def test_a_source_of_another_calendar_is_not_removed_through_this_one(client, alice, bob, work):
    bobs = calendars.create(bob, "bobs", "Bob's", "UTC")
    their_source = calendars.add_source(bobs, make_connection(bob, name="Bob's").id)

    answer = post(client, f"/calendars/work/sources/{their_source.id}/remove")

    assert answer.status_code == 302
    assert source_names(bobs) == ["Bob's"]


def test_moving_the_first_source_up_or_an_unknown_one_changes_nothing(client, alice, work):
    for name in ("One", "Two"):
        calendars.add_source(work, make_connection(alice, name=name).id)
    first = calendars.sources(work)[0]

    post(client, f"/calendars/work/sources/{first.id}/move", direction="up")
    post(client, "/calendars/work/sources/999999/move", direction="down")

    assert source_names(work) == ["One", "Two"]


# --- feed settings ---------------------------------------------------------------------------


def feed_url_on(response) -> str | None:
    found = re.search(r'id="feed-url" readonly value="([^"]+)"', text_of(response))
    return found.group(1) if found else None


def test_turning_the_feed_on_then_to_full_keeps_its_url_and_off_revokes_it(client, app, work):
    made = post(client, "/calendars/work/feed", feed_mode="busy")
    url = feed_url_on(made)
    path = url.split("//", 1)[1].split("/", 1)[1]
    assert app.test_client().get(f"/{path}").status_code == 200

    to_full = post(client, "/calendars/work/feed", feed_mode="full")
    assert to_full.status_code == 302, "same feed, no new URL to show"
    assert UnifiedCalendar.get_by_id(work.id).feed_mode == "full"
    assert app.test_client().get(f"/{path}").status_code == 200

    off = post(client, "/calendars/work/feed", feed_mode="off")
    assert off.status_code == 302
    assert UnifiedCalendar.get_by_id(work.id).feed_token_hash is None
    assert app.test_client().get(f"/{path}").status_code == 404


@pytest.mark.parametrize("mode", ["", "public", "BUSY", "off "])
def test_an_unknown_feed_mode_is_a_400_and_changes_nothing(client, work, mode):
    answer = post(client, "/calendars/work/feed", feed_mode=mode)

    assert answer.status_code == 400
    assert "Traceback" not in text_of(answer)
    assert UnifiedCalendar.get_by_id(work.id).feed_token_hash is None


def test_rotating_a_feed_that_is_off_does_not_turn_it_on(client, work):
    answer = post(client, "/calendars/work/feed", feed_mode="off", rotate="1")

    assert answer.status_code == 302
    assert UnifiedCalendar.get_by_id(work.id).feed_token_hash is None


# --- deleting --------------------------------------------------------------------------------


def test_deleting_a_calendar_keeps_its_connections(client, alice, work):
    connection = make_connection(alice, name="Home")
    calendars.add_source(work, connection.id)

    answer = post(client, "/calendars/work/delete")

    assert answer.status_code == 302 and answer.headers["Location"].endswith("/calendars")
    assert flashes(client) == ["Deleted “Work”. Its connections stay."]
    assert calendars.get_for(alice, "work") is None
    assert CalendarSource.select().count() == 0
    assert Connection.get_by_id(connection.id)
    assert client.get("/calendars/work").status_code == 404


# --- another owner's calendar and the week arguments -----------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "data"),
    [
        ("GET", "/calendars/secret", {}),
        ("POST", "/calendars/secret/sources", {"source": "1"}),
        ("POST", "/calendars/secret/sources/1/move", {"direction": "up"}),
        ("POST", "/calendars/secret/sources/1/remove", {}),
        ("POST", "/calendars/secret/feed", {"feed_mode": "full"}),
        ("POST", "/calendars/secret/delete", {}),
    ],
)
def test_another_owners_calendar_is_a_404_on_every_route(client, bob, method, path, data):
    secret = calendars.create(bob, "secret", "Secret", "UTC")

    answer = client.open(path, method=method, data={"csrf_token": CSRF, **data})

    assert answer.status_code == 404
    again = UnifiedCalendar.get_by_id(secret.id)
    assert (again.feed_token_hash, again.name) == (None, "Secret")


@pytest.mark.parametrize(
    "query", ["week=2026-13-01", "week=9999-12-31", "week=0001-01-01", "day=nonsense", "day="]
)
def test_a_bad_week_or_day_shows_the_current_week(client, work, query):
    answer = client.get(f"/calendars/work?{query}")

    assert answer.status_code == 200


def test_the_week_argument_shows_the_week_of_that_day_from_monday(client, work):
    body = text_of(client.get("/calendars/work?week=2026-03-26"))  # a Thursday

    assert "Week of 23 Mar 2026" in body
    assert "week=2026-03-16" in body and "week=2026-03-30" in body, "previous and next"
