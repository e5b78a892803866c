"""Unified calendars over REST: CRUD, sources, merged events, availability, conflicts, feed."""

from __future__ import annotations

from datetime import UTC, date, datetime
from urllib.parse import urlsplit

import icalendar
import pytest

from calmesh.models import RemoteCalendar
from tests.factories import add_event, make_connection


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.fixture
def full(api_as, alice):
    return api_as(alice, "full")


@pytest.fixture
def work(full, alice):
    """alice's calendar "work" (Europe/Berlin) with two sources: Work then Home."""
    work_conn = make_connection(alice, name="Work")
    home_conn = make_connection(alice, name="Home")
    assert (
        full.post(
            "/api/v1/calendars", json={"slug": "work", "name": "Work", "timezone": "Europe/Berlin"}
        ).status_code
        == 201
    )
    for conn in (work_conn, home_conn):
        assert (
            full.post("/api/v1/calendars/work/sources", json={"connection_id": conn.id}).status_code
            == 201
        )
    return {
        "work": RemoteCalendar.get(RemoteCalendar.connection == work_conn),
        "home": RemoteCalendar.get(RemoteCalendar.connection == home_conn),
    }


def test_create_list_get_update_delete(full):
    created = full.post(
        "/api/v1/calendars", json={"slug": "team", "name": "Team", "timezone": "Asia/Kolkata"}
    )
    assert created.status_code == 201
    assert created.get_json()["sources"] == [] and created.get_json()["feed_url"] is None
    assert [c["slug"] for c in full.get("/api/v1/calendars").get_json()["data"]] == ["team"]
    patched = full.patch("/api/v1/calendars/team", json={"name": "The team", "slug": "crew"})
    assert patched.get_json()["slug"] == "crew" and patched.get_json()["name"] == "The team"
    assert full.get("/api/v1/calendars/team").status_code == 404
    assert full.delete("/api/v1/calendars/crew").get_json() == {
        "id": created.get_json()["id"],
        "deleted": True,
    }
    assert full.get("/api/v1/calendars/crew").status_code == 404


def test_slugs_are_unique_per_user_only(full, api_as, bob):
    body = {"slug": "work", "name": "Work", "timezone": "UTC"}
    assert full.post("/api/v1/calendars", json=body).status_code == 201
    assert full.post("/api/v1/calendars", json=body).status_code == 409
    assert api_as(bob, "full").post("/api/v1/calendars", json=body).status_code == 201


def test_bad_input_is_a_clear_400(full):
    response = full.post(
        "/api/v1/calendars", json={"slug": "Not A Slug", "name": "", "timezone": "Europe/Nowhere"}
    )
    assert response.status_code == 400
    fields = {d["field"] for d in response.get_json()["error"]["details"]}
    assert fields == {"slug", "name", "timezone"}


def test_scopes_read_may_look_but_not_change(api_as, alice, work):
    reader = api_as(alice, "read")
    assert reader.get("/api/v1/calendars/work").status_code == 200
    assert (
        reader.post(
            "/api/v1/calendars", json={"slug": "x", "name": "X", "timezone": "UTC"}
        ).status_code
        == 403
    )
    assert (
        api_as(alice, "book").patch("/api/v1/calendars/work", json={"name": "Y"}).status_code == 403
    )


def test_another_users_calendar_is_not_found(api_as, bob, work):
    other = api_as(bob, "full")
    assert other.get("/api/v1/calendars/work").status_code == 404
    assert (
        other.get(
            "/api/v1/calendars/work/events?start=2026-01-01T00:00:00Z&end=2026-01-02T00:00:00Z"
        ).status_code
        == 404
    )


def test_another_users_connection_cannot_be_added(full, bob):
    bobs = make_connection(bob, name="Bob's")
    full.post("/api/v1/calendars", json={"slug": "mine", "name": "Mine", "timezone": "UTC"})
    assert (
        full.post("/api/v1/calendars/mine/sources", json={"connection_id": bobs.id}).status_code
        == 404
    )


def test_sources_reorder_and_remove(full, work):
    sources = full.get("/api/v1/calendars/work").get_json()["sources"]
    assert [s["connection_name"] for s in sources] == ["Work", "Home"]
    assert [s["sort_order"] for s in sources] == [0, 1]
    ids = [s["id"] for s in sources]
    reordered = full.patch(
        "/api/v1/calendars/work/sources/reorder", json={"source_ids": ids[::-1]}
    ).get_json()
    assert [s["connection_name"] for s in reordered["sources"]] == ["Home", "Work"]
    assert [s["write_target"] for s in reordered["sources"]] == [True, False]
    assert (
        full.patch(
            "/api/v1/calendars/work/sources/reorder", json={"source_ids": ids[:1]}
        ).status_code
        == 422
    )
    removed = full.delete(f"/api/v1/calendars/work/sources/{ids[1]}").get_json()
    assert [(s["connection_name"], s["sort_order"]) for s in removed["sources"]] == [("Work", 0)]
    assert (
        full.post(
            "/api/v1/calendars/work/sources", json={"connection_id": sources[0]["connection_id"]}
        ).status_code
        == 409
    )


def test_events_are_merged_and_tagged_with_their_source(full, work):
    add_event(work["work"], utc(2026, 3, 2, 9), utc(2026, 3, 2, 10), "Standup")
    add_event(work["home"], utc(2026, 3, 2, 12), utc(2026, 3, 2, 13), "Lunch")
    add_event(work["home"], utc(2026, 3, 9, 12), utc(2026, 3, 9, 13), "Next week")
    body = full.get(
        "/api/v1/calendars/work/events?start=2026-03-02T00:00:00Z&end=2026-03-03T00:00:00Z"
    ).get_json()
    sources = {
        s["connection_name"]: s["id"]
        for s in full.get("/api/v1/calendars/work").get_json()["sources"]
    }
    assert [(e["summary"], e["source_id"]) for e in body["data"]] == [
        ("Standup", sources["Work"]),
        ("Lunch", sources["Home"]),
    ]
    assert body["data"][0]["start_local"] == "2026-03-02T10:00:00+01:00"


def test_events_window_must_be_sane(full, work):
    assert (
        full.get(
            "/api/v1/calendars/work/events?start=2026-03-02T00:00:00Z&end=2026-03-01T00:00:00Z"
        ).status_code
        == 400
    )
    assert (
        full.get(
            "/api/v1/calendars/work/events?start=2026-03-02T00:00:00&end=2026-03-03T00:00:00Z"
        ).status_code
        == 400
    )
    assert (
        full.get(
            "/api/v1/calendars/work/events?start=2020-01-01T00:00:00Z&end=2026-01-01T00:00:00Z"
        ).status_code
        == 400
    )


def test_availability_of_a_day_in_another_zone(full, work):
    # 2026-03-29: Berlin springs forward at 01:00 UTC. New York is already on EDT.
    add_event(work["work"], utc(2026, 3, 29, 13), utc(2026, 3, 29, 14), "Call")
    add_event(work["home"], utc(2026, 3, 29, 13, 30), utc(2026, 3, 29, 15), "Overlap")
    add_event(work["home"], utc(2026, 3, 29, 16), utc(2026, 3, 29, 17), "Free time", busy=False)
    add_event(
        work["home"], utc(2026, 3, 29, 18), utc(2026, 3, 29, 19), "Cancelled", status="cancelled"
    )
    body = full.get(
        "/api/v1/calendars/work/availability?date=2026-03-29&tz=America/New_York"
    ).get_json()
    assert body["start"] == "2026-03-29T04:00:00Z" and body["end"] == "2026-03-30T04:00:00Z"
    assert [(b["start"], b["end"]) for b in body["busy"]] == [
        ("2026-03-29T13:00:00Z", "2026-03-29T15:00:00Z")
    ]
    assert body["busy"][0]["start_local"] == "2026-03-29T09:00:00-04:00"
    assert [(f["start"], f["end"]) for f in body["free"]] == [
        ("2026-03-29T04:00:00Z", "2026-03-29T13:00:00Z"),
        ("2026-03-29T15:00:00Z", "2026-03-30T04:00:00Z"),
    ]


def test_availability_all_day_event_blocks_the_calendars_whole_day(full, work):
    # The spring-forward day in Berlin is 23 hours long: 2026-03-28T23:00Z to 2026-03-29T22:00Z.
    add_event(work["work"], date(2026, 3, 29), date(2026, 3, 30), "Holiday")
    body = full.get(
        "/api/v1/calendars/work/availability?start=2026-03-28T12:00:00Z&end=2026-03-30T12:00:00Z"
    ).get_json()
    assert [(b["start"], b["end"]) for b in body["busy"]] == [
        ("2026-03-28T23:00:00Z", "2026-03-29T22:00:00Z")
    ]


def test_availability_duration_drops_short_gaps(full, work):
    add_event(work["work"], utc(2026, 3, 2, 9), utc(2026, 3, 2, 10))
    add_event(work["work"], utc(2026, 3, 2, 10, 20), utc(2026, 3, 2, 11))
    url = "/api/v1/calendars/work/availability?start=2026-03-02T09:00:00Z&end=2026-03-02T12:00:00Z&duration=30"
    assert [(f["start"], f["end"]) for f in full.get(url).get_json()["free"]] == [
        ("2026-03-02T11:00:00Z", "2026-03-02T12:00:00Z")
    ]


def test_availability_needs_a_day_or_a_window(full, work):
    assert full.get("/api/v1/calendars/work/availability").status_code == 400
    assert full.get("/api/v1/calendars/work/availability?date=2026-02-30").status_code == 400
    assert (
        full.get("/api/v1/calendars/work/availability?date=2026-03-01&tz=Mars/Olympus").status_code
        == 400
    )


def test_tentative_blocks_unless_the_calendar_says_otherwise(full, work):
    add_event(work["work"], utc(2026, 3, 2, 9), utc(2026, 3, 2, 10), status="tentative")
    url = "/api/v1/calendars/work/availability?start=2026-03-02T08:00:00Z&end=2026-03-02T11:00:00Z"
    assert len(full.get(url).get_json()["busy"]) == 1
    full.patch("/api/v1/calendars/work", json={"tentative_busy": False})
    assert full.get(url).get_json()["busy"] == []


def test_conflicts_are_overlaps_across_sources_only(full, work):
    add_event(work["work"], utc(2026, 3, 2, 9), utc(2026, 3, 2, 10), "A")
    add_event(work["work"], utc(2026, 3, 2, 9, 30), utc(2026, 3, 2, 10, 30), "Same source")
    add_event(work["home"], utc(2026, 3, 2, 9, 45), utc(2026, 3, 2, 11), "B")
    add_event(work["home"], utc(2026, 3, 2, 9), utc(2026, 3, 2, 12), "Free", busy=False)
    body = full.get(
        "/api/v1/calendars/work/conflicts?start=2026-03-02T00:00:00Z&end=2026-03-03T00:00:00Z"
    ).get_json()
    pairs = {(c["a"]["summary"], c["b"]["summary"]) for c in body["data"]}
    assert pairs == {("A", "B"), ("Same source", "B")}


def test_writing_to_a_read_only_source_is_refused_clearly(full, alice):
    feed = make_connection(alice, provider="ics", name="Holidays")
    full.post("/api/v1/calendars", json={"slug": "ro", "name": "RO", "timezone": "UTC"})
    full.post("/api/v1/calendars/ro/sources", json={"connection_id": feed.id})
    response = full.post(
        "/api/v1/calendars/ro/events",
        json={"start": "2026-03-02T09:00:00Z", "end": "2026-03-02T10:00:00Z", "summary": "x"},
    )
    assert response.status_code == 422
    assert "read-only" in response.get_json()["error"]["message"]


def test_read_only_sources_are_skipped_for_writes_wherever_they_stand(full, alice):
    """Reordering an iCal URL first is accepted; writes go to the first writable source."""
    from calmesh.services import calendars

    feed = make_connection(alice, provider="ics", name="Holidays")
    dav = make_connection(alice, name="Work")
    locked = make_connection(alice, name="Shared", writable=False)
    full.post("/api/v1/calendars", json={"slug": "mix", "name": "Mix", "timezone": "UTC"})
    for conn in (dav, feed, locked):
        full.post("/api/v1/calendars/mix/sources", json={"connection_id": conn.id})
    ids = {
        s["connection_name"]: s["id"]
        for s in full.get("/api/v1/calendars/mix").get_json()["sources"]
    }

    moved = full.patch(
        "/api/v1/calendars/mix/sources/reorder",
        json={"source_ids": [ids["Holidays"], ids["Shared"], ids["Work"]]},
    )
    assert moved.status_code == 200, moved.get_json()
    flags = {
        s["connection_name"]: (s["sort_order"], s["read_only"], s["write_target"])
        for s in moved.get_json()["sources"]
    }
    assert flags == {
        "Holidays": (0, True, False),
        "Shared": (1, True, False),
        "Work": (2, False, True),
    }
    calendar = calendars.get_for(alice, "mix")
    source, remote = calendars.write_target(calendar)
    assert source.id == ids["Work"] and remote.connection_id == dav.id

    full.delete(f"/api/v1/calendars/mix/sources/{ids['Work']}")
    left = full.get("/api/v1/calendars/mix").get_json()["sources"]
    assert not any(s["write_target"] for s in left)
    written = full.post(
        "/api/v1/calendars/mix/events",
        json={"start": "2026-03-02T09:00:00Z", "end": "2026-03-02T10:00:00Z", "summary": "x"},
    )
    assert written.status_code == 422
    assert "only read-only sources" in written.get_json()["error"]["message"]


def test_private_feed_busy_only_then_full_then_revoked(full, work, stranger):
    add_event(work["work"], utc(2026, 12, 2, 9), utc(2026, 12, 2, 10), "Secret project")
    add_event(work["home"], date(2026, 12, 24), date(2026, 12, 26), "Holidays")
    url = full.patch("/api/v1/calendars/work", json={"feed_mode": "busy"}).get_json()["feed_url"]
    path = urlsplit(url).path
    body = stranger.get(path)
    assert body.status_code == 200 and body.mimetype == "text/calendar"
    text = body.get_data(as_text=True)
    assert "Secret project" not in text and "Busy" in text
    cal = icalendar.Calendar.from_ical(text)
    events = cal.walk("VEVENT")
    assert len(events) == 2
    allday = next(
        e
        for e in events
        if isinstance(e.decoded("dtstart"), date) and not isinstance(e.decoded("dtstart"), datetime)
    )
    assert allday.decoded("dtend") == date(2026, 12, 26)
    # vobject (the parser behind Radicale) reads it too.
    import vobject

    assert len(vobject.readOne(text).vevent_list) == 2
    full.patch("/api/v1/calendars/work", json={"feed_mode": "full"})
    assert "Secret project" in stranger.get(path).get_data(as_text=True)
    rotated = full.patch("/api/v1/calendars/work", json={"rotate_feed": True}).get_json()[
        "feed_url"
    ]
    assert rotated != url
    assert stranger.get(path).status_code == 404
    full.patch("/api/v1/calendars/work", json={"feed_mode": "off"})
    assert stranger.get(urlsplit(rotated).path).status_code == 404


def test_the_feed_url_is_shown_once_and_only_its_hash_is_stored(full, work, stranger):
    import hashlib

    from calmesh import db
    from calmesh.models import UnifiedCalendar

    made = full.patch("/api/v1/calendars/work", json={"feed_mode": "busy"}).get_json()
    url = made["feed_url"]
    token = url.rsplit("/", 1)[1].removesuffix(".ics")
    assert made["feed_mode"] == "busy" and len(token) >= 32

    # Never again: not in a read, a list, or another change.
    again = full.get("/api/v1/calendars/work").get_json()
    assert (again["feed_mode"], again["feed_url"]) == ("busy", None)
    assert token not in full.get("/api/v1/calendars").get_data(as_text=True)
    assert (
        full.patch("/api/v1/calendars/work", json={"feed_mode": "full"}).get_json()["feed_url"]
        is None
    ), "switching busy/full keeps the link, and does not show it"

    # The database holds the hash, nowhere the token; the link works.
    stored = UnifiedCalendar.get(UnifiedCalendar.slug == "work")
    assert stored.feed_token_hash == hashlib.sha256(token.encode()).hexdigest()
    row = db.db.execute_sql("SELECT * FROM unified_calendar").fetchall()
    assert token not in repr(row)
    assert stranger.get(urlsplit(url).path).status_code == 200
    assert stranger.get("/feeds/" + stored.feed_token_hash + ".ics").status_code == 404
