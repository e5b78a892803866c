"""calmesh.models.bookings: booking pages, bookings and a booking's history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import peewee as pw
import pytest

from calmesh.db import db
from calmesh.models import ACTIVE, BOOKING_STATUSES, Booking, BookingChange, BookingPage
from calmesh.models.bookings import ACTORS, CHANGES, new_uid
from tests.models.test_calendars import calendar

START = datetime(2030, 3, 12, 9, tzinfo=UTC)
HOURS = {"0": [["09:00", "17:00"]]}


def page(user, slug: str = "intro") -> BookingPage:
    return BookingPage.create(
        user=user,
        slug=slug,
        title=slug.title(),
        calendar=calendar(user, f"cal-{slug}"),
        timezone="UTC",
        weekly_hours=HOURS,
    )


def booking(on: BookingPage, **extra) -> Booking:
    fields = {"start": START, "end": START + timedelta(minutes=30), **extra}
    return Booking.create(
        page=on, user=on.user, attendee_name="Carol", attendee_email="carol@example.org", **fields
    )


def test_a_new_page_offers_30_minutes_from_four_hours_ahead_for_sixty_days(alice):
    row = BookingPage.get_by_id(page(alice).id)

    assert (row.durations, row.min_notice, row.window_days) == ([30], 240, 60)
    assert (row.buffer_before, row.buffer_after, row.slot_interval) == (0, 0, None)
    assert (row.date_overrides, row.questions) == ({}, [])
    assert (row.active, row.requires_confirmation, row.ask_notes, row.language) == (
        True,
        False,
        True,
        "en",
    )
    assert row.weekly_hours == HOURS  # JSON in, the same structure out


def test_page_slugs_are_unique_per_owner_only(alice, bob):
    page(alice)
    page(bob)

    with pytest.raises(pw.IntegrityError), db.atomic():
        BookingPage.create(
            user=alice,
            slug="intro",
            title="Again",
            calendar=calendar(alice, "other"),
            timezone="UTC",
            weekly_hours=HOURS,
        )
    assert [p.slug for p in BookingPage.for_user(alice)] == ["intro"]


def test_a_new_booking_is_accepted_with_an_unguessable_uid_and_sequence_zero(alice):
    row = Booking.get_by_id(booking(page(alice)).id)

    assert row.status == "accepted" and row.status in ACTIVE
    assert (row.sequence, row.answers, row.notes, row.reason) == (0, {}, "", "")
    assert (row.attendee_timezone, row.attendee_locale) == ("UTC", "en")
    assert len(row.uid) >= 20 and row.uid != new_uid()
    assert row.remote_calendar is None and row.dismissed_failure is None


def test_only_pending_and_accepted_bookings_hold_their_time():
    assert set(ACTIVE) < set(BOOKING_STATUSES)
    assert set(BOOKING_STATUSES) - set(ACTIVE) == {"cancelled", "declined"}


def test_an_idempotency_key_is_unique_per_page(alice):
    intro, other = page(alice), page(alice, "other")
    booking(intro, idempotency_key="retry-1")
    booking(other, idempotency_key="retry-1")  # another page
    booking(intro)  # no key: any number of them
    booking(intro)

    with pytest.raises(pw.IntegrityError), db.atomic():
        booking(intro, idempotency_key="retry-1")


def test_bookings_are_listed_per_owner(alice, bob):
    mine, theirs = booking(page(alice)), booking(page(bob))

    assert list(Booking.for_user(alice)) == [mine]
    assert list(Booking.for_user(bob)) == [theirs]


def test_the_history_reads_oldest_first_and_goes_with_the_booking(alice):
    row = booking(page(alice))
    later = BookingChange.create(booking=row, what="cancelled", by="owner", at=START)
    first = BookingChange.create(
        booking=row, what="booked", by="visitor", at=START - timedelta(days=1)
    )
    moved = BookingChange.create(
        booking=row,
        what="rescheduled",
        by="owner",
        at=START,
        old_start=START - timedelta(hours=1),
        old_end=START,
    )

    assert list(BookingChange.of(row)) == [first, later, moved]  # ties: in insertion order
    assert {c.what for c in BookingChange.of(row)} <= set(CHANGES)
    assert {c.by for c in BookingChange.of(row)} <= set(ACTORS)
    assert BookingChange.get_by_id(moved.id).old_start == START - timedelta(hours=1)

    row.page.delete_instance()  # a page goes with its bookings and their history
    assert not Booking.select().exists() and not BookingChange.select().exists()
