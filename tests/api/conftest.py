"""Fixtures of the API's tests: alice's full key, her calendar "work" with two
sources, and her booking page "intro" with a helper that books it."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from calmesh.models import RemoteCalendar
from tests.factories import make_connection

BERLIN = ZoneInfo("Europe/Berlin")


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


def next_weekday_at(hour: int, zone=BERLIN, days_ahead: int = 2) -> datetime:
    """A weekday at ``hour`` local, at least ``days_ahead`` days from now (beyond min notice)."""
    day = datetime.now(zone).date() + timedelta(days=days_ahead)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return datetime(day.year, day.month, day.day, hour, tzinfo=zone)


@pytest.fixture
def page(full, alice):
    """alice's page "intro" on calendar "work" (Berlin), 30 min, Mon-Fri 09-17."""
    conn = make_connection(alice, name="Work")
    full.post(
        "/api/v1/calendars", json={"slug": "work", "name": "Work", "timezone": "Europe/Berlin"}
    )
    full.post("/api/v1/calendars/work/sources", json={"connection_id": conn.id})
    response = full.post(
        "/api/v1/booking-pages",
        json={
            "slug": "intro",
            "title": "Intro call",
            "calendar": "work",
            "timezone": "Europe/Berlin",
            "duration": 30,
            "min_notice": 60,
            "location": "Video call",
            "questions": [
                {"id": "topic", "label": "Topic", "type": "short_text", "required": True}
            ],
        },
    )
    assert response.status_code == 201, response.get_json()
    return {"body": response.get_json(), "remote": conn.calendars[0]}


def book(
    stranger, start: datetime, headers: dict | None = None, path="booking-pages/intro", **extra
):
    body = {
        "start": start.isoformat(),
        "attendee": {
            "name": "Vera Visitor",
            "email": "vera@example.net",
            "timezone": "America/New_York",
        },
        "answers": {"topic": "Pricing"},
        **extra,
    }
    return stranger.post(f"/api/v1/{path}/book", json=body, headers=headers or {})


def make_page(api, user, slug: str = "intro", **settings) -> dict:
    conn = make_connection(user, name=f"Work {user.handle}")
    api.post("/api/v1/calendars", json={"slug": "work", "name": "Work", "timezone": "UTC"})
    api.post("/api/v1/calendars/work/sources", json={"connection_id": conn.id})
    made = api.post(
        "/api/v1/booking-pages",
        json={
            "slug": slug,
            "title": f"{user.handle}'s intro",
            "calendar": "work",
            "timezone": "Europe/Berlin",
            "min_notice": 0,
            **settings,
        },
    )
    assert made.status_code == 201, made.get_json()
    return made.get_json()


@pytest.fixture
def pages(api_as, alice, bob):
    keys = {"alice": api_as(alice, "full"), "bob": api_as(bob, "full")}
    return keys, {h: make_page(keys[h], u) for h, u in (("alice", alice), ("bob", bob))}
