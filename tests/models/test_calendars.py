"""calmesh.models.calendars: unified calendars and their ordered sources."""

from __future__ import annotations

import peewee as pw
import pytest

from calmesh.db import db
from calmesh.models import CalendarSource, UnifiedCalendar
from tests.factories import make_connection


def calendar(user, slug: str = "work") -> UnifiedCalendar:
    return UnifiedCalendar.create(user=user, slug=slug, name=slug.title(), timezone="UTC")


def test_a_new_calendar_counts_tentative_as_busy_and_has_no_feed_or_write_target(alice):
    row = UnifiedCalendar.get_by_id(calendar(alice).id)

    assert row.tentative_busy is True
    assert (row.feed_mode, row.feed_token_hash, row.write_calendar) == ("busy", None, None)


def test_slugs_are_unique_per_owner_only(alice, bob):
    calendar(alice)
    calendar(bob)  # the same slug for another owner

    with pytest.raises(pw.IntegrityError), db.atomic():
        calendar(alice)
    assert [c.user for c in UnifiedCalendar.for_user(bob)] == [bob]


def test_feed_token_hashes_are_unique_across_the_instance(alice, bob):
    UnifiedCalendar.create(user=alice, slug="a", name="A", timezone="UTC", feed_token_hash="h" * 64)

    with pytest.raises(pw.IntegrityError), db.atomic():
        UnifiedCalendar.create(
            user=bob, slug="b", name="B", timezone="UTC", feed_token_hash="h" * 64
        )


def test_a_source_is_added_once_per_calendar_and_connection(alice):
    work = calendar(alice)
    connection = make_connection(alice)
    (remote,) = connection.calendars
    CalendarSource.create(calendar=work, connection=connection, remote_calendar=remote)

    with pytest.raises(pw.IntegrityError), db.atomic():
        CalendarSource.create(calendar=work, connection=connection, remote_calendar=remote)
    assert CalendarSource.get(CalendarSource.calendar == work).sort_order == 0


def test_removing_a_connection_removes_it_as_a_source_and_unsets_the_write_target(alice):
    work = calendar(alice)
    connection = make_connection(alice)
    (remote,) = connection.calendars
    CalendarSource.create(calendar=work, connection=connection, remote_calendar=remote)
    work.write_calendar = remote
    work.save()

    connection.delete_instance()

    assert not CalendarSource.select().where(CalendarSource.calendar == work).exists()
    assert UnifiedCalendar.get_by_id(work.id).write_calendar is None  # SET NULL, calendar kept


def test_deleting_a_calendar_removes_its_sources_not_the_connection(alice):
    work = calendar(alice)
    connection = make_connection(alice)
    CalendarSource.create(calendar=work, connection=connection)

    work.delete_instance()

    assert not CalendarSource.select().exists()
    assert connection.calendars.count() == 1
