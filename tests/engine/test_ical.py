"""build_calendar: the iCalendar text CalMesh writes to CalDAV and mails as invitations."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar
import pytest

from calmesh.engine.ical import PRODID, EventDraft, build_calendar
from calmesh.engine.recurrence import expand

BERLIN = ZoneInfo("Europe/Berlin")
STAMP = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def booking(**changes) -> EventDraft:
    fields = {
        "uid": "booking-42@calmesh.test",
        "summary": "Intro call with Bob",
        "start": datetime(2026, 3, 29, 10, 0, tzinfo=BERLIN),  # the first day of CEST
        "end": datetime(2026, 3, 29, 10, 30, tzinfo=BERLIN),
        "description": "Questions:\nWhat about pricing?",
        "location": "Video call",
        "url": "https://calmesh.test/b/42",
        "organizer_email": "alice@example.org",
        "organizer_name": "Alice Example",
        "attendees": (("Bob Visitor", "bob@example.org"),),
    }
    return EventDraft(**{**fields, **changes})


def parse(text: str) -> tuple[icalendar.Calendar, icalendar.Event]:
    calendar = icalendar.Calendar.from_ical(text)
    [event] = calendar.walk("VEVENT")
    return calendar, event


def test_every_field_round_trips_through_icalendar():
    calendar, event = parse(build_calendar(booking(sequence=3), "REQUEST", dtstamp=STAMP))

    assert str(calendar["PRODID"]) == PRODID == "-//CalMesh//CalMesh//EN"
    assert str(calendar["VERSION"]) == "2.0"
    assert str(calendar["METHOD"]) == "REQUEST"
    assert str(event["UID"]) == "booking-42@calmesh.test"
    assert event["DTSTAMP"].dt == STAMP
    assert event["DTSTART"].dt == datetime(2026, 3, 29, 8, 0, tzinfo=UTC)
    assert event["DTEND"].dt == datetime(2026, 3, 29, 8, 30, tzinfo=UTC)
    assert str(event["SUMMARY"]) == "Intro call with Bob"
    assert str(event["DESCRIPTION"]) == "Questions:\nWhat about pricing?"
    assert str(event["LOCATION"]) == "Video call"
    assert str(event["URL"]) == "https://calmesh.test/b/42"
    assert event["SEQUENCE"] == 3
    assert str(event["STATUS"]) == "CONFIRMED"
    assert str(event["ORGANIZER"]) == "mailto:alice@example.org"
    assert event["ORGANIZER"].params["CN"] == "Alice Example"
    attendee = event["ATTENDEE"]
    assert str(attendee) == "mailto:bob@example.org"
    assert dict(attendee.params) == {
        "CN": "Bob Visitor",
        "ROLE": "REQ-PARTICIPANT",
        "PARTSTAT": "NEEDS-ACTION",
        "RSVP": "TRUE",
    }


def test_times_are_written_in_utc_with_z_and_dtend_always():
    text = build_calendar(booking(), dtstamp=STAMP)

    assert "DTSTART:20260329T080000Z\r\n" in text
    assert "DTEND:20260329T083000Z\r\n" in text
    assert "TZID" not in text and "VTIMEZONE" not in text
    assert "METHOD" not in text, "a CalDAV resource must not carry METHOD"


def test_lines_end_in_crlf_and_are_folded():
    text = build_calendar(booking(description="long words " * 40), dtstamp=STAMP)

    assert text.endswith("END:VCALENDAR\r\n")
    assert "\n" not in text.replace("\r\n", "")
    assert all(len(line.encode()) <= 75 for line in text.split("\r\n"))
    assert str(parse(text)[1]["DESCRIPTION"]) == "long words " * 40


@pytest.mark.parametrize("newline", ["\r\n", "\n", "\r"])
def test_a_line_break_in_the_summary_cannot_add_a_property(newline):
    summary = f"Hi{newline}ATTENDEE:mailto:evil@x"
    text = build_calendar(booking(summary=summary, attendees=()), dtstamp=STAMP)

    _, event = parse(text)
    assert "ATTENDEE" not in event
    assert str(event["SUMMARY"]) == "Hi\nATTENDEE:mailto:evil@x"
    assert "\r\nATTENDEE" not in text


def test_a_description_cannot_close_the_event_or_open_another():
    sneaky = "x\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:evil\r\nSUMMARY:<script>alert(1)</script>"
    calendar, event = parse(build_calendar(booking(description=sneaky), dtstamp=STAMP))

    assert len(calendar.walk("VEVENT")) == 1
    assert str(event["UID"]) == "booking-42@calmesh.test"
    # Markup is text here; escaping it for HTML is the template's job.
    assert str(event["DESCRIPTION"]) == sneaky.replace("\r\n", "\n")


def test_control_characters_are_dropped_and_names_stay_one_parameter():
    draft = booking(
        summary="Bell\x07 and null\x00",
        attendees=(('Bob "the builder";\r\nROLE=CHAIR', "bob@example.org"),),
    )
    _, event = parse(build_calendar(draft, dtstamp=STAMP))

    assert str(event["SUMMARY"]) == "Bell and null"
    assert event["ATTENDEE"].params["CN"] == 'Bob "the builder"; ROLE=CHAIR'
    assert event["ATTENDEE"].params["ROLE"] == "REQ-PARTICIPANT"


@pytest.mark.parametrize(
    "email", ["evil@x\r\nATTENDEE:mailto:more@x", "no-at-sign", "a b@example.org", "x@y:z"]
)
def test_a_malformed_address_is_refused(email):
    with pytest.raises(ValueError, match="not an e-mail address"):
        build_calendar(booking(attendees=(("Someone", email),)))


def test_ordinary_unusual_addresses_are_accepted():
    draft = booking(attendees=(("Ann", "o'brien+booking@mail.example.org"),))
    _, event = parse(build_calendar(draft))
    assert str(event["ATTENDEE"]) == "mailto:o'brien+booking@mail.example.org"


@pytest.mark.parametrize("url", ["javascript:alert(1)", "https://x.test/\r\nATTENDEE:mailto:e@x"])
def test_a_url_that_is_not_plain_http_is_refused(url):
    with pytest.raises(ValueError, match="not an http"):
        build_calendar(booking(url=url))


def test_all_day_events_are_dates():
    draft = booking(start=date(2026, 5, 1), end=date(2026, 5, 3))
    text = build_calendar(draft, dtstamp=STAMP)

    assert "DTSTART;VALUE=DATE:20260501\r\n" in text
    assert "DTEND;VALUE=DATE:20260503\r\n" in text
    [two_days] = expand(text, datetime(2026, 4, 1, tzinfo=UTC), datetime(2026, 6, 1, tzinfo=UTC))
    assert (two_days.all_day, two_days.start_date, two_days.end_date) == (
        True,
        date(2026, 5, 1),
        date(2026, 5, 3),
    )


def test_the_written_event_expands_to_one_occurrence_at_the_right_instant():
    [occurrence] = expand(
        build_calendar(booking(), dtstamp=STAMP),
        datetime(2026, 3, 1, tzinfo=UTC),
        datetime(2026, 4, 1, tzinfo=UTC),
    )
    assert (occurrence.start, occurrence.end) == (
        datetime(2026, 3, 29, 8, 0, tzinfo=UTC),
        datetime(2026, 3, 29, 8, 30, tzinfo=UTC),
    )
    assert occurrence.summary == "Intro call with Bob" and occurrence.busy


def test_sequence_is_written_as_given():
    assert "SEQUENCE:0\r\n" in build_calendar(booking())
    assert "SEQUENCE:7\r\n" in build_calendar(booking(sequence=7))


def test_cancel_marks_the_event_cancelled():
    calendar, event = parse(build_calendar(booking(sequence=2), "CANCEL", dtstamp=STAMP))

    assert str(calendar["METHOD"]) == "CANCEL"
    assert str(event["STATUS"]) == "CANCELLED"
    assert event["SEQUENCE"] == 2


def test_publish_needs_no_organizer_but_an_invitation_does():
    draft = booking(organizer_email="", organizer_name="", attendees=())
    _, event = parse(build_calendar(draft, "PUBLISH"))
    assert "ORGANIZER" not in event and "ATTENDEE" not in event

    with pytest.raises(ValueError, match="organizer"):
        build_calendar(draft, "REQUEST")


def test_optional_fields_are_left_out_when_empty():
    _, event = parse(build_calendar(booking(description="", location="", url="")))

    assert not {"DESCRIPTION", "LOCATION", "URL"} & set(event)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"start": datetime(2026, 3, 1, 9), "end": datetime(2026, 3, 1, 10)}, "timezone-aware"),
        ({"end": datetime(2026, 3, 29, 9, 0, tzinfo=BERLIN)}, "ends before"),
        ({"start": date(2026, 5, 1), "end": date(2026, 5, 1)}, "whole-day"),
        ({"start": date(2026, 5, 1)}, "both be"),
        ({"status": "MAYBE"}, "status"),
    ],
)
def test_impossible_events_are_refused(changes, message):
    with pytest.raises(ValueError, match=message):
        build_calendar(booking(**changes))


def test_unknown_method_is_refused():
    with pytest.raises(ValueError, match="method"):
        build_calendar(booking(), "REPLY")


def test_dtstamp_defaults_to_now():
    _, event = parse(build_calendar(booking()))
    assert abs(event["DTSTAMP"].dt - datetime.now(UTC)) < timedelta(minutes=1)
