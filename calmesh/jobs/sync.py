"""Scheduled sync: due connections every few seconds, the horizon once a day."""

from __future__ import annotations

from flask import Flask

from calmesh.jobs.drain import drain
from calmesh.jobs.scheduler import job
from calmesh.models import Connection, RemoteCalendar
from calmesh.providers import registry
from calmesh.services import sync

SYNC_POLL_SECONDS = 10


# Not exclusive: several schedulers may sync different connections at once; each
# connection is claimed by its own lease. Up to sync.concurrency run at once, and
# a free thread takes the next due connection, so hung feeds (each bounded by
# sync.timeout_seconds) hold their own threads, never a healthy feed's turn.
@job("sync-due", SYNC_POLL_SECONDS, exclusive=False)
def sync_due(app: Flask) -> int:
    return drain(
        app,
        fetch=lambda running, limit: [
            (connection_id, str(connection_id))
            for connection_id in sync.due_connections(limit, exclude=running)
        ],
        claim=sync.claim,
        work=lambda connection_id: sync.sync_connection(
            connection_id, app.config["CALMESH"], claimed=True
        ),
        workers=app.config["CALMESH"]["sync.concurrency"],
        name="sync",
    )


@job("roll-horizon", 6 * 3600)
def roll_horizon(app: Flask) -> int:
    """Expand stored recurring events over the moved horizon (no provider calls).

    Google and Microsoft expand for us: their calendars get a full sync once
    the horizon has moved a week past the window they were asked for.
    """
    settings = app.config["CALMESH"]
    window = sync.horizon(settings)
    total = 0
    calendars = (
        RemoteCalendar.select(RemoteCalendar, Connection)
        .join(Connection)
        .where(RemoteCalendar.enabled & Connection.provider.in_(registry.kinds(expanded_here=True)))
    )
    for calendar in calendars:
        if not sync.claim(calendar.connection_id):
            continue  # being synced right now; the next run rolls it
        try:
            total += sync.reexpand(
                calendar, window, calendar.timezone or calendar.connection.user.timezone, settings
            )
        finally:
            sync.release(calendar.connection_id, status=calendar.connection.status)
    return total
