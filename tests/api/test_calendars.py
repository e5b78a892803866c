"""Unified calendars over REST: CRUD, sources, feed."""

from __future__ import annotations

from datetime import UTC, date, datetime
from urllib.parse import urlsplit

import icalendar

from tests.factories import add_event, make_connection


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


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
