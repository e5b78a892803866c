"""Write-back through a unified calendar (SPEC §5, "Events"): an event created
or deleted through ``/api/v1/calendars/:slug/events`` happens at the provider
(read back with a plain CalDAV client, as another application would see it)
and counts locally at once; read-only sources and dead servers are refused
with a clear error, and nothing is stored or lost.
"""

from __future__ import annotations

from datetime import datetime

import caldav
import pytest
from caldav.lib.error import NotFoundError

from calmesh.jobs.sync import roll_horizon
from calmesh.models import CalendarObject, Occurrence, RemoteCalendar
from calmesh.services import connections, sync
from tests.providers import conftest as dav_fixtures
from tests.services import test_sync as shared
from tests.services.test_sync import (
    configure,
    dav_connect,
    kill_server,
    put,
    remote_of,
    soon,
    subscribe,
    two_events,
    vcalendar,
    vevent,
)
from tests.settings import cfg

# Fixtures of the sync tests and of tests/providers/conftest.py, bound as plain
# names (see test_sync.py).
feeds = shared.feeds
dav_calendar = shared.dav_calendar
radicale = dav_fixtures.radicale
xandikos = dav_fixtures.xandikos
dav_server = dav_fixtures.dav_server

EVENTS = "/api/v1/calendars/work/events"


@pytest.fixture
def full(api_as, alice):
    return api_as(alice, "full")


@pytest.fixture
def work(full, alice, dav_server, dav_calendar) -> RemoteCalendar:
    """alice's unified calendar "work" whose first (default write) source is the
    test's calendar on the CalDAV server."""
    connection = dav_connect(alice, dav_server)
    sync.sync_connection(connection.id, cfg())
    remote = remote_of(connection, dav_calendar)
    assert (
        full.post(
            "/api/v1/calendars", json={"slug": "work", "name": "Work", "timezone": "Europe/Berlin"}
        ).status_code
        == 201
    )
    added = full.post(
        "/api/v1/calendars/work/sources",
        json={"connection_id": connection.id, "remote_calendar_id": remote.id},
    )
    assert added.status_code == 201
    assert added.get_json()["sources"][0]["sort_order"] == 0
    return remote


def at_server(server, calendar_url: str, uid: str):
    """The event's VEVENT as the server has it, or None."""
    with server.client() as client:
        try:
            event = caldav.Calendar(client=client, url=calendar_url).get_event_by_uid(uid)
        except NotFoundError:
            return None
        return event.icalendar_component


def iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def window(full, path: str, start: datetime, end: datetime):
    return full.get(
        path, query_string={"start": start.isoformat(), "end": end.isoformat()}
    ).get_json()


def new_event(full, **body):
    payload = {
        "start": soon(2, 10).isoformat(),
        "end": soon(2, 11, 30).isoformat(),
        "summary": "Planning",
        **body,
    }
    return full.post(EVENTS, json=payload)


# --- creating and deleting ------------------------------------------------------------------


def test_a_created_event_is_at_the_server_and_counts_at_once(full, dav_server, work):
    response = new_event(full, uid="plan-1@test", location="Room 4")

    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["uid"] == "plan-1@test"
    vevent_at_server = at_server(dav_server, work.remote_id, "plan-1@test")
    assert vevent_at_server is not None
    assert str(vevent_at_server["summary"]) == "Planning"
    assert vevent_at_server["dtstart"].dt == soon(2, 10)
    assert vevent_at_server["dtend"].dt == soon(2, 11, 30)

    events = window(full, EVENTS, soon(1), soon(4))["data"]
    assert [(e["uid"], e["start"], e["end"], e["summary"]) for e in events] == [
        ("plan-1@test", iso(soon(2, 10)), iso(soon(2, 11, 30)), "Planning")
    ]
    availability = window(full, "/api/v1/calendars/work/availability", soon(2, 0), soon(3, 0))
    assert [(b["start"], b["end"]) for b in availability["busy"]] == [
        (iso(soon(2, 10)), iso(soon(2, 11, 30)))
    ]


def test_the_next_sync_keeps_a_written_event_exactly_once(full, alice, dav_server, work):
    assert new_event(full, uid="plan-2@test").status_code == 201

    report = sync.sync_connection(work.connection_id, cfg())

    assert report.status == "ok"
    rows = list(Occurrence.select().where(Occurrence.uid == "plan-2@test"))
    assert [(o.start, o.end) for o in rows] == [(soon(2, 10), soon(2, 11, 30))]
    assert CalendarObject.select().where(CalendarObject.calendar == work).count() == 1


def test_writing_again_with_the_same_uid_is_idempotent(full, dav_server, work):
    first = new_event(full, uid="retry@test")
    again = new_event(full, uid="retry@test")

    assert (first.status_code, again.status_code) == (201, 201)
    assert first.get_json()["href"] == again.get_json()["href"]
    assert Occurrence.select().where(Occurrence.uid == "retry@test").count() == 1
    with dav_server.client() as client:
        found = caldav.Calendar(client=client, url=work.remote_id).get_events()
    assert len(found) == 1


def test_a_deleted_event_is_gone_at_the_server_and_here(full, dav_server, work):
    assert new_event(full, uid="plan-3@test").status_code == 201

    response = full.delete(EVENTS, query_string={"uid": "plan-3@test"})

    assert response.status_code == 200
    assert response.get_json() == {"uid": "plan-3@test", "deleted": 1}
    assert at_server(dav_server, work.remote_id, "plan-3@test") is None
    assert window(full, EVENTS, soon(1), soon(4))["data"] == []
    availability = window(full, "/api/v1/calendars/work/availability", soon(2, 0), soon(3, 0))
    assert availability["busy"] == []
    again = full.delete(EVENTS, query_string={"uid": "plan-3@test"})
    assert again.status_code == 404


def test_an_event_another_app_wrote_can_be_deleted_through_calmesh(full, dav_server, work):
    put(dav_server, work.remote_id, "theirs.ics", vcalendar(vevent("theirs", soon(3, 8))))
    sync.sync_connection(work.connection_id, cfg())
    assert [e["uid"] for e in window(full, EVENTS, soon(1), soon(5))["data"]] == ["theirs"]

    assert full.delete(EVENTS, query_string={"uid": "theirs"}).status_code == 200

    assert at_server(dav_server, work.remote_id, "theirs") is None
    assert Occurrence.select().where(Occurrence.uid == "theirs").count() == 0


def test_an_event_that_came_into_the_horizon_later_can_be_deleted_by_uid(
    app, full, dav_server, work, monkeypatch
):
    """Synced while beyond the horizon, it had no occurrences; once the horizon
    reaches it, GET shows it with its UID, and DELETE by that UID must find it."""
    configure(monkeypatch, app, {"sync.horizon_future_days": 10})
    put(dav_server, work.remote_id, "later.ics", vcalendar(vevent("later-event", soon(20, 9))))
    sync.sync_connection(work.connection_id, cfg())
    configure(monkeypatch, app, {"sync.horizon_future_days": 40})
    roll_horizon(app)
    shown = window(full, EVENTS, soon(19), soon(21))["data"]
    assert [e["uid"] for e in shown] == ["later-event"]

    response = full.delete(EVENTS, query_string={"uid": "later-event"})

    assert response.status_code == 200, response.get_json()
    assert at_server(dav_server, work.remote_id, "later-event") is None


# --- refusals --------------------------------------------------------------------------------


def test_a_read_only_source_is_refused_with_a_clear_message(full, alice, feeds, work):
    feed = subscribe(alice, feeds, "team.ics", two_events())
    sync.sync_connection(feed.id, cfg())
    calendar = full.post("/api/v1/calendars/work/sources", json={"connection_id": feed.id})
    ics_source = calendar.get_json()["sources"][1]
    assert ics_source["read_only"] is True

    response = new_event(full, source_id=ics_source["id"])

    assert response.status_code == 422
    message = response.get_json()["error"]["message"]
    assert "read-only" in message and "iCal URL" in message, message
    assert CalendarObject.select().where(CalendarObject.href.contains("@calmesh")).count() == 0
    deleting = full.delete(EVENTS, query_string={"uid": "standup"})
    assert deleting.status_code == 422
    assert "read-only" in deleting.get_json()["error"]["message"]


def test_a_read_only_default_source_is_refused_too(full, alice, feeds):
    feed = subscribe(alice, feeds, "team.ics", two_events())
    full.post("/api/v1/calendars", json={"slug": "work", "name": "Work", "timezone": "UTC"})
    full.post("/api/v1/calendars/work/sources", json={"connection_id": feed.id})

    response = new_event(full)

    assert response.status_code == 422
    assert "read-only" in response.get_json()["error"]["message"]


def test_a_dead_caldav_server_is_a_502_and_nothing_is_stored(full, dav_server, work):
    kill_server(work)

    response = new_event(full, uid="lost@test")

    assert response.status_code == 502
    error = response.get_json()["error"]
    assert error["code"] == "provider_error"
    assert "could not connect" in error["message"], error["message"]
    assert CalendarObject.select().count() == Occurrence.select().count() == 0
    assert at_server(dav_server, work.remote_id, "lost@test") is None


def test_a_dead_caldav_server_keeps_the_event_when_deleting(full, dav_server, work):
    assert new_event(full, uid="kept@test").status_code == 201
    live_url = work.remote_id
    kill_server(work)

    response = full.delete(EVENTS, query_string={"uid": "kept@test"})

    assert response.status_code == 502
    assert response.get_json()["error"]["code"] == "provider_error"
    assert Occurrence.select().where(Occurrence.uid == "kept@test").count() == 1
    assert at_server(dav_server, live_url, "kept@test") is not None


def test_the_default_target_is_the_first_source_after_reordering(full, alice, dav_server, work):
    other_url = dav_server.new_calendar("Second")
    try:
        connection = work.connection
        connections.request_sync(connection)  # lists the calendars again
        sync.sync_connection(connection.id, cfg())
        second = remote_of(connection, other_url)
        calendar = full.post(
            "/api/v1/calendars/work/sources",
            json={"connection_id": connection.id, "remote_calendar_id": second.id},
        ).get_json()
        ids = [s["id"] for s in calendar["sources"]]
        full.patch("/api/v1/calendars/work/sources/reorder", json={"source_ids": ids[::-1]})

        response = new_event(full, uid="second@test")

        assert response.get_json()["source_id"] == ids[1]
        assert at_server(dav_server, other_url, "second@test") is not None
        assert at_server(dav_server, work.remote_id, "second@test") is None
    finally:
        with dav_server.client() as client:
            caldav.Calendar(client=client, url=other_url).delete()
