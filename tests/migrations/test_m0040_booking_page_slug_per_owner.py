"""m0040: booking-page slugs are unique per owner, not across the instance."""

from __future__ import annotations

import peewee as pw
import pytest
from playhouse.migrate import migrate as run_ops

from calmesh import db
from calmesh.models import BookingPage, UnifiedCalendar
from calmesh.services import calendars

NAME = "m0040_booking_page_slug_per_owner"


def page(user, slug: str) -> BookingPage:
    calendar = UnifiedCalendar.get_or_none(UnifiedCalendar.user == user) or calendars.create(
        user, f"{user.handle}-cal", "Cal", "UTC"
    )
    return BookingPage.create(
        user=user, calendar=calendar, slug=slug, title=slug, timezone="UTC", weekly_hours={}
    )


def test_two_owners_may_then_use_the_same_slug_but_one_owner_not_twice(app, alice, bob):
    migrator = db.migrator_for(db.db.obj)
    run_ops(
        migrator.drop_index("booking_page", "booking_page_user_id_slug"),
        migrator.add_index("booking_page", ("slug",), True),
    )
    db.SchemaVersion.delete().where(db.SchemaVersion.name == NAME).execute()
    page(alice, "intro")
    with pytest.raises(pw.IntegrityError), db.db.atomic():
        page(bob, "intro")

    assert db.migrate() == [NAME]

    page(bob, "intro")
    with pytest.raises(pw.IntegrityError), db.db.atomic():
        page(alice, "intro")
    assert BookingPage.select().where(BookingPage.slug == "intro").count() == 2
