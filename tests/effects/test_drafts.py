"""calmesh.effects.drafts: the one event of a booking and of a decided poll
(mailed as .ics and written back): its UID, status, description, organizer,
and instants that stay right across a DST change."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar

from calmesh.effects import drafts
from calmesh.engine.ical import build_calendar
from calmesh.models import PollOption
from calmesh.services import polls
from tests.services import test_polls
from tests.services.test_polls import cast, new_poll, slot, whole
from tests.services.test_webhooks import book, make_page

BERLIN = ZoneInfo("Europe/Berlin")

# The votes' signed links are built on the instance's URL (a fixture, used by name).
ctx = test_polls.ctx


def vevent(draft) -> icalendar.cal.Component:
    return icalendar.Calendar.from_ical(build_calendar(draft, method="PUBLISH")).walk("VEVENT")[0]


def test_a_bookings_draft_carries_its_page_its_visitor_and_its_status(ctx, alice):
    page = make_page(
        alice,
        location="Room 4",
        requires_confirmation=True,
        questions=[{"id": "topic", "label": "Topic", "type": "text", "required": False}],
    )
    booking = book(page, 0)
    booking.notes, booking.answers = "Bring slides", {"topic": "Budget"}
    draft = drafts.booking_draft(booking)
    assert draft.uid == booking.uid + "@booking.calmesh" == drafts.booking_uid(booking)
    assert draft.summary == "Intro call: Vera Visitor" and draft.location == "Room 4"
    assert (draft.start, draft.end) == (booking.start, booking.end)
    assert draft.status == "TENTATIVE", "a request not yet confirmed"
    assert draft.description.splitlines() == [
        "Booked by Vera Visitor <vera@example.net> via CalMesh.",
        "",
        "Notes:",
        "Bring slides",
        "Topic: Budget",
    ]
    assert (draft.organizer_email, draft.organizer_name) == ("alice@example.org", "Alice")
    assert draft.attendees == (("Vera Visitor", "vera@example.net"),)
    booking.status = "accepted"
    assert drafts.booking_draft(booking).status == "CONFIRMED"
    assert drafts.booking_draft(booking, cancelled=True).status == "CANCELLED"


def test_poll_drafts_keep_their_instants_across_the_dst_change(ctx, alice):
    # Europe/Berlin moves to summer time on 30 March 2031: 09:00 is 08:00 UTC
    # before and 07:00 UTC after.
    before = datetime(2031, 3, 29, 9, tzinfo=BERLIN)
    after = datetime(2031, 3, 31, 9, tzinfo=BERLIN)
    options = [
        {"id": None, "date": None, "start": t, "end": t + timedelta(hours=1)}
        for t in (before, after)
    ]
    poll = new_poll(alice, options, location="Cafe")
    first, second = PollOption.of(poll)
    for option, utc_hour in ((first, 8), (second, 7)):
        draft = drafts.poll_draft(poll, option)
        assert draft.start.astimezone(UTC).hour == utc_hour
        event = vevent(draft)
        assert event.decoded("DTSTART").astimezone(BERLIN).hour == 9, "09:00 local both days"
        assert event.decoded("DTEND") - event.decoded("DTSTART") == timedelta(hours=1)
    assert draft.uid == poll.public_id + "@poll.calmesh" and draft.location == "Cafe"
    assert draft.description == "Decided in a CalMesh poll." and draft.attendees == ()


def test_a_whole_day_option_is_an_all_day_event_ending_the_next_day(ctx, alice):
    poll = new_poll(alice, [whole(date(2031, 3, 30))], description="Bring boots")
    (option,) = PollOption.of(poll)
    vera = cast(poll, "Vera", ("yes",), email="vera@example.net")
    draft = drafts.poll_draft(poll, option, vera)
    assert (draft.start, draft.end) == (date(2031, 3, 30), date(2031, 3, 31))
    assert draft.attendees == (("Vera", "vera@example.net"),), "only its recipient"
    assert draft.description == "Bring boots\n\nDecided in a CalMesh poll."
    assert vevent(draft).decoded("DTSTART") == date(2031, 3, 30)


def test_deciding_again_raises_the_sequence(ctx, alice):
    poll = new_poll(alice, [slot(10, 9), slot(11, 9)])
    first, second = PollOption.of(poll)
    poll = polls.decide(poll, first.id, notify=False)
    assert drafts.poll_draft(poll, first).sequence == 0
    poll = polls.decide(poll, second.id, notify=False)
    assert drafts.poll_draft(poll, second).sequence == 1
