"""The private iCal feed of a unified calendar: ``/feeds/<token>.ics``."""

from __future__ import annotations

from datetime import timedelta

from flask import Response, abort

from calmesh.db import utcnow
from calmesh.engine.feed import build_feed
from calmesh.engine.recurrence import Occurrence
from calmesh.services import calendars
from calmesh.web import web

PAST, FUTURE = timedelta(days=30), timedelta(days=365)


@web.route("/feeds/<token>.ics")
def calendar_feed(token: str):
    calendar = calendars.by_feed_token(token)
    if calendar is None:
        abort(404)
    now = utcnow()
    events = [
        Occurrence(
            uid=e.occurrence.uid,
            recurrence_id=e.occurrence.recurrence_id,
            start=e.occurrence.start,
            end=e.occurrence.end,
            all_day=e.occurrence.all_day,
            start_date=e.occurrence.start_date,
            end_date=e.occurrence.end_date,
            busy=e.occurrence.busy,
            status=e.occurrence.status,
            summary=e.occurrence.summary,
            location=e.occurrence.location,
            description="",
            recurring=e.occurrence.recurrence_id is not None,
        )
        for e in calendars.events(calendar, now - PAST, now + FUTURE)
        if e.occurrence.status != "cancelled"
    ]
    body = build_feed(calendar.name, calendar.timezone, events, calendar.feed_mode)
    return Response(
        body,
        mimetype="text/calendar",
        headers={
            "Content-Disposition": f'inline; filename="{calendar.slug}.ics"',
            "Cache-Control": "private, max-age=300",
        },
    )
