"""Booking-page slugs are unique per owner, outside the REST API (whose tests of it
are in tests/api/test_booking_pages.py): the public web page and the migration."""

from __future__ import annotations

import peewee as pw
import pytest

from calmesh.db import db, migrator_for
from calmesh.migrations import m0040_booking_page_slug_per_owner as migration
from calmesh.models import BookingPage


def test_the_public_web_page_is_per_owner(pages, stranger):
    for handle in ("alice", "bob"):
        html = stranger.client.get(f"/{handle}/intro").get_data(as_text=True)
        assert f"{handle}&#39;s intro" in html


def test_the_migration_turns_the_instance_wide_index_into_a_per_owner_one(app, alice, bob):
    with db.atomic():
        db.execute_sql('DROP INDEX "booking_page_user_id_slug"')
        db.execute_sql('CREATE UNIQUE INDEX "booking_page_slug" ON "booking_page" ("slug")')
    migration.up(migrator_for(db.obj), db.obj)
    indexes = {i.name: (i.columns, i.unique) for i in db.get_indexes("booking_page")}
    assert "booking_page_slug" not in indexes
    assert indexes["booking_page_user_id_slug"] == (["user_id", "slug"], True)
    from calmesh.services import calendars

    for user in (alice, bob):
        calendar = calendars.create(user, "work", "Work", "UTC")
        BookingPage.create(
            user=user, slug="intro", title="t", calendar=calendar, timezone="UTC", weekly_hours={}
        )
    with pytest.raises(pw.IntegrityError), db.atomic():
        BookingPage.create(
            user=alice, slug="intro", title="t", calendar=calendar, timezone="UTC", weekly_hours={}
        )
