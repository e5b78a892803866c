"""m0120: booking pages and polls get a default language, bookings and
participants the language their visitor used, pages a switch for the notes
field, users the choice to list their pages; rows written before keep their
values and get the defaults (English, notes asked, not listed)."""

from __future__ import annotations

from datetime import timedelta

from playhouse.migrate import migrate as run_ops

from calmesh import db
from calmesh.db import utcnow
from calmesh.models import Booking, BookingPage, Participant, Poll, User
from calmesh.services import booking_pages, calendars

NAME = "m0120_visitor_languages"
ADDED = {
    "booking_page": ("language", "ask_notes"),
    "user": ("public_profile",),
    "poll": ("language",),
    "booking": ("attendee_locale",),
    "participant": ("locale",),
}


def columns(table: str) -> set[str]:
    return {c.name for c in db.db.get_columns(table)}


def _as_before() -> None:
    migrator = db.migrator_for(db.db.obj)
    run_ops(
        *(migrator.drop_column(table, column) for table, names in ADDED.items() for column in names)
    )
    db.SchemaVersion.delete().where(db.SchemaVersion.name == NAME).execute()


def test_older_rows_are_carried_over_with_the_defaults(app, alice):
    calendars.create(alice, "work", "Work", "Europe/Berlin")
    page = booking_pages.create(
        alice, {"slug": "intro", "title": "Intro", "calendar": "work", "timezone": "Europe/Berlin"}
    )
    BookingPage.update(language="de", ask_notes=False).where(BookingPage.id == page.id).execute()
    start = utcnow() + timedelta(days=3)
    booking = Booking.create(
        page=page, user=alice, start=start, end=start + timedelta(minutes=30),
        attendee_name="Vera", attendee_email="vera@example.net", attendee_locale="fr",
    )  # fmt: skip
    poll = Poll.create(user=alice, title="Offsite", timezone="Europe/Berlin", language="es")
    participant = Participant.create(poll=poll, name="Pat", locale="de")
    _as_before()
    for table, names in ADDED.items():
        assert not set(names) & columns(table), table

    assert db.migrate() == [NAME]

    for table, names in ADDED.items():
        assert set(names) <= columns(table), table
    page, booking = BookingPage.get_by_id(page.id), Booking.get_by_id(booking.id)
    assert (page.slug, page.title, page.timezone) == ("intro", "Intro", "Europe/Berlin")
    assert (page.language, page.ask_notes) == ("en", True)
    assert (booking.attendee_name, booking.start, booking.attendee_locale) == ("Vera", start, "en")
    assert (Poll.get_by_id(poll.id).title, Poll.get_by_id(poll.id).language) == ("Offsite", "en")
    assert Participant.get_by_id(participant.id).locale == "en"
    user = User.get_by_id(alice.id)
    assert (user.handle, user.public_profile) == ("alice", False)
    assert db.migrate() == [], "it runs once"


def test_the_new_columns_take_their_values_after_the_upgrade(app, alice):
    _as_before()
    db.migrate()
    User.update(public_profile=True).where(User.id == alice.id).execute()
    poll = Poll.create(user=alice, title="Offsite", timezone="UTC", language="fr")
    assert User.get_by_id(alice.id).public_profile is True
    assert Poll.get_by_id(poll.id).language == "fr"
