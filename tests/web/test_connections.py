"""The dashboard's connections and calendars pages: status and errors, adding an
iCal URL, "sync now" through htmx, removing, the OAuth callback's refusals, the
week view's conflict marks and reordering sources."""

from __future__ import annotations

import html
import re
from datetime import timedelta
from urllib.parse import urlsplit

import pytest

from calmesh.models import CalendarSource, Connection, Occurrence, RemoteCalendar
from calmesh.services import calendars, sync
from tests.conftest import CSRF, signed_in_client
from tests.factories import add_event, make_connection
from tests.services import test_sync as shared
from tests.services.test_sync import TODAY, fresh, soon, subscribe, two_events
from tests.settings import cfg

# A fixture of the sync tests, bound as a plain name (see tests/services/test_sync.py).
feeds = shared.feeds


@pytest.fixture
def client(app, alice):
    return signed_in_client(app, alice)


def text_of(response) -> str:
    return html.unescape(response.get_data(as_text=True))


# --- connections ----------------------------------------------------------------------------


def test_the_page_lists_each_connection_with_its_status_and_last_error(client, alice, feeds):
    fine = subscribe(alice, feeds, "fine.ics", two_events())
    broken = subscribe(alice, feeds, "broken.ics", two_events())
    sync.sync_connection(fine.id, cfg())
    feeds.set("broken.ics", "oops", status=500)
    sync.sync_connection(broken.id, cfg())

    page = client.get("/connections")

    assert page.status_code == 200
    body = text_of(page)
    fine_card = card(body, fine.id)
    broken_card = card(body, broken.id)
    assert 'class="badge ok"' in fine_card and "Last error" not in fine_card
    assert 'class="badge error"' in broken_card
    assert fresh(broken).last_error in broken_card
    assert "/broken.ics" not in body, "an iCal URL's path is never shown"


def card(body: str, connection_id: int) -> str:
    found = re.search(
        rf'<section class="card connection" id="connection-{connection_id}".*?</section>',
        body,
        re.S,
    )
    assert found, f"no card for connection {connection_id}"
    return found.group(0)


def test_adding_an_ics_url_through_the_form(client, feeds):
    feeds.set("team.ics", two_events(), etag=True)

    response = client.post(
        "/connections/add/ics",
        data={"name": "Team", "url": feeds.url_for("team.ics"), "csrf_token": CSRF},
    )

    assert response.status_code == 302
    assert response.headers["Location"].endswith("/connections")
    connection = Connection.get(Connection.name == "Team")
    assert (connection.provider, connection.status) == ("ics", "pending")
    page = text_of(client.get("/connections"))
    assert "Connected “Team”" in page
    assert 'class="badge pending"' in card(page, connection.id)


def test_a_malformed_url_shows_the_field_error_and_saves_nothing(client):
    response = client.post(
        "/connections/add/ics", data={"name": "Team", "url": "not a url", "csrf_token": CSRF}
    )

    assert response.status_code == 400
    assert 'aria-invalid="true"' in text_of(response)
    assert "must be an http(s):// or webcal:// URL" in text_of(response)
    assert Connection.select().count() == 0


def test_a_url_the_server_refuses_shows_why_and_forgets_the_password(client, feeds):
    response = client.post(
        "/connections/add/ics",
        data={
            "name": "Team",
            "url": feeds.url_for("missing.ics"),
            "username": "me",
            "password": "Pa55-word",
            "csrf_token": CSRF,
        },
    )

    assert response.status_code == 400
    alert = re.search(r'<p class="error" role="alert">(.*?)</p>', text_of(response), re.S)
    assert alert and "404" in alert.group(1), text_of(response)
    assert "Pa55-word" not in text_of(response)
    assert Connection.select().count() == 0


def test_a_form_without_the_csrf_token_is_refused(client, feeds):
    feeds.set("team.ics", two_events(), etag=True)
    response = client.post(
        "/connections/add/ics", data={"name": "Team", "url": feeds.url_for("team.ics")}
    )
    assert response.status_code == 403
    assert feeds.requests["team.ics"] == 0
    assert Connection.select().count() == 0


def test_sync_now_through_htmx_answers_the_card_that_polls(client, alice, feeds):
    connection = subscribe(alice, feeds, "team.ics", two_events())
    sync.sync_connection(connection.id, cfg())
    assert sync.due_connections() == []

    response = client.post(
        f"/connections/{connection.id}/sync",
        data={"csrf_token": CSRF},
        headers={"HX-Request": "true"},
    )

    assert response.status_code == 200
    fragment = text_of(response)
    assert "<html" not in fragment
    assert fragment.lstrip().startswith(
        f'<section class="card connection" id="connection-{connection.id}"'
    )
    assert f'hx-get="/connections/{connection.id}/status"' in fragment
    assert 'hx-trigger="every 2s"' in fragment
    assert "Syncing…" in fragment
    assert sync.due_connections() == [connection.id]

    sync.sync_connection(connection.id, cfg())
    settled = text_of(client.get(f"/connections/{connection.id}/status"))
    assert "hx-trigger" not in settled.split(">", 1)[0], "polling stops once synced"
    assert 'class="badge ok"' in settled


def test_sync_now_without_htmx_redirects_back(client, alice, feeds):
    connection = subscribe(alice, feeds, "team.ics", two_events())
    response = client.post(f"/connections/{connection.id}/sync", data={"csrf_token": CSRF})
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/connections")


def test_remove_deletes_the_connection_and_its_events(client, alice, feeds):
    connection = subscribe(alice, feeds, "team.ics", two_events())
    sync.sync_connection(connection.id, cfg())

    response = client.post(f"/connections/{connection.id}/remove", data={"csrf_token": CSRF})

    assert response.status_code == 302
    assert Connection.select().count() == RemoteCalendar.select().count() == 0
    assert Occurrence.select().count() == 0
    assert "Removed “team.ics”" in text_of(client.get("/connections"))


def test_another_users_connection_cannot_be_seen_synced_or_removed(app, bob, alice, feeds):
    connection = subscribe(alice, feeds, "team.ics", two_events())
    other = signed_in_client(app, bob)

    assert "team.ics" not in text_of(other.get("/connections"))
    assert other.get(f"/connections/{connection.id}/status").status_code == 404
    assert (
        other.post(f"/connections/{connection.id}/sync", data={"csrf_token": CSRF}).status_code
        == 404
    )
    assert (
        other.post(f"/connections/{connection.id}/remove", data={"csrf_token": CSRF}).status_code
        == 404
    )
    assert fresh(connection).status == "pending"


@pytest.mark.parametrize("signed_in", [True, False])
def test_the_oauth_callback_refuses_a_tampered_state_without_a_traceback(app, alice, signed_in):
    client = signed_in_client(app, alice) if signed_in else app.test_client()

    response = client.get("/oauth/callback/google?state=forged.state.value&code=abc")

    assert response.status_code == 400
    body = text_of(response)
    assert "invalid or has expired" in body
    assert "Traceback" not in body and "BadToken" not in body
    assert Connection.select().count() == 0


# --- calendars: the week view and the sources' order ------------------------------------------


NEXT_MONDAY = TODAY + timedelta(days=14 - TODAY.weekday())


def at(day_offset: int, hour: int, minute: int = 0):
    """A UTC time in the week of NEXT_MONDAY (Monday + day_offset)."""
    return soon((NEXT_MONDAY - TODAY).days + day_offset, hour, minute)


@pytest.fixture
def work(alice):
    """alice's "work" calendar (UTC) with two sources: Work then Home."""
    unified = calendars.create(alice, "work", "Work", "UTC")
    work_conn = make_connection(alice, name="Work")
    home_conn = make_connection(alice, name="Home")
    for connection in (work_conn, home_conn):
        calendars.add_source(unified, connection.id)
    return {
        "work": RemoteCalendar.get(RemoteCalendar.connection == work_conn),
        "home": RemoteCalendar.get(RemoteCalendar.connection == home_conn),
    }


def test_the_week_view_marks_overlapping_events_of_different_sources(client, work):
    add_event(work["work"], at(1, 9), at(1, 10), "Planning")
    add_event(work["home"], at(1, 9, 30), at(1, 11), "Dentist")
    add_event(work["work"], at(2, 9), at(2, 10), "Review")
    add_event(work["home"], at(2, 12), at(2, 13), "Lunch")

    page = client.get(f"/calendars/work?week={NEXT_MONDAY.isoformat()}")

    assert page.status_code == 200
    classes = {
        summary: set(cls.split())
        for cls, summary in re.findall(
            r'<li class="event ([^"]*)">\s*<span class="time">[^<]*</span>\s*([^<]+?)\s*(?:<|$)',
            page.get_data(as_text=True),
        )
    }
    assert set(classes) == {"Planning", "Dentist", "Review", "Lunch"}
    assert "conflict" in classes["Planning"] and "conflict" in classes["Dentist"]
    assert "conflict" not in classes["Review"] and "conflict" not in classes["Lunch"]
    assert classes["Planning"] != classes["Dentist"], "each source has its colour"
    assert "2 events overlap across sources" in text_of(page)


def order_of() -> list[str]:
    return [
        s.connection.name
        for s in CalendarSource.select(CalendarSource, Connection)
        .join(Connection)
        .order_by(CalendarSource.sort_order)
    ]


def test_moving_a_source_up_changes_the_order_and_the_write_target(client, work):
    home = CalendarSource.get(CalendarSource.connection == work["home"].connection_id)
    assert order_of() == ["Work", "Home"]

    response = client.post(
        f"/calendars/work/sources/{home.id}/move",
        data={"direction": "up", "csrf_token": CSRF},
        headers={"HX-Request": "true"},
    )

    assert response.status_code == 200
    assert order_of() == ["Home", "Work"]
    fragment = text_of(response)
    assert fragment.lstrip().startswith('<ol class="sources" id="sources">')
    assert fragment.index("Home") < fragment.index("Work")
    assert "bookings go to Home 0" in fragment.split("Work")[0]

    plain = client.post(
        f"/calendars/work/sources/{home.id}/move", data={"direction": "down", "csrf_token": CSRF}
    )
    assert plain.status_code == 302
    assert order_of() == ["Work", "Home"]


def test_the_feed_link_is_shown_once_on_the_page_that_makes_it(client, alice, app):
    calendars.create(alice, "work", "Work", "Europe/Berlin")
    made = client.post("/calendars/work/feed", data={"feed_mode": "busy", "csrf_token": CSRF})
    assert made.status_code == 200, "rendered, not redirected through a flash cookie"
    url = re.search(r'id="feed-url" readonly value="([^"]+)"', text_of(made)).group(1)
    token = url.rsplit("/", 1)[1].removesuffix(".ics")
    assert "shown only this once" in text_of(made)

    later = text_of(client.get("/calendars/work"))
    assert token not in later and "The feed is on" in later
    assert app.test_client().get(urlsplit(url).path).status_code == 200

    rotated = client.post(
        "/calendars/work/feed", data={"feed_mode": "busy", "rotate": "1", "csrf_token": CSRF}
    )
    assert token not in text_of(rotated) and 'id="feed-url"' in text_of(rotated)
    assert app.test_client().get(urlsplit(url).path).status_code == 404
