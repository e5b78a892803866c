"""Parsing: bad data gives a CalendarDataError with a clear message, and loses no good event."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from calmesh.engine.recurrence import CalendarDataError, expand, split_by_uid
from tests.engine.recurrence.helpers import WIDE, YEAR_2026, assert_well_formed, calendar, corpus

# --- Bad data -----------------------------------------------------------------


GOOD = "UID:good\nDTSTART:20260330T090000Z\nDTEND:20260330T100000Z"


@pytest.mark.parametrize(
    "broken",
    [
        "UID:no-start\nSUMMARY:no DTSTART",
        "UID:bad-rule\nDTSTART:20260330T090000Z\nRRULE:FREQ=SOMETIMES",
        "UID:bad-until\nDTSTART:20260330T090000Z\nRRULE:FREQ=DAILY;UNTIL=soon",
        "UID:bad-start\nDTSTART:2026XX30T090000Z",
        "UID:time-only\nDTSTART:090000",
        "UID:bad-sequence\nDTSTART:20260330T090000Z\nSEQUENCE:abc\nRRULE:FREQ=DAILY",
        "UID:far-future\nDTSTART:99991231T230000Z\nRRULE:FREQ=HOURLY",
        "UID:bad-exdate\nDTSTART:20260330T090000Z\nRRULE:FREQ=DAILY\nEXDATE:garbage",
        "UID:garbage-line\nDTSTART:20260330T090000Z\nthis line means nothing",
        "UID:two-starts\nDTSTART:20260330T090000Z\nDTSTART:20260331T090000Z",
    ],
)
def test_broken_series_is_skipped_and_the_rest_of_the_file_expands(broken):
    occurrences = expand(calendar(broken, GOOD), *YEAR_2026)
    assert "good" in {o.uid for o in occurrences}
    assert_well_formed(occurrences, YEAR_2026)


def test_broken_alarm_or_todo_does_not_lose_the_events():
    # icalendar tolerates a broken property only inside a VEVENT.
    text = calendar(
        GOOD + "\nBEGIN:VALARM\nACTION:DISPLAY\nTRIGGER:whenever\nEND:VALARM",
        header="BEGIN:VTODO\nUID:todo\nDUE:never\nEND:VTODO\n",
    )
    assert [o.uid for o in expand(text, *YEAR_2026)] == ["good"]


def test_end_with_a_misspelt_name_closes_the_open_component():
    # issue_201_test_matrix.ics has END:VTOOD after BEGIN:VTODO.
    text = calendar(GOOD, header="BEGIN:VTODO\nUID:todo\nEND:VTOOD\n")
    assert [o.uid for o in expand(text, *YEAR_2026)] == ["good"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "not an iCalendar file: it is empty"),
        (b"  \r\n\r\n", "not an iCalendar file: it is empty"),
        (b"<!DOCTYPE html><html><body>Sign in</body></html>", "looks like a web page"),
        (b'{"events": []}', "missing BEGIN:VCALENDAR"),
        (bytes(range(256)), "missing BEGIN:VCALENDAR"),
        (b"BEGIN:VEVENT\r\nUID:x\r\nEND:VEVENT\r\n", "missing BEGIN:VCALENDAR"),
        (
            calendar(GOOD)[:90].encode(),
            "BEGIN:VEVENT at line 4 is never closed (the file may be cut off)",
        ),
        (calendar(GOOD, header="this is garbage\n"), "malformed iCalendar at line 4"),
        (
            calendar(
                GOOD,
                header="BEGIN:VTIMEZONE\nTZID:X\nBEGIN:STANDARD\nDTSTART:2026XX\n"
                "TZOFFSETFROM:+0100\nTZOFFSETTO:+0100\nEND:STANDARD\nEND:VTIMEZONE\n",
            ),
            "malformed iCalendar at line 7",
        ),
        (calendar("UID:x\nDTSTART;TZID=Europe:20260330T090000"), "a TZID is not a time zone"),
        (calendar(GOOD, header="CALSCALE:JULIAN\n"), "Only Gregorian calendars"),
    ],
)
def test_unreadable_data_raises_calendar_data_error_with_a_clear_message(data, message):
    with pytest.raises(CalendarDataError, match=re.escape(message)) as caught:
        expand(data, *YEAR_2026)
    assert "site-packages" not in str(caught.value)


def test_repeated_uid_property_keeps_the_first():
    text = calendar("UID:first\nUID:second\nDTSTART:20260330T090000Z")
    assert [o.uid for o in expand(text, *YEAR_2026)] == ["first"]


@pytest.mark.parametrize("data", ["BEGIN:VCALENDAR\nEND:VCALENDAR\n", corpus("no_events.ics")])
def test_empty_calendar_has_no_occurrences(data):
    assert expand(data, *WIDE) == []
    assert split_by_uid(data) == {}


def test_latin_1_bytes_are_read():
    text = calendar("UID:l\nDTSTART:20260330T090000Z\nSUMMARY:Réunion")
    [occurrence] = expand(text.encode("cp1252"), *YEAR_2026)
    assert occurrence.summary == "Réunion"


def test_several_calendars_in_one_file_are_merged():
    text = calendar("UID:a\nDTSTART:20260330T090000Z") + calendar("UID:b\nDTSTART:20260331T090000Z")
    assert [o.uid for o in expand(text, *YEAR_2026)] == ["a", "b"]


MUTABLE = calendar(
    "UID:series\nDTSTART;TZID=Europe/Berlin:20260323T090000\nDTEND;TZID=Europe/Berlin:20260323T100000\n"
    "RRULE:FREQ=WEEKLY;UNTIL=20260601T000000Z\nEXDATE;TZID=Europe/Berlin:20260406T090000\n"
    "RDATE;VALUE=PERIOD:20260402T120000Z/PT1H\nSTATUS:CONFIRMED",
    "UID:series\nRECURRENCE-ID;TZID=Europe/Berlin:20260330T090000\n"
    "DTSTART;TZID=Europe/Berlin:20260331T090000\nDURATION:PT2H",
    "UID:day\nDTSTART;VALUE=DATE:20260401\nDTEND;VALUE=DATE:20260403\nTRANSP:TRANSPARENT",
    header="X-WR-TIMEZONE:Europe/Berlin\nBEGIN:VTIMEZONE\nTZID:Custom\nBEGIN:STANDARD\n"
    "DTSTART:16010101T000000\nTZOFFSETFROM:+0100\nTZOFFSETTO:+0100\nEND:STANDARD\nEND:VTIMEZONE\n",
).split("\r\n")

NOISE = st.sampled_from(
    [
        "",
        "BEGIN:VEVENT",
        "END:VEVENT",
        "END:VCALENDAR",
        "BEGIN:VALARM",
        "DTSTART:garbage",
        "DTSTART;TZID=Custom:20260330T090000",
        "DTEND;VALUE=DATE:20260101",
        "RRULE:FREQ=DAILY;COUNT=-3",
        "RRULE:FREQ=YEARLY;BYMONTH=13",
        "EXDATE:20260330",
        "RECURRENCE-ID:20260330T080000Z",
        "DURATION:-PT1H",
        "X-WR-TIMEZONE:Nowhere",
        "TZID:Custom",
        ";;;",
        ":",
        " folded",
        "\x00",
    ]
)


@settings(
    max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(
    edits=st.lists(
        st.tuples(
            st.integers(0, len(MUTABLE) - 1), st.sampled_from(["replace", "insert", "drop"]), NOISE
        ),
        max_size=4,
    )
)
def test_mangled_calendar_expands_or_raises_calendar_data_error(edits):
    lines = list(MUTABLE)
    for index, operation, noise in edits:
        index = min(index, len(lines) - 1)
        if operation == "replace":
            lines[index] = noise
        elif operation == "insert":
            lines.insert(index, noise)
        elif len(lines) > 1:
            del lines[index]
    text = "\r\n".join(lines)
    try:
        occurrences = expand(text, *YEAR_2026)
    except CalendarDataError:
        return
    assert_well_formed(occurrences, YEAR_2026)
    split_by_uid(text)
