"""Booking pages and bookings."""

from __future__ import annotations

import secrets

import peewee as pw

from calmesh.db import BaseModel, JSONField, UTCDateTimeField, utcnow
from calmesh.models.calendars import UnifiedCalendar
from calmesh.models.connections import RemoteCalendar
from calmesh.models.users import Owned, User
from calmesh.schema import SLUG_MAX

BOOKING_STATUSES = ("pending", "accepted", "cancelled", "declined")
ACTIVE = ("pending", "accepted")  # these hold their time


def new_uid() -> str:
    return secrets.token_urlsafe(16)


class BookingPage(Owned, BaseModel):
    user = pw.ForeignKeyField(User, backref="booking_pages", on_delete="CASCADE")
    # Unique per owner: the public address is /{handle}/{slug}.
    slug = pw.CharField(max_length=SLUG_MAX)
    title = pw.CharField(max_length=200)
    description = pw.TextField(default="")
    calendar = pw.ForeignKeyField(UnifiedCalendar, on_delete="CASCADE")
    timezone = pw.CharField(max_length=64)
    durations = JSONField(default=lambda: [30])  # minutes; the first is the default
    weekly_hours = JSONField()  # {"0": [["09:00", "17:00"]], ...} weekday 0 = Monday
    date_overrides = JSONField(default=dict)  # {"2026-12-24": []} (a day off) or other hours
    slot_interval = pw.IntegerField(null=True)  # minutes; null = the duration
    buffer_before = pw.IntegerField(default=0)
    buffer_after = pw.IntegerField(default=0)
    min_notice = pw.IntegerField(default=240)  # minutes
    window_days = pw.IntegerField(null=True, default=60)
    window_start = pw.DateField(null=True)
    window_end = pw.DateField(null=True)
    daily_limit = pw.IntegerField(null=True)
    weekly_limit = pw.IntegerField(null=True)
    requires_confirmation = pw.BooleanField(default=False)
    location = pw.CharField(max_length=500, default="")
    questions = JSONField(default=list)  # [{"id", "label", "type", "required", "options"}]
    active = pw.BooleanField(default=True)
    # The visitors' language when their browser asks for none CalMesh speaks.
    language = pw.CharField(max_length=8, default="en")
    ask_notes = pw.BooleanField(default=True)  # the form's free "notes" field
    created_at = UTCDateTimeField(default=utcnow)

    class Meta:
        indexes = ((("user", "slug"), True),)


class Booking(Owned, BaseModel):
    uid = pw.CharField(max_length=40, unique=True, default=new_uid)  # the public id
    page = pw.ForeignKeyField(BookingPage, backref="bookings", on_delete="CASCADE")
    user = pw.ForeignKeyField(User, backref="bookings", on_delete="CASCADE")  # the owner
    start = UTCDateTimeField(index=True)
    end = UTCDateTimeField()
    status = pw.CharField(max_length=12, default="accepted", index=True)
    attendee_name = pw.CharField(max_length=200)
    attendee_email = pw.CharField(max_length=254, index=True)
    attendee_timezone = pw.CharField(max_length=64, default="UTC")
    attendee_locale = pw.CharField(max_length=16, default="en")  # their mails' language
    notes = pw.TextField(default="")
    answers = JSONField(default=dict)
    sequence = pw.IntegerField(default=0)  # the .ics SEQUENCE, raised on every change
    reason = pw.TextField(default="")  # why it was cancelled, declined or moved
    idempotency_key = pw.CharField(max_length=200, null=True)
    # SHA-256 of the request the key was first sent with (services.bookings).
    idempotency_fingerprint = pw.CharField(max_length=64, null=True)
    # Where the write-back put the event, once it did.
    remote_calendar = pw.ForeignKeyField(RemoteCalendar, null=True, on_delete="SET NULL")
    remote_href = pw.CharField(max_length=2000, null=True)
    # The failed write-back (outbox item id) the owner dismissed: a later failure shows again.
    dismissed_failure = pw.BigIntegerField(null=True)
    created_at = UTCDateTimeField(default=utcnow)
    updated_at = UTCDateTimeField(default=utcnow)

    class Meta:
        indexes = ((("page", "idempotency_key"), True), (("user", "start"), False))


CHANGES = ("requested", "booked", "confirmed", "declined", "rescheduled", "cancelled")
ACTORS = ("visitor", "owner")


class BookingChange(BaseModel):
    """One step in a booking's history, oldest first: who did what, and why."""

    booking = pw.ForeignKeyField(Booking, backref="changes", on_delete="CASCADE")
    what = pw.CharField(max_length=12)  # one of CHANGES
    by = pw.CharField(max_length=8)  # one of ACTORS; the API and MCP act as the owner
    reason = pw.TextField(default="")
    # For a reschedule, the times before it.
    old_start = UTCDateTimeField(null=True)
    old_end = UTCDateTimeField(null=True)
    at = UTCDateTimeField(default=utcnow)

    @classmethod
    def of(cls, booking: Booking) -> pw.ModelSelect:
        return cls.select().where(cls.booking == booking).order_by(cls.at, cls.id)
