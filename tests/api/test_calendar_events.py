"""A unified calendar's merged events over REST: listed, created at a provider."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.factories import add_event, make_connection


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


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
