"""split_by_uid: one text per UID that expands to exactly that UID's occurrences."""

from __future__ import annotations

import pytest

from calmesh.engine.recurrence import expand, split_by_uid
from tests.engine.recurrence.helpers import CORPUS_FILES, WIDE, YEAR_2026, calendar, corpus, utc


@pytest.mark.parametrize("path", CORPUS_FILES, ids=lambda path: path.name)
def test_corpus_file_split_by_uid_expands_to_the_same_occurrences(path):
    whole = expand(path.read_bytes(), *WIDE)
    parts = split_by_uid(path.read_bytes())
    from_parts = [o for text in parts.values() for o in expand(text, *WIDE)]
    assert sorted(from_parts, key=lambda o: (o.start, o.uid, o.recurrence_id or "")) == whole
    assert {o.uid for o in whole} <= set(parts)
    assert expand(path.read_bytes(), *WIDE) == whole  # deterministic


# --- split_by_uid -------------------------------------------------------------


def test_split_keeps_overrides_with_their_master_and_the_zones_they_use():
    parts = split_by_uid(corpus("recurring_events_moved.ics"))
    assert sorted(parts) == [
        "5d4c6843-9300-4f91-8d88-6094d4b0b840",
        "a0c78729-30b1-4ba3-a86e-6aedd995d788",
    ]
    moved = parts["a0c78729-30b1-4ba3-a86e-6aedd995d788"]
    assert moved.count("BEGIN:VEVENT") == 3
    assert moved.count("RECURRENCE-ID") == 2
    assert moved.count("BEGIN:VTIMEZONE") == 1 and "TZID:Europe/Berlin" in moved
    assert "5d4c6843" not in moved
    assert [o.recurrence_id for o in expand(moved, *WIDE)] == [
        "2019-03-07T01:00:00Z",
        "2019-03-08T01:00:00Z",
        "2019-03-09T01:00:00Z",
        "2019-03-10T01:00:00Z",
    ]


def test_split_leaves_out_unused_time_zones_and_keeps_x_wr_timezone():
    text = calendar(
        "UID:a\nDTSTART:20260330T090000",
        "UID:b\nDTSTART;TZID=Custom:20260330T090000",
        header="X-WR-TIMEZONE:Europe/Berlin\nBEGIN:VTIMEZONE\nTZID:Custom\nBEGIN:STANDARD\n"
        "DTSTART:16010101T000000\nTZOFFSETFROM:+0500\nTZOFFSETTO:+0500\nEND:STANDARD\n"
        "END:VTIMEZONE\n",
    )
    parts = split_by_uid(text)
    assert "VTIMEZONE" not in parts["a"] and "X-WR-TIMEZONE:Europe/Berlin" in parts["a"]
    assert "TZID:Custom" in parts["b"]
    assert [o.start for o in expand(parts["a"], *YEAR_2026)] == [utc("2026-03-30 07:00")]
    assert [o.start for o in expand(parts["b"], *YEAR_2026)] == [utc("2026-03-30 04:00")]


def test_split_text_does_not_change_with_dtstamp_or_alarms():
    event = "UID:a\nDTSTAMP:20260101T000000Z\nDTSTART:20260330T090000Z\nSUMMARY:Hash me"
    later = event.replace("20260101T000000Z", "20260315T101010Z") + (
        "\nBEGIN:VALARM\nACTION:DISPLAY\nTRIGGER:-PT15M\nEND:VALARM"
    )
    assert split_by_uid(calendar(event)) == split_by_uid(calendar(later))
    assert split_by_uid(calendar(event)) != split_by_uid(calendar(event + "\nLOCATION:Here"))
