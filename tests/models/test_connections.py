"""calmesh.models.connections: connections, their calendars, and the occurrence cache."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import peewee as pw
import pytest

from calmesh.db import db
from calmesh.models import CalendarObject, Connection, OAuthAttempt, Occurrence, RemoteCalendar
from calmesh.models.connections import STATUSES, new_version
from tests.factories import add_event, make_connection

DAY = datetime(2030, 3, 12, tzinfo=UTC)


def test_a_new_connection_waits_for_its_first_sync(alice):
    connection = Connection.get_by_id(Connection.create(user=alice, provider="ics", name="Feed").id)

    assert connection.status == "pending" and connection.status in STATUSES
    assert (connection.failures, connection.last_error, connection.lease_holder) == (0, "", "")
    assert connection.last_sync_at is None and connection.next_sync_at is None


def test_connections_are_listed_per_user(alice, bob):
    mine, theirs = make_connection(alice, name="Mine"), make_connection(bob, name="Theirs")

    assert list(Connection.for_user(alice)) == [mine]
    assert list(Connection.for_user(bob)) == [theirs]


def test_every_remote_calendar_gets_a_version_of_its_own(alice):
    connection = make_connection(alice, calendars=3)
    versions = {c.version for c in connection.calendars}

    assert len(versions) == 3
    assert all(0 <= v < 2**62 for v in versions)
    assert new_version() != new_version()


def test_a_remote_calendar_is_unique_per_connection(alice):
    connection = make_connection(alice)
    (calendar,) = connection.calendars
    other = make_connection(alice, name="Other", calendars=0)

    RemoteCalendar.create(connection=other, remote_id=calendar.remote_id)  # another connection
    with pytest.raises(pw.IntegrityError), db.atomic():
        RemoteCalendar.create(connection=connection, remote_id=calendar.remote_id)


def test_a_new_remote_calendar_is_enabled_read_only_and_never_synced(alice):
    connection = make_connection(alice, calendars=0)
    calendar = RemoteCalendar.get_by_id(
        RemoteCalendar.create(connection=connection, remote_id="/cal/new/").id
    )

    assert (calendar.enabled, calendar.writable) == (True, False)
    assert calendar.sync_token is None and calendar.synced_at is None


def test_removing_a_connection_removes_its_calendars_objects_and_occurrences(alice):
    connection = make_connection(alice)
    (calendar,) = connection.calendars
    event = add_event(calendar, DAY, DAY + timedelta(hours=1))

    connection.delete_instance()

    assert not RemoteCalendar.select().where(RemoteCalendar.id == calendar.id).exists()
    assert not CalendarObject.select().where(CalendarObject.id == event.object_id).exists()
    assert not Occurrence.select().where(Occurrence.id == event.id).exists()


def test_an_objects_href_is_unique_in_its_calendar(alice):
    (calendar,) = make_connection(alice).calendars
    CalendarObject.create(calendar=calendar, href="/cal/a.ics")

    with pytest.raises(pw.IntegrityError), db.atomic():
        CalendarObject.create(calendar=calendar, href="/cal/a.ics")


def test_between_finds_what_touches_the_window_and_a_day_around_it(alice):
    (calendar,) = make_connection(alice).calendars
    (other,) = make_connection(alice, name="Other").calendars
    inside = add_event(calendar, DAY + timedelta(hours=9), DAY + timedelta(hours=10))
    hours_before = add_event(calendar, DAY - timedelta(hours=5), DAY - timedelta(hours=4))
    all_day = add_event(calendar, date(2030, 3, 13), date(2030, 3, 14))
    add_event(calendar, DAY - timedelta(days=3), DAY - timedelta(days=2))  # far before
    add_event(calendar, DAY + timedelta(days=4), DAY + timedelta(days=5))  # far after
    add_event(other, DAY + timedelta(hours=9), DAY + timedelta(hours=10))  # not asked for

    found = Occurrence.between([calendar.id], DAY, DAY + timedelta(days=1))

    # The window is widened by a day on both sides: the caller clips in its zone.
    assert {o.id for o in found} == {inside.id, hours_before.id, all_day.id}
    assert Occurrence.get_by_id(all_day.id).start_date == date(2030, 3, 13)


def test_an_occurrence_is_busy_and_confirmed_unless_told_otherwise(alice):
    (calendar,) = make_connection(alice).calendars
    obj = CalendarObject.create(calendar=calendar, href="/cal/x.ics")
    row = Occurrence.create(object=obj, calendar=calendar, start=DAY, end=DAY + timedelta(hours=1))

    row = Occurrence.get_by_id(row.id)
    assert (row.busy, row.status, row.all_day, row.summary) == (True, "confirmed", False, "")
    assert row.start == DAY and row.start.tzinfo is not None


def attempt(connection, nonce_hash: str) -> OAuthAttempt:
    return OAuthAttempt.create(
        connection=connection,
        user=connection.user,
        kind="google",
        nonce_hash=nonce_hash,
        code_verifier="v" * 64,
    )


def test_an_oauth_attempt_is_unused_tied_to_no_browser_and_unique_by_nonce(alice):
    connection = make_connection(alice, provider="google")
    first = OAuthAttempt.get_by_id(attempt(connection, "n" * 64).id)

    assert first.used_at is None and first.browser_hash is None
    assert first.created_at.tzinfo is not None
    with pytest.raises(pw.IntegrityError), db.atomic():
        attempt(connection, "n" * 64)

    connection.delete_instance()
    assert not OAuthAttempt.select().exists()
