"""Fixtures of the calendar endpoints' tests: alice's full key, and her calendar
"work" with two sources."""

from __future__ import annotations

import pytest

from calmesh.models import RemoteCalendar
from tests.factories import make_connection


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
