"""calmesh.services.calendars: unified calendars of the owner's sources, kept in
order, their merged events and blocked time from stored occurrences (rows as a
finished sync leaves them), the feed token shown once, and where bookings are
written (never to a read-only source)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from calmesh.services import calendars
from calmesh.services.calendars import CalendarError
from tests.factories import add_event, make_connection

DAY = datetime(2031, 5, 6, tzinfo=UTC)


def at(hour: int, minute: int = 0) -> datetime:
    return DAY + timedelta(hours=hour, minutes=minute)


@pytest.fixture
def work(app, alice):
    return calendars.create(alice, "work", "Work", "Europe/Berlin")


def test_a_slug_is_the_owners_once(app, alice, bob, work):
    assert calendars.get_for(alice, "work").id == work.id
    assert calendars.get_for(bob, "work") is None
    calendars.create(bob, "work", "Bob's", "UTC")
    with pytest.raises(CalendarError) as taken:
        calendars.create(alice, "work", "Again", "UTC")
    assert (taken.value.status, taken.value.code) == (409, "conflict")


def test_sources_are_the_owners_kept_in_order_and_dense(app, alice, bob, work):
    first, second = make_connection(alice, name="A"), make_connection(alice, name="B")
    a = calendars.add_source(work, first.id)
    b = calendars.add_source(work, second.id, second.calendars[0].id)
    with pytest.raises(CalendarError, match="already in the calendar"):
        calendars.add_source(work, first.id)
    with pytest.raises(CalendarError) as refused:
        calendars.add_source(work, make_connection(bob).id)
    assert refused.value.status == 404
    with pytest.raises(CalendarError, match="no such calendar"):
        calendars.add_source(work, first.id, second.calendars[0].id)

    assert [s.id for s in calendars.reorder(work, [b.id, a.id])] == [b.id, a.id]
    with pytest.raises(CalendarError, match="exactly once"):
        calendars.reorder(work, [b.id])
    assert calendars.remove_source(work, b.id) and not calendars.remove_source(work, b.id)
    assert [(s.id, s.sort_order) for s in calendars.sources(work)] == [(a.id, 0)]


def test_events_merge_the_sources_in_order_within_the_window(app, alice, work):
    one, two = make_connection(alice, name="A"), make_connection(alice, name="B")
    for connection in (one, two):
        calendars.add_source(work, connection.id)
    add_event(one.calendars[0], at(9), at(10), "Standup")
    add_event(two.calendars[0], at(8), at(9, 30), "Early")
    add_event(two.calendars[0], at(20), at(21), "Evening")
    add_event(make_connection(alice, name="C").calendars[0], at(9), at(10), "Not a source")

    found = calendars.events(work, at(8, 30), at(12))
    assert [e.busy_event.summary for e in found] == ["Early", "Standup"]
    assert calendars.events(calendars.create(alice, "empty", "E", "UTC"), at(0), at(23)) == []


def test_blocked_time_merges_busy_events_and_leaves_out_free_ones(app, alice, work):
    connection = make_connection(alice)
    calendars.add_source(work, connection.id)
    remote = connection.calendars[0]
    add_event(remote, at(9), at(10))
    add_event(remote, at(9, 30), at(11))
    add_event(remote, at(13), at(14), busy=False)
    add_event(remote, at(15), at(16), status="cancelled")
    blocked = [(i.start, i.end) for i in calendars.blocked_time(work)]
    assert blocked == [(at(9), at(11))]


def test_the_feed_token_is_shown_once_rotated_and_turned_off(app, work):
    _, token = calendars.update(work, feed_mode="busy")
    assert token and calendars.by_feed_token(token).id == work.id
    assert work.feed_token_hash != token, "only its hash is kept"
    _, again = calendars.update(work, name="Renamed")
    assert again is None
    _, rotated = calendars.update(work, rotate_feed=True)
    assert rotated != token and calendars.by_feed_token(token) is None
    assert calendars.by_feed_token(rotated).name == "Renamed"
    calendars.update(work, feed_mode="off")
    assert calendars.by_feed_token(rotated) is None
    assert calendars.by_feed_token("") is None and calendars.by_feed_token("x" * 65) is None


def test_bookings_go_to_the_first_writable_source(app, alice, work):
    feed = make_connection(alice, provider="ics", name="Holidays")
    dav = make_connection(alice, name="Dav")
    calendars.add_source(work, feed.id)
    source = calendars.add_source(work, dav.id)
    assert calendars.default_write_target(work).id == source.id, "the read-only one skipped"
    assert calendars.writable_calendar(source).id == dav.calendars[0].id
    empty = calendars.create(alice, "empty", "Empty", "UTC")
    assert calendars.default_write_target(empty) is None
    with pytest.raises(CalendarError, match="no sources"):
        calendars.write_target(empty)


def test_deleting_a_calendar_keeps_the_connections(app, alice, work):
    connection = make_connection(alice)
    calendars.add_source(work, connection.id)
    calendars.delete(work)
    assert calendars.get_for(alice, "work") is None
    assert connection.calendars.count() == 1
