"""Scheduled sync: due connections every few seconds, the horizon once a day."""

from __future__ import annotations

from flask import Flask

from calmesh.jobs.scheduler import job
from calmesh.models import Connection, RemoteCalendar
from calmesh.services import sync

SYNC_POLL_SECONDS = 10


# Not exclusive: several schedulers may sync different connections at once; each
# connection is claimed by its own lease inside sync_connection.
@job("sync-due", SYNC_POLL_SECONDS, exclusive=False)
def sync_due(app: Flask) -> int:
    done = 0
    for connection_id in sync.due_connections():
        if sync.sync_connection(connection_id).status != "busy":
            done += 1
    return done


@job("roll-horizon", 6 * 3600)
def roll_horizon(app: Flask) -> int:
    """Expand stored recurring events over the moved horizon (no provider calls).

    Google and Microsoft expand for us: their calendars get a full sync once
    the horizon has moved a week past the window they were asked for.
    """
    window = sync.horizon()
    total = 0
    calendars = (
        RemoteCalendar.select(RemoteCalendar, Connection)
        .join(Connection)
        .where(RemoteCalendar.enabled & Connection.provider.in_(["caldav", "icloud", "ics"]))
    )
    for calendar in calendars:
        if not sync.claim(calendar.connection_id):
            continue  # being synced right now; the next run rolls it
        try:
            total += sync.reexpand(
                calendar, window, calendar.timezone or calendar.connection.user.timezone
            )
        finally:
            sync.release(calendar.connection_id, status=calendar.connection.status)
    return total
