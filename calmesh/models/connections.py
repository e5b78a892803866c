"""Calendar connections, their remote calendars, and the cache the sync fills.

Availability reads only :class:`Occurrence` rows: recurring events are
expanded at sync time over a rolling horizon, never on the request path.
"""

from __future__ import annotations

import secrets

import peewee as pw

from calmesh.db import BaseModel, UTCDateTimeField, utcnow
from calmesh.models.users import Owned, User


def new_version() -> int:
    return secrets.randbits(62)


STATUSES = ("pending", "syncing", "ok", "error", "auth_required")


class Connection(Owned, BaseModel):
    user = pw.ForeignKeyField(User, backref="connections", on_delete="CASCADE")
    provider = pw.CharField(max_length=20)  # an integration's kind (calmesh.providers.registry)
    name = pw.CharField(max_length=200)
    endpoint = pw.CharField(max_length=2000, default="")
    credentials = pw.TextField(default="")  # encrypted JSON (calmesh.auth.crypto)
    status = pw.CharField(max_length=20, default="pending")
    last_sync_at = UTCDateTimeField(null=True)
    # When the list of remote calendars was last asked for; most syncs reuse it,
    # so that an unchanged iCal feed answers 304 and CalDAV costs one REPORT.
    calendars_listed_at = UTCDateTimeField(null=True)
    last_error = pw.TextField(default="")
    next_sync_at = UTCDateTimeField(null=True, index=True)
    failures = pw.IntegerField(default=0)  # consecutive, drives the back-off
    # The sync lease: claimed by a conditional UPDATE, so one sync at a time per connection.
    leased_until = UTCDateTimeField(null=True)
    lease_holder = pw.CharField(max_length=200, default="")
    created_at = UTCDateTimeField(default=utcnow)


class RemoteCalendar(BaseModel):
    connection = pw.ForeignKeyField(Connection, backref="calendars", on_delete="CASCADE")
    remote_id = pw.CharField(max_length=2000)
    name = pw.CharField(max_length=300, default="")
    color = pw.CharField(max_length=20, default="")
    writable = pw.BooleanField(default=False)
    enabled = pw.BooleanField(default=True)
    timezone = pw.CharField(max_length=64, default="")
    sync_token = pw.TextField(null=True)
    # The end of the window the provider expanded for us (Google/Graph); when the
    # horizon has moved past it, the next sync is a full one.
    window_end = UTCDateTimeField(null=True)
    synced_at = UTCDateTimeField(null=True)
    # Renewed (randomly, so never repeated even if an id is reused) on every
    # change of this calendar's stored occurrences: per-worker caches of merged
    # busy time compare it instead of re-reading rows.
    version = pw.BigIntegerField(default=new_version)

    class Meta:
        indexes = ((("connection", "remote_id"), True),)


class CalendarObject(BaseModel):
    """One remote resource: iCalendar text (expanded by us) or provider instances."""

    calendar = pw.ForeignKeyField(RemoteCalendar, backref="objects", on_delete="CASCADE")
    href = pw.CharField(max_length=2000)
    etag = pw.CharField(max_length=300, default="")
    uid = pw.CharField(max_length=1000, default="")
    ical = pw.TextField(null=True)
    # Why its expansion was cut by a cap (see engine.recurrence.Budget); "" when whole.
    fault = pw.TextField(default="")

    class Meta:
        indexes = ((("calendar", "href"), True),)


class Occurrence(BaseModel):
    """One stored occurrence, in UTC. All-day ones also keep their dates: they
    block whole days in the zone of the calendar that asks."""

    object = pw.ForeignKeyField(CalendarObject, backref="occurrences", on_delete="CASCADE")
    calendar = pw.ForeignKeyField(RemoteCalendar, on_delete="CASCADE")
    uid = pw.CharField(max_length=1000, default="")
    recurrence_id = pw.CharField(max_length=40, null=True)
    start = UTCDateTimeField()
    end = UTCDateTimeField()
    all_day = pw.BooleanField(default=False)
    start_date = pw.DateField(null=True)
    end_date = pw.DateField(null=True)
    busy = pw.BooleanField(default=True)
    status = pw.CharField(max_length=12, default="confirmed")
    summary = pw.CharField(max_length=1000, default="")
    location = pw.CharField(max_length=1000, default="")

    class Meta:
        indexes = ((("calendar", "start"), False),)

    @classmethod
    def between(cls, calendar_ids, start, end) -> pw.ModelSelect:
        """Occurrences of ``calendar_ids`` that may touch [start, end).

        All-day rows are stored at 00:00 UTC of their dates; the window is
        widened by a day so that the caller, who knows the zone, can clip.
        """
        from datetime import timedelta

        day = timedelta(days=1)
        return cls.select().where(
            cls.calendar.in_(calendar_ids) & (cls.start < end + day) & (cls.end > start - day)
        )


class OAuthAttempt(BaseModel):
    """The server-side half of one consent round trip (Google, Microsoft).

    The signed ``state`` names the attempt and carries a nonce of which only
    the hash is kept here; the PKCE verifier never leaves the server. The
    attempt belongs to the user who started it and, when a browser session
    started it, to that browser (``browser_hash``; None for an API key). It is
    used at most once (``used_at``).
    """

    connection = pw.ForeignKeyField(Connection, on_delete="CASCADE")
    user = pw.ForeignKeyField(User, on_delete="CASCADE")
    kind = pw.CharField(max_length=20)
    nonce_hash = pw.CharField(max_length=64, unique=True)
    code_verifier = pw.CharField(max_length=128)
    browser_hash = pw.CharField(max_length=64, null=True)
    created_at = UTCDateTimeField(default=utcnow, index=True)
    used_at = UTCDateTimeField(null=True)
