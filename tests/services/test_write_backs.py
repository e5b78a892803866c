"""Where a decided poll's calendar write-back stands (services/write_backs.py), read
from the outbox like a booking's: none before the decision, queued, failed with
the provider's reason, retried, written, removed once the decision is withdrawn;
failures listed per owner and calendar until retried or dismissed. And a
booking's the same way, on a calendar with no source (every real write-back
fails for good there). (Bookings' write-backs through the pages:
tests/web/test_booking_detail.py.)"""

from __future__ import annotations

import pytest

from calmesh.effects import delivery, outbox, poll_writeback
from calmesh.jobs.outbox import context, process_due
from calmesh.models import Booking, OutboxItem, Poll, PollOption
from calmesh.services import bookings, calendars, polls, write_backs
from tests.factories import make_connection
from tests.services.test_webhooks import book, make_page, slot
from tests.web.test_booking_detail import fake_provider

OPTIONS = [
    {"start": "2031-03-10T18:00:00Z", "end": "2031-03-10T19:00:00Z"},
    {"start": "2031-03-11T18:00:00Z", "end": "2031-03-11T19:00:00Z"},
]


@pytest.fixture
def provider(monkeypatch):
    return fake_provider(monkeypatch)


def a_poll(user, calendar: str | None = "work") -> Poll:
    if calendar and calendars.get_for(user, calendar) is None:
        unified = calendars.create(user, calendar, "Work", "Europe/Berlin")
        calendars.add_source(unified, make_connection(user, name="Dav").id)
    body = {"title": "Offsite", "options": OPTIONS, "calendar": calendar}
    return polls.create(user, polls.NEW_POLL.parse(body))


def decided(app, poll: Poll) -> Poll:
    with app.test_request_context():
        return polls.decide(poll, PollOption.of(poll).first().id, notify=False)


def run_write_backs(app) -> None:
    with app.app_context():
        for item in OutboxItem.select().where(
            (OutboxItem.kind == poll_writeback.KIND) & (OutboxItem.status == "pending")
        ):
            delivery.deliver(item.id, context(app))


def fresh(poll: Poll) -> Poll:
    return Poll.get_by_id(poll.id)


def test_a_polls_write_back_goes_from_none_to_failed_to_written_to_removed(app, alice, provider):
    poll = a_poll(alice)
    assert write_backs.state_of(poll).state == "none"
    poll = decided(app, poll)
    assert write_backs.state_of(fresh(poll)).state == "queued"

    provider.fail = "the server refused the credentials"
    run_write_backs(app)
    failing = write_backs.state_of(fresh(poll))
    assert (failing.state, failing.shows_failure) == ("failed", True)
    assert "refused" in failing.error
    [listed] = write_backs.failed_poll_write_backs(alice)
    assert listed.poll.id == poll.id and listed.booking is None and "refused" in listed.error
    assert write_backs.failed_write_backs(alice) == []  # bookings' list stays bookings'

    provider.fail = None
    write_backs.retry(fresh(poll))
    assert write_backs.state_of(fresh(poll)).state == "queued"
    run_write_backs(app)
    written = write_backs.state_of(fresh(poll))
    assert written.state == "written" and written.calendar.name == "Dav 0"
    assert write_backs.failed_poll_write_backs(alice) == []

    with app.test_request_context():
        polls.reopen(fresh(poll))  # withdraws the decision: the event is taken out
    run_write_backs(app)
    assert write_backs.state_of(fresh(poll)).state == "removed"


def test_a_dismissed_poll_failure_hides_until_the_next_one(app, alice, provider):
    provider.fail = "gone"
    poll = decided(app, a_poll(alice))
    run_write_backs(app)
    write_backs.dismiss(fresh(poll))
    assert write_backs.failed_poll_write_backs(alice) == []
    assert write_backs.state_of(fresh(poll)).dismissed
    later = list(PollOption.of(poll))[1]
    with app.test_request_context():  # picking another time: a new write-back, failing too
        polls.decide(fresh(poll), later.id, notify=False)
    run_write_backs(app)
    assert [f.poll.id for f in write_backs.failed_poll_write_backs(alice)] == [poll.id]


def test_failures_are_listed_per_owner_and_calendar(app, alice, bob, provider):
    provider.fail = "gone"
    poll = decided(app, a_poll(alice))
    run_write_backs(app)
    work = calendars.get_for(alice, "work")
    other = calendars.create(alice, "other", "Other", "UTC")
    assert [f.poll.id for f in write_backs.failed_poll_write_backs(alice, work.id)] == [poll.id]
    assert write_backs.failed_poll_write_backs(alice, other.id) == []
    assert write_backs.failed_poll_write_backs(bob) == []


def test_retry_or_dismiss_without_a_failure_says_there_is_nothing_to_do(app, alice, provider):
    poll = decided(app, a_poll(alice))
    run_write_backs(app)
    for act in (write_backs.retry, write_backs.dismiss):
        with pytest.raises(write_backs.NothingToDo, match="poll's calendar write-back"):
            act(fresh(poll))


# --- a booking's write-back ------------------------------------------------------------


@pytest.fixture
def in_request(app):
    with app.test_request_context():
        yield


def state(booking: Booking) -> str:
    return write_backs.state_of(Booking.get_by_id(booking.id)).state


def newest(booking: Booking) -> OutboxItem:
    return OutboxItem.get_by_id(write_backs.state_of(booking).item_id)


def test_a_write_back_goes_from_queued_to_retrying_to_failed(app, in_request, alice):
    booking = book(make_page(alice), 0)
    assert state(booking) == "queued"
    item = newest(booking)
    assert item.ordering_key == write_backs.ordering_key(booking.uid)
    outbox.claim(item.id)
    outbox.retry(item, "calendar down", app.config["CALMESH"])
    found = write_backs.state_of(booking)
    assert (found.state, found.error) == ("retrying", "calendar down")

    process_due(app, now=found.at)
    found = write_backs.state_of(Booking.get_by_id(booking.id))
    assert found.state == "failed" and "no sources" in found.error
    assert found.shows_failure


def test_written_and_removed_follow_the_booking(app, in_request, alice):
    connection = make_connection(alice)
    page = make_page(alice)
    booking = book(page, 0)
    remote = connection.calendars[0]
    OutboxItem.update(status="done").execute()
    Booking.update(remote_calendar=remote, remote_href="/cal/b.ics").where(
        Booking.id == booking.id
    ).execute()  # as a finished write leaves it
    found = write_backs.state_of(Booking.get_by_id(booking.id))
    assert (found.state, found.calendar.id) == ("written", remote.id)

    bookings.cancel(Booking.get_by_id(booking.id), "ill")
    assert state(booking) == "queued", "the removal is on its way"
    OutboxItem.update(status="done").execute()
    Booking.update(remote_href=None).where(Booking.id == booking.id).execute()
    assert state(booking) == "removed"


def test_a_request_not_yet_confirmed_has_nothing_to_write(app, in_request, alice):
    booking = book(make_page(alice, requires_confirmation=True), 0)
    process_due(app)
    assert state(booking) == "none"


def test_failed_write_backs_are_the_owners_newest_first_and_per_calendar(
    app, in_request, alice, bob
):
    first = book(make_page(alice), 0)
    other = calendars.create(alice, "home", "Home", "UTC")
    second = book(make_page(alice, slug="other", calendar="home"), 2)
    book(make_page(bob), 4)
    process_due(app)

    failed = write_backs.failed_write_backs(alice)
    assert [f.booking.id for f in failed] == [second.id, first.id]
    assert all("no sources" in f.error for f in failed)
    assert [f.booking.id for f in write_backs.failed_write_backs(alice, other.id)] == [second.id]
    assert len(write_backs.failed_write_backs(bob)) == 1


def test_dismiss_hides_a_failure_until_the_next_one(app, in_request, alice):
    booking = book(make_page(alice), 0)
    with pytest.raises(write_backs.NothingToDo):
        write_backs.dismiss(booking)
    process_due(app)

    write_backs.dismiss(Booking.get_by_id(booking.id))
    assert write_backs.failed_write_backs(alice) == []
    found = write_backs.state_of(Booking.get_by_id(booking.id))
    assert found.state == "failed" and not found.shows_failure

    bookings.reschedule(Booking.get_by_id(booking.id), slot(3))  # a new write-back
    process_due(app)
    assert [f.booking.id for f in write_backs.failed_write_backs(alice)] == [booking.id]


def test_retry_queues_a_failed_write_back_again_with_a_fresh_budget(app, in_request, alice):
    booking = book(make_page(alice), 0)
    process_due(app)
    failed = newest(booking)

    write_backs.retry(Booking.get_by_id(booking.id))
    assert state(booking) == "queued" and newest(booking).attempts == 0
    assert newest(booking).id == failed.id, "the same item: no second write"
    with pytest.raises(write_backs.NothingToDo):
        write_backs.retry(Booking.get_by_id(booking.id))
    process_due(app)
    assert [f.booking.id for f in write_backs.failed_write_backs(alice)] == [booking.id]
