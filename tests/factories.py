"""Rows as a finished sync leaves them, for tests of what reads them.

Availability, events and conflicts read only stored occurrences, so building
those rows directly tests the reading side exactly; the sync tests prove that
real providers produce such rows.
"""

from __future__ import annotations

import itertools
from datetime import date, datetime

from calmesh.auth import crypto
from calmesh.models import CalendarObject, Connection, Occurrence, RemoteCalendar

_ids = itertools.count(1)


def make_connection(
    user, provider: str = "caldav", name: str = "Work", calendars: int = 1, writable: bool = True
):
    connection = Connection.create(
        user=user,
        provider=provider,
        name=name,
        endpoint="https://dav.example.org/",
        credentials=crypto.encrypt({"username": "u", "password": "p"}),
        status="ok",
    )
    for n in range(calendars):
        RemoteCalendar.create(
            connection=connection,
            remote_id=f"/cal/{name}-{n}/",
            name=f"{name} {n}",
            writable=writable and provider != "ics",
        )
    return connection


def add_event(
    remote: RemoteCalendar,
    start: datetime | date,
    end: datetime | date,
    summary: str = "Meeting",
    *,
    busy: bool = True,
    status: str = "confirmed",
    uid: str | None = None,
) -> Occurrence:
    uid = uid or f"event-{next(_ids)}@test"
    obj = CalendarObject.create(calendar=remote, href=f"{remote.remote_id}{uid}.ics", uid=uid)
    all_day = not isinstance(start, datetime)
    if all_day:
        from datetime import UTC, time

        start_dt = datetime.combine(start, time(), UTC)
        end_dt = datetime.combine(end, time(), UTC)
    else:
        start_dt, end_dt = start, end
    return Occurrence.create(
        object=obj,
        calendar=remote,
        uid=uid,
        start=start_dt,
        end=end_dt,
        all_day=all_day,
        start_date=start if all_day else None,
        end_date=end if all_day else None,
        busy=busy,
        status=status,
        summary=summary,
    )
