"""Unified calendars: several connections' calendars merged under one slug."""

from __future__ import annotations

import peewee as pw

from calmesh.db import BaseModel, UTCDateTimeField, utcnow
from calmesh.models.connections import Connection, RemoteCalendar
from calmesh.models.users import Owned, User
from calmesh.schema import SLUG_MAX

FEED_MODES = ("busy", "full")


class UnifiedCalendar(Owned, BaseModel):
    user = pw.ForeignKeyField(User, backref="unified_calendars", on_delete="CASCADE")
    slug = pw.CharField(max_length=SLUG_MAX)
    name = pw.CharField(max_length=200)
    timezone = pw.CharField(max_length=64)
    tentative_busy = pw.BooleanField(default=True)
    # The private iCal feed: a random token in its URL, of which only the SHA-256
    # is kept (the URL is shown once, like an API key); rotating it revokes old links.
    feed_token_hash = pw.CharField(max_length=64, null=True, unique=True)
    feed_mode = pw.CharField(max_length=10, default="busy")
    # Where bookings are written ("bookings go to"): one writable calendar of the
    # sources, chosen by the owner; None (or one no longer among the sources, or
    # no longer writable) means the first writable one in source order.
    write_calendar = pw.ForeignKeyField(RemoteCalendar, null=True, on_delete="SET NULL")
    created_at = UTCDateTimeField(default=utcnow)

    class Meta:
        indexes = ((("user", "slug"), True),)


class CalendarSource(BaseModel):
    """A connection (all its calendars) or one remote calendar, in order.

    Unless the calendar names its ``write_calendar``, the first source in
    ``sort_order`` with a writable calendar is where bookings are written.
    """

    calendar = pw.ForeignKeyField(UnifiedCalendar, backref="sources", on_delete="CASCADE")
    connection = pw.ForeignKeyField(Connection, on_delete="CASCADE")
    remote_calendar = pw.ForeignKeyField(RemoteCalendar, null=True, on_delete="CASCADE")
    sort_order = pw.IntegerField(default=0)

    class Meta:
        indexes = ((("calendar", "connection", "remote_calendar"), True),)
