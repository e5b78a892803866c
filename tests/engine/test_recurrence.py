from __future__ import annotations

import itertools
import re
import tracemalloc
from datetime import UTC, date, datetime, time, timedelta

import pytest
import recurring_ical_events
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from calmesh.engine.recurrence import (
    WALK_FACTOR,
    Budget,
    CalendarDataError,
    Occurrence,
    expand,
    parse_calendar,
    split_by_uid,
    zone_from_name,
)
from tests.conftest import CORPUS

CORPUS_FILES = sorted(CORPUS.glob("*.ics"))


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


WIDE = (utc("2000-01-01 00:00"), utc("2031-01-01 00:00"))
YEAR_2026 = (utc("2026-01-01 00:00"), utc("2027-01-01 00:00"))


def corpus(name: str) -> bytes:
    return (CORPUS / name).read_bytes()


def spans(occurrences: list[Occurrence], uid: str | None = None) -> list[tuple]:
    """(recurrence_id, start, end) of each occurrence, optionally of one UID."""
    return [(o.recurrence_id, o.start, o.end) for o in occurrences if uid is None or o.uid == uid]


def calendar(*events: str, header: str = "") -> str:
    """A VCALENDAR around VEVENT bodies written one property per line."""
    body = "".join(f"BEGIN:VEVENT\n{event.strip()}\nEND:VEVENT\n" for event in events)
    text = (
        f"BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//CalMesh tests//EN\n{header}{body}END:VCALENDAR\n"
    )
    return text.replace("\n", "\r\n")


def assert_well_formed(occurrences: list[Occurrence], window: tuple[datetime, datetime]) -> None:
    for o in occurrences:
        assert o.start.tzinfo is UTC and o.end.tzinfo is UTC, o
        assert o.end >= o.start, o
        assert o.status in {"confirmed", "tentative"}, o
        assert o.recurring == (o.recurrence_id is not None), o
        if o.all_day:
            assert o.start_date is not None and o.end_date is not None, o
            assert o.end_date > o.start_date, o
            assert o.start == datetime.combine(o.start_date, time(), UTC), o
            assert o.end == datetime.combine(o.end_date, time(), UTC), o
        else:
            assert o.start_date is None and o.end_date is None, o
            assert o.start < window[1] and (o.end > window[0] or o.start >= window[0]), o
    keys = [(o.uid, o.recurrence_id) for o in occurrences]
    assert len(keys) == len(set(keys)), "an instance appears twice"
    assert occurrences == sorted(occurrences, key=lambda o: (o.start, o.uid))


# --- Every corpus file -------------------------------------------------------


def test_corpus_is_present():
    assert len(CORPUS_FILES) == 95, CORPUS


@pytest.mark.parametrize("path", CORPUS_FILES, ids=lambda path: path.name)
def test_corpus_file_expands_to_well_formed_occurrences_or_a_data_error(path):
    try:
        occurrences = expand(path.read_bytes(), *WIDE)
    except CalendarDataError as exc:
        assert str(exc)
    else:
        assert_well_formed(occurrences, WIDE)


@pytest.mark.parametrize("path", CORPUS_FILES, ids=lambda path: path.name)
def test_corpus_file_split_by_uid_expands_to_the_same_occurrences(path):
    whole = expand(path.read_bytes(), *WIDE)
    parts = split_by_uid(path.read_bytes())
    from_parts = [o for text in parts.values() for o in expand(text, *WIDE)]
    assert sorted(from_parts, key=lambda o: (o.start, o.uid, o.recurrence_id or "")) == whole
    assert {o.uid for o in whole} <= set(parts)
    assert expand(path.read_bytes(), *WIDE) == whole  # deterministic


# --- Corpus files worked out by hand ------------------------------------------


def test_weekly_berlin_evening_keeps_local_time_across_spring_dst():
    # daylight_saving_time.ics: Wednesdays 19:00-21:00 Europe/Berlin from
    # 2019-02-13; Berlin leaves UTC+1 for UTC+2 on Sunday 2019-03-31.
    occurrences = expand(
        corpus("daylight_saving_time.ics"), utc("2019-03-20 00:00"), utc("2019-04-11 00:00")
    )
    assert spans(occurrences, "7uartkcnhf0elbvs8md0itrf6c@google.com") == [
        ("2019-03-20T18:00:00Z", utc("2019-03-20 18:00"), utc("2019-03-20 20:00")),
        ("2019-03-27T18:00:00Z", utc("2019-03-27 18:00"), utc("2019-03-27 20:00")),
        ("2019-04-03T17:00:00Z", utc("2019-04-03 17:00"), utc("2019-04-03 19:00")),
        ("2019-04-10T17:00:00Z", utc("2019-04-10 17:00"), utc("2019-04-10 19:00")),
    ]


def test_chicago_weekly_series_with_exdates_across_autumn_dst():
    # issue_48_dst.ics, m4dpn70: Fridays 14:15-14:30 America/Chicago from
    # 2020-09-25, EXDATE Oct 23 and Nov 6; CDT (UTC-5) ends Sunday 2020-11-01.
    occurrences = expand(
        corpus("issue_48_dst.ics"), utc("2020-10-16 00:00"), utc("2020-11-14 00:00")
    )
    assert spans(occurrences, "m4dpn70@google.com") == [
        ("2020-10-16T19:15:00Z", utc("2020-10-16 19:15"), utc("2020-10-16 19:30")),
        ("2020-10-30T19:15:00Z", utc("2020-10-30 19:15"), utc("2020-10-30 19:30")),
        ("2020-11-13T20:15:00Z", utc("2020-11-13 20:15"), utc("2020-11-13 20:30")),
    ]


def test_chicago_four_days_a_week_across_spring_dst_and_thanksgiving_exdates():
    # issue_48_dst.ics, c4p6: Mo/Tu/Th/Fr 08:15-08:30 America/Chicago from
    # 2020-11-16, EXDATE Nov 26 and 27; CDT (UTC-5) starts Sunday 2021-03-14.
    data = corpus("issue_48_dst.ics")
    thanksgiving_week = expand(data, utc("2020-11-23 00:00"), utc("2020-11-30 00:00"))
    assert spans(thanksgiving_week, "c4p6@google.com") == [
        ("2020-11-23T14:15:00Z", utc("2020-11-23 14:15"), utc("2020-11-23 14:30")),
        ("2020-11-24T14:15:00Z", utc("2020-11-24 14:15"), utc("2020-11-24 14:30")),
    ]
    around_dst = expand(data, utc("2021-03-08 00:00"), utc("2021-03-16 00:00"))
    assert spans(around_dst, "c4p6@google.com") == [
        ("2021-03-08T14:15:00Z", utc("2021-03-08 14:15"), utc("2021-03-08 14:30")),
        ("2021-03-09T14:15:00Z", utc("2021-03-09 14:15"), utc("2021-03-09 14:30")),
        ("2021-03-11T14:15:00Z", utc("2021-03-11 14:15"), utc("2021-03-11 14:30")),
        ("2021-03-12T14:15:00Z", utc("2021-03-12 14:15"), utc("2021-03-12 14:30")),
        ("2021-03-15T13:15:00Z", utc("2021-03-15 13:15"), utc("2021-03-15 13:30")),
    ]


def test_lisbon_weekly_class_moves_one_hour_in_utc_when_summer_time_ends():
    # issue_48_daylight_aware_repeats.ics: Mondays 11:30-13:00 Europe/Lisbon;
    # WEST (UTC+1) ends Sunday 2020-10-25.
    occurrences = expand(
        corpus("issue_48_daylight_aware_repeats.ics"),
        utc("2020-10-19 00:00"),
        utc("2020-11-02 00:00"),
    )
    assert spans(occurrences) == [
        ("2020-10-19T10:30:00Z", utc("2020-10-19 10:30"), utc("2020-10-19 12:00")),
        ("2020-10-26T11:30:00Z", utc("2020-10-26 11:30"), utc("2020-10-26 13:00")),
    ]
    assert occurrences[0].summary == "MDS-t"


def test_floating_time_is_read_in_x_wr_timezone_not_default_tz():
    # issue_86: floating 2021-09-16 21:00-22:45, X-WR-TIMEZONE Europe/Brussels (UTC+2).
    occurrences = expand(
        corpus("issue_86_x_wr_timezone_without_time_zone_in_dt.ics"),
        utc("2021-09-01 00:00"),
        utc("2021-10-01 00:00"),
        default_tz="America/New_York",
    )
    assert spans(occurrences) == [(None, utc("2021-09-16 19:00"), utc("2021-09-16 20:45"))]


def test_x_wr_timezone_does_not_move_utc_single_events():
    # x_wr_timezone_simple_events_issue_59.ics: UTC times, X-WR-TIMEZONE New York.
    occurrences = expand(corpus("x_wr_timezone_simple_events_issue_59.ics"), *WIDE)
    assert spans(occurrences) == [
        (None, utc("2021-12-22 17:00"), utc("2021-12-22 18:00")),
        (None, utc("2021-12-23 02:00"), utc("2021-12-23 03:00")),
    ]


def test_cancelled_instance_is_dropped():
    # issue_18_cancel_status.ics: daily 22:00-23:00 Europe/Berlin (UTC+1),
    # COUNT=3 from 2020-01-28; the 29th is overridden with STATUS:CANCELLED.
    occurrences = expand(corpus("issue_18_cancel_status.ics"), *WIDE)
    assert spans(occurrences) == [
        ("2020-01-28T21:00:00Z", utc("2020-01-28 21:00"), utc("2020-01-28 22:00")),
        ("2020-01-30T21:00:00Z", utc("2020-01-30 21:00"), utc("2020-01-30 22:00")),
    ]
    assert all(o.recurring and o.status == "confirmed" for o in occurrences)


def test_rdate_period_and_exdate_in_a_monthly_series_across_two_dst_changes():
    # issue_113_period_in_rdate.ics: third Wednesday 12:00-14:00
    # America/Vancouver, COUNT=9 from 2023-09-20 in months 1-5 and 9-12;
    # EXDATE 2023-12-20; RDATE period 2023-12-13 12:00-15:00.
    # PDT (UTC-7) until 2023-11-05, PST (UTC-8) until 2024-03-10.
    occurrences = expand(corpus("issue_113_period_in_rdate.ics"), *WIDE)
    assert spans(occurrences) == [
        ("2023-09-20T19:00:00Z", utc("2023-09-20 19:00"), utc("2023-09-20 21:00")),
        ("2023-10-18T19:00:00Z", utc("2023-10-18 19:00"), utc("2023-10-18 21:00")),
        ("2023-11-15T20:00:00Z", utc("2023-11-15 20:00"), utc("2023-11-15 22:00")),
        ("2023-12-13T20:00:00Z", utc("2023-12-13 20:00"), utc("2023-12-13 23:00")),
        ("2024-01-17T20:00:00Z", utc("2024-01-17 20:00"), utc("2024-01-17 22:00")),
        ("2024-02-21T20:00:00Z", utc("2024-02-21 20:00"), utc("2024-02-21 22:00")),
        ("2024-03-20T19:00:00Z", utc("2024-03-20 19:00"), utc("2024-03-20 21:00")),
        ("2024-04-17T19:00:00Z", utc("2024-04-17 19:00"), utc("2024-04-17 21:00")),
        ("2024-05-15T19:00:00Z", utc("2024-05-15 19:00"), utc("2024-05-15 21:00")),
    ]


def test_exdate_in_utc_removes_a_berlin_instance():
    # each_week_but_one_deleted.ics: weekly 00:30-01:00 Europe/Berlin, COUNT=8
    # from 2019-03-04; EXDATE 2019-03-10T23:30Z is the 11th at 00:30 CET.
    occurrences = expand(corpus("each_week_but_one_deleted.ics"), *WIDE)
    assert spans(occurrences) == [
        ("2019-03-03T23:30:00Z", utc("2019-03-03 23:30"), utc("2019-03-04 00:00")),
        ("2019-03-17T23:30:00Z", utc("2019-03-17 23:30"), utc("2019-03-18 00:00")),
        ("2019-03-24T23:30:00Z", utc("2019-03-24 23:30"), utc("2019-03-25 00:00")),
        ("2019-03-31T22:30:00Z", utc("2019-03-31 22:30"), utc("2019-03-31 23:00")),
        ("2019-04-07T22:30:00Z", utc("2019-04-07 22:30"), utc("2019-04-07 23:00")),
        ("2019-04-14T22:30:00Z", utc("2019-04-14 22:30"), utc("2019-04-14 23:00")),
        ("2019-04-21T22:30:00Z", utc("2019-04-21 22:30"), utc("2019-04-21 23:00")),
    ]


def test_exdate_in_utc_against_a_windows_calendar_export():
    # issue_27_t1.ics (Exchange): daily 14:00-14:30 Europe/Berlin (CEST) from
    # 2020-04-26 until 2020-04-29 00:00; EXDATE 2020-04-27T12:00Z.
    occurrences = expand(corpus("issue_27_t1.ics"), *WIDE)
    assert spans(occurrences) == [
        ("2020-04-26T12:00:00Z", utc("2020-04-26 12:00"), utc("2020-04-26 12:30")),
        ("2020-04-28T12:00:00Z", utc("2020-04-28 12:00"), utc("2020-04-28 12:30")),
    ]


def test_moved_instances_keep_their_original_start_as_recurrence_id():
    # recurring_events_moved.ics, a0c78729: daily 02:00-03:00 Europe/Berlin
    # (UTC+1) from 2019-03-07 until 2019-03-10T01:00Z; the 8th is moved to
    # 01:00-02:00 and the 9th to 03:00-04:00.
    occurrences = expand(corpus("recurring_events_moved.ics"), *WIDE)
    assert spans(occurrences, "a0c78729-30b1-4ba3-a86e-6aedd995d788") == [
        ("2019-03-07T01:00:00Z", utc("2019-03-07 01:00"), utc("2019-03-07 02:00")),
        ("2019-03-08T01:00:00Z", utc("2019-03-08 00:00"), utc("2019-03-08 01:00")),
        ("2019-03-09T01:00:00Z", utc("2019-03-09 02:00"), utc("2019-03-09 03:00")),
        ("2019-03-10T01:00:00Z", utc("2019-03-10 01:00"), utc("2019-03-10 02:00")),
    ]


def test_instance_moved_earlier_in_the_month_and_transparent_zero_length_events():
    # issue_62_moved_event.ics: last Friday of the month 21:30 Europe/Berlin
    # (UTC+1), no length, TRANSP:TRANSPARENT; 2021-12-31 is moved to 12-17.
    occurrences = expand(
        corpus("issue_62_moved_event.ics"), utc("2021-11-01 00:00"), utc("2022-02-01 00:00")
    )
    assert spans(occurrences) == [
        ("2021-11-26T20:30:00Z", utc("2021-11-26 20:30"), utc("2021-11-26 20:30")),
        ("2021-12-31T20:30:00Z", utc("2021-12-17 20:30"), utc("2021-12-17 20:30")),
        ("2022-01-28T20:30:00Z", utc("2022-01-28 20:30"), utc("2022-01-28 20:30")),
    ]
    assert not any(o.busy for o in occurrences)


def test_this_and_future_overrides_shift_later_instances_with_distinct_ids():
    # issue_75_range_parameter.ics: every 2nd day 12:00-14:00Z from 2024-09-01
    # plus RDATE 09-14 09:00Z. RANGE=THISANDFUTURE at 09-13 moves it and all
    # later ones 3 h earlier and makes them 7 h long; another at 09-21 moves
    # them 26 h 22 min later, 1 h 51 min long; 09-15 alone goes to 17:00-19:00.
    occurrences = expand(
        corpus("issue_75_range_parameter.ics"), utc("2024-09-11 00:00"), utc("2024-09-27 00:00")
    )
    assert spans(occurrences) == [
        ("2024-09-11T12:00:00Z", utc("2024-09-11 12:00"), utc("2024-09-11 14:00")),
        ("2024-09-13T12:00:00Z", utc("2024-09-13 09:00"), utc("2024-09-13 16:00")),
        ("2024-09-14T09:00:00Z", utc("2024-09-14 06:00"), utc("2024-09-14 13:00")),
        ("2024-09-15T12:00:00Z", utc("2024-09-15 17:00"), utc("2024-09-15 19:00")),
        ("2024-09-17T12:00:00Z", utc("2024-09-17 09:00"), utc("2024-09-17 16:00")),
        ("2024-09-19T12:00:00Z", utc("2024-09-19 09:00"), utc("2024-09-19 16:00")),
        ("2024-09-21T12:00:00Z", utc("2024-09-22 14:22"), utc("2024-09-22 16:13")),
        ("2024-09-23T12:00:00Z", utc("2024-09-24 14:22"), utc("2024-09-24 16:13")),
        ("2024-09-25T12:00:00Z", utc("2024-09-26 14:22"), utc("2024-09-26 16:13")),
    ]


def test_all_day_event_keeps_its_dates():
    # one_day_event.ics: DTSTART;VALUE=DATE:20190304, DTEND 20190305.
    [occurrence] = expand(corpus("one_day_event.ics"), *WIDE)
    assert occurrence.all_day
    assert (occurrence.start_date, occurrence.end_date) == (date(2019, 3, 4), date(2019, 3, 5))
    assert (occurrence.start, occurrence.end) == (utc("2019-03-04 00:00"), utc("2019-03-05 00:00"))
    assert occurrence.recurrence_id is None and not occurrence.recurring


def test_transparent_all_day_event_is_reported_once_and_free():
    # issue_44_double_event.ics: one all-day event on 2020-08-14, TRANSPARENT.
    occurrences = expand(corpus("issue_44_double_event.ics"), *WIDE)
    assert [(o.start_date, o.end_date, o.busy) for o in occurrences] == [
        (date(2020, 8, 14), date(2020, 8, 15), False)
    ]


def test_all_day_series_uses_dates_as_recurrence_ids():
    # issue_28_rrule_with_UTC_endinginZ.ics, "Refuse black bin": all-day every
    # second Thursday from 2020-04-02 (Outlook export). The 04-16 instance is
    # moved to 04-17 by RECURRENCE-ID;TZID=GMT Standard Time:20200416T000000.
    occurrences = expand(
        corpus("issue_28_rrule_with_UTC_endinginZ.ics"),
        utc("2020-04-01 00:00"),
        utc("2020-04-20 00:00"),
    )
    black_bin = [o for o in occurrences if o.summary == "Refuse black bin"]
    assert [(o.recurrence_id, o.start_date, o.end_date) for o in black_bin] == [
        ("2020-04-02", date(2020, 4, 2), date(2020, 4, 3)),
        ("2020-04-16", date(2020, 4, 17), date(2020, 4, 18)),
    ]


def test_end_before_start_is_swapped():
    # end_before_start_event.ics: 08:30 to 08:00 Europe/Berlin on 2019-03-04,
    # plainly a 30-minute event typed the wrong way round (the library swaps).
    occurrences = expand(corpus("end_before_start_event.ics"), *WIDE)
    assert spans(occurrences) == [(None, utc("2019-03-04 07:00"), utc("2019-03-04 07:30"))]


def test_floating_daily_series_is_read_in_default_tz_across_dst():
    # issue_243: floating daily 08:00-10:00 from 2015-09-01, no X-WR-TIMEZONE;
    # Berlin moves to UTC+2 on Sunday 2026-03-29.
    occurrences = expand(
        corpus("issue_243_recurrence_id_is_not_identical_to_dtstart.ics"),
        utc("2026-03-28 00:00"),
        utc("2026-03-31 00:00"),
        default_tz="Europe/Berlin",
    )
    assert spans(occurrences) == [
        ("2026-03-28T07:00:00Z", utc("2026-03-28 07:00"), utc("2026-03-28 09:00")),
        ("2026-03-29T06:00:00Z", utc("2026-03-29 06:00"), utc("2026-03-29 08:00")),
        ("2026-03-30T06:00:00Z", utc("2026-03-30 06:00"), utc("2026-03-30 08:00")),
    ]


def test_duration_and_missing_end_in_a_file_without_uids():
    # duration.ics: all-day 2018-01-10 for P3D; floating 2018-01-15 10:00 for
    # PT3H; floating 2018-01-20 12:00 with neither DTEND nor DURATION.
    occurrences = expand(corpus("duration.ics"), *WIDE, default_tz="America/New_York")
    assert [(o.all_day, o.start_date, o.end_date) for o in occurrences] == [
        (True, date(2018, 1, 10), date(2018, 1, 13)),
        (False, None, None),
        (False, None, None),
    ]
    assert spans(occurrences)[1:] == [
        (None, utc("2018-01-15 15:00"), utc("2018-01-15 18:00")),
        (None, utc("2018-01-20 17:00"), utc("2018-01-20 17:00")),
    ]
    assert len({o.uid for o in occurrences}) == 3
    assert all(o.uid.startswith("calmesh-") for o in occurrences)


# --- Time zones ---------------------------------------------------------------


FLOATING_WEEKLY = calendar(
    "UID:standup\nDTSTART:20260323T090000\nDTEND:20260323T093000\nRRULE:FREQ=WEEKLY;COUNT=2"
)


@pytest.mark.parametrize(
    ("default_tz", "expected"),
    [
        # Berlin: UTC+1, then UTC+2 from Sunday 2026-03-29.
        ("Europe/Berlin", [utc("2026-03-23 08:00"), utc("2026-03-30 07:00")]),
        # New York is already on EDT (UTC-4) since 2026-03-08.
        ("America/New_York", [utc("2026-03-23 13:00"), utc("2026-03-30 13:00")]),
        ("UTC", [utc("2026-03-23 09:00"), utc("2026-03-30 09:00")]),
    ],
)
def test_floating_time_is_wall_time_in_default_tz(default_tz, expected):
    occurrences = expand(FLOATING_WEEKLY, *YEAR_2026, default_tz=default_tz)
    assert [o.start for o in occurrences] == expected
    assert [o.recurrence_id for o in occurrences] == [
        start.strftime("%Y-%m-%dT%H:%M:%SZ") for start in expected
    ]


def test_x_wr_timezone_makes_a_utc_series_keep_its_local_time():
    # Google writes the series in UTC and means 09:00 Berlin every week.
    series = "UID:g\nDTSTART:20260323T080000Z\nDTEND:20260323T090000Z\nRRULE:FREQ=WEEKLY;COUNT=2"
    with_zone = expand(calendar(series, header="X-WR-TIMEZONE:Europe/Berlin\n"), *YEAR_2026)
    assert [o.start for o in with_zone] == [utc("2026-03-23 08:00"), utc("2026-03-30 07:00")]
    without = expand(calendar(series), *YEAR_2026)
    assert [o.start for o in without] == [utc("2026-03-23 08:00"), utc("2026-03-30 08:00")]


@pytest.mark.parametrize(
    ("tzid", "expected"),
    [
        ("W. Europe Standard Time", utc("2026-03-30 07:00")),  # Europe/Berlin, CEST
        ("Pacific Standard Time", utc("2026-03-30 16:00")),  # Los Angeles, PDT
        ("/mozilla.org/20050126_1/Europe/Berlin", utc("2026-03-30 07:00")),
    ],
)
def test_windows_and_vendor_tzids_without_vtimezone_map_to_iana(tzid, expected):
    text = calendar(f"UID:w\nDTSTART;TZID={tzid}:20260330T090000\nDURATION:PT30M")
    [occurrence] = expand(text, *YEAR_2026, default_tz="Asia/Tokyo")
    assert (occurrence.start, occurrence.end - occurrence.start) == (
        expected,
        utc("2026-01-01 00:30") - utc("2026-01-01 00:00"),
    )


def test_windows_name_in_x_wr_timezone_is_mapped():
    text = calendar("UID:x\nDTSTART:20260330T090000", header="X-WR-TIMEZONE:Tokyo Standard Time\n")
    [occurrence] = expand(text, *YEAR_2026)
    assert occurrence.start == utc("2026-03-30 00:00")


def test_unknown_x_wr_timezone_falls_back_to_default_tz():
    text = calendar("UID:x\nDTSTART:20260330T090000", header="X-WR-TIMEZONE:Europe\n")
    [occurrence] = expand(text, *YEAR_2026, default_tz="Europe/Berlin")
    assert occurrence.start == utc("2026-03-30 07:00")


UNKNOWN_TZID = (
    "UID:u\nDTSTART;TZID=Mars/Olympus:20260330T090000\nDTEND;TZID=Mars/Olympus:20260330T100000"
)


def test_unknown_tzid_without_vtimezone_is_read_in_default_tz():
    [occurrence] = expand(calendar(UNKNOWN_TZID), *YEAR_2026, default_tz="America/New_York")
    assert (occurrence.start, occurrence.end) == (utc("2026-03-30 13:00"), utc("2026-03-30 14:00"))


def test_unknown_tzid_without_vtimezone_is_read_in_x_wr_timezone_first():
    text = calendar(UNKNOWN_TZID, header="X-WR-TIMEZONE:Asia/Tokyo\n")
    [occurrence] = expand(text, *YEAR_2026, default_tz="America/New_York")
    assert occurrence.start == utc("2026-03-30 00:00")


def custom_zone_calendar(offset: str | None) -> str:
    vtimezone = (
        "BEGIN:VTIMEZONE\nTZID:Customized Time Zone\nBEGIN:STANDARD\n"
        f"DTSTART:16010101T000000\nTZOFFSETFROM:{offset}\nTZOFFSETTO:{offset}\n"
        "END:STANDARD\nEND:VTIMEZONE\n"
        if offset
        else ""
    )
    event = "UID:c\nDTSTART;TZID=Customized Time Zone:20260301T100000"
    return calendar(event, header=vtimezone)


def test_each_file_gets_its_own_definition_of_a_custom_tzid():
    # icalendar caches VTIMEZONEs by TZID process-wide, first one wins; two
    # users' Outlook exports share the name "Customized Time Zone".
    first = expand(custom_zone_calendar("+0500"), *YEAR_2026)
    second = expand(custom_zone_calendar("-0300"), *YEAR_2026)
    undefined = expand(custom_zone_calendar(None), *YEAR_2026, default_tz="Europe/Berlin")
    assert [o.start for o in first + second + undefined] == [
        utc("2026-03-01 05:00"),
        utc("2026-03-01 13:00"),
        utc("2026-03-01 09:00"),
    ]


@pytest.mark.parametrize(
    "name", ["Europe/Berlin", "W. Europe Standard Time", " Europe/Berlin ", "Romance Standard Time"]
)
def test_zone_from_name_accepts_iana_and_windows_names(name):
    assert zone_from_name(name) is not None


@pytest.mark.parametrize("name", ["", "Mars/Olympus", "Europe", "../etc/passwd", "x" * 300])
def test_zone_from_name_returns_none_for_anything_else(name):
    assert zone_from_name(name) is None


# --- Events ---------------------------------------------------------------


def test_transparent_and_tentative_events_keep_their_flags():
    text = calendar(
        "UID:free\nDTSTART:20260330T090000Z\nDTEND:20260330T100000Z\nTRANSP:TRANSPARENT",
        "UID:maybe\nDTSTART:20260330T110000Z\nDTEND:20260330T120000Z\nSTATUS:TENTATIVE\n"
        "SUMMARY:Lunch?\nLOCATION:Café\nDESCRIPTION:Line one\\nline two",
    )
    free, maybe = expand(text, *YEAR_2026)
    assert (free.busy, free.status) == (False, "confirmed")
    assert (maybe.busy, maybe.status) == (True, "tentative")
    assert (maybe.summary, maybe.location, maybe.description) == (
        "Lunch?",
        "Café",
        "Line one\nline two",
    )


def test_cancelled_single_event_is_dropped():
    text = calendar("UID:gone\nDTSTART:20260330T090000Z\nSTATUS:CANCELLED")
    assert expand(text, *YEAR_2026) == []


@pytest.mark.parametrize(
    ("properties", "start", "end"),
    [
        ("DTSTART:20260330T090000Z\nDURATION:PT90M", "2026-03-30 09:00", "2026-03-30 10:30"),
        ("DTSTART:20260330T090000Z", "2026-03-30 09:00", "2026-03-30 09:00"),
        ("DTSTART;VALUE=DATE:20260330", "2026-03-30 00:00", "2026-03-31 00:00"),
        ("DTSTART;VALUE=DATE:20260330\nDURATION:P2D", "2026-03-30 00:00", "2026-04-01 00:00"),
        # A whole day with DTEND = DTSTART is shown as that day, as calendar apps do.
        (
            "DTSTART;VALUE=DATE:20260330\nDTEND;VALUE=DATE:20260330",
            "2026-03-30 00:00",
            "2026-03-31 00:00",
        ),
    ],
)
def test_missing_end_uses_duration_or_rfc_5545_defaults(properties, start, end):
    [occurrence] = expand(calendar(f"UID:e\n{properties}"), *YEAR_2026)
    assert (occurrence.start, occurrence.end) == (utc(start), utc(end))


@pytest.mark.parametrize(
    ("dtstart", "included"),
    [
        ("20260330T000000Z", True),  # exactly at the window start
        ("20260330T235959Z", True),
        ("20260331T000000Z", False),  # exactly at the window end
    ],
)
def test_zero_length_event_counts_when_its_instant_is_in_the_window(dtstart, included):
    window = (utc("2026-03-30 00:00"), utc("2026-03-31 00:00"))
    occurrences = expand(calendar(f"UID:z\nDTSTART:{dtstart}"), *window)
    assert bool(occurrences) is included


def test_timed_event_touching_the_window_is_left_out():
    text = calendar("UID:t\nDTSTART:20260329T230000Z\nDTEND:20260330T000000Z")
    assert expand(text, utc("2026-03-30 00:00"), utc("2026-03-31 00:00")) == []


@pytest.mark.parametrize(
    ("day", "included"),
    [
        ("20260329", True),  # still the 29th in UTC-12 until 12:00 UTC on the 30th
        ("20260330", True),
        ("20260331", True),  # already begun in UTC+14
        ("20260401", False),
        ("20260328", False),
    ],
)
def test_all_day_event_is_kept_when_it_overlaps_the_window_in_some_zone(day, included):
    window = (utc("2026-03-30 11:00"), utc("2026-03-30 13:00"))
    occurrences = expand(calendar(f"UID:d\nDTSTART;VALUE=DATE:{day}"), *window)
    assert bool(occurrences) is included


def test_uid_less_event_gets_a_uid_that_survives_a_new_dtstamp():
    first = calendar("DTSTAMP:20260101T000000Z\nDTSTART:20260330T090000Z\nSUMMARY:No UID")
    second = first.replace("DTSTAMP:20260101", "DTSTAMP:20260202")
    [a], [b] = expand(first, *YEAR_2026), expand(second, *YEAR_2026)
    assert a.uid == b.uid and a.uid.startswith("calmesh-")


def test_output_is_sorted_by_start_then_uid():
    text = calendar(
        "UID:b\nDTSTART:20260330T090000Z",
        "UID:a\nDTSTART:20260330T090000Z",
        "UID:c\nDTSTART:20260329T090000Z",
    )
    assert [o.uid for o in expand(text, *YEAR_2026)] == ["c", "a", "b"]


def test_parsed_calendar_can_be_expanded_again():
    parsed = parse_calendar(FLOATING_WEEKLY)
    assert expand(parsed, *YEAR_2026) == expand(FLOATING_WEEKLY, *YEAR_2026)


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


def test_naive_window_or_unknown_default_tz_is_a_programming_error():
    with pytest.raises(ValueError, match="timezone-aware"):
        expand(FLOATING_WEEKLY, datetime(2026, 1, 1), YEAR_2026[1])
    with pytest.raises(ValueError, match="unknown time zone"):
        expand(FLOATING_WEEKLY, *YEAR_2026, default_tz="Mars/Olympus")


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
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
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


# --- Bounded expansion ---------------------------------------------------------------

# The default sync horizon: 30 days back, 365 ahead.
HORIZON = (utc("2026-11-02 00:00"), utc("2027-12-03 00:00"))


def series(uid: str, rule: str, start: str = "20251101T000000Z", extra: str = "") -> str:
    return f"UID:{uid}\nDTSTART:{start}\nDURATION:PT1M\nRRULE:{rule}\nSUMMARY:{uid}\n{extra}"


def bounded(data: str, budget: Budget | None = None) -> tuple[list[Occurrence], Budget, int]:
    """Expand over HORIZON; also the peak of memory allocated meanwhile (bytes)."""
    budget = budget or Budget()
    tracemalloc.start()
    try:
        occurrences = expand(data, *HORIZON, budget=budget)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return occurrences, budget, peak


@pytest.mark.parametrize("freq", ["MINUTELY", "SECONDLY"])
def test_a_series_repeating_every_minute_or_second_stops_at_the_cap(freq):
    """Unbounded, a SECONDLY rule over the horizon is 34 million instances."""
    data = calendar(series("flood", f"FREQ={freq}"), "UID:lunch\nDTSTART:20270105T120000Z")
    occurrences, budget, peak = bounded(data)
    flood = [o for o in occurrences if o.uid == "flood"]
    assert len(flood) == budget.per_series == 5000
    # The first instances inside the horizon are kept: the first overlaps its start.
    assert HORIZON[0] - timedelta(minutes=1) < flood[0].start <= HORIZON[0] < flood[0].end
    assert [o.uid for o in occurrences if o.uid != "flood"] == ["lunch"]
    # Begun a year before the horizon, the rule was not walked from its DTSTART.
    assert budget.steps < budget.per_series + 10
    assert peak < 16 * 2**20
    assert budget.faults == [
        "series 'flood' has more than 5000 instances inside the horizon; the first 5000 are kept"
    ]


def test_a_huge_count_from_long_ago_is_walked_only_so_far():
    # A COUNT cannot be skipped ahead: each instance before the horizon counts.
    data = calendar(series("count", "FREQ=MINUTELY;COUNT=999999999", start="20201101T000000Z"))
    occurrences, budget, peak = bounded(data, Budget(per_series=1000))
    assert occurrences == []
    assert budget.steps == budget.per_series * WALK_FACTOR + 1
    assert peak < 16 * 2**20
    assert budget.faults == [
        "series 'count' repeats too often to be walked through the horizon; cut there"
    ]


def test_a_huge_count_inside_the_horizon_stops_at_the_cap():
    data = calendar(series("count", "FREQ=SECONDLY;COUNT=999999999", start="20261201T000000Z"))
    occurrences, budget, _ = bounded(data)
    assert len(occurrences) == budget.per_series
    assert budget.steps <= budget.per_series + 2  # and DTSTART itself, as the RDATE set


def test_many_series_stop_at_the_calendar_cap_and_keep_single_events():
    events = [series(f"s{i:02}", "FREQ=MINUTELY", start="20261201T000000Z") for i in range(40)]
    singles = [f"UID:single{i}\nDTSTART:2027010{i + 1}T100000Z" for i in range(5)]
    budget = Budget(per_series=300, per_calendar=2000)
    occurrences, budget, peak = bounded(calendar(*events, *singles), budget)
    recurring = [o for o in occurrences if o.recurring]
    assert len(recurring) == budget.instances == 2000
    assert {o.uid for o in occurrences if not o.recurring} == {f"single{i}" for i in range(5)}
    assert peak < 16 * 2**20
    assert budget.steps < 2000 + 300 + 40 * 2, "series after the cap are not walked"
    # Six series were cut at 300 each, the seventh at 200 and the others at once.
    assert len(budget.faults) == 40
    assert budget.faults[-1] == (
        "series 's39' is cut: the calendar has more than 2000 recurring instances "
        "inside the horizon"
    )


def test_series_are_not_begun_once_the_calendar_took_too_long():
    """A rule that never matches costs dateutil seconds without a step to count."""
    ticks = itertools.count(0, 40)  # each look at the clock: 40 s later
    budget = Budget(seconds=60, clock=lambda: next(ticks))
    events = [
        series("a", "FREQ=DAILY"),
        series("b", "FREQ=DAILY"),
        "UID:c\nDTSTART:20270105T120000Z",
    ]
    occurrences = expand(calendar(*events), *HORIZON, budget=budget)
    assert {o.uid for o in occurrences} == {"a", "c"}, "a single event is no series"
    assert budget.faults == ["series 'b' is left out: expanding the calendar took over 60 s"]


def test_one_budget_spans_several_calls():
    budget = Budget(per_series=100, per_calendar=150)
    first = expand(calendar(series("a", "FREQ=HOURLY")), *HORIZON, budget=budget)
    second = expand(calendar(series("b", "FREQ=HOURLY")), *HORIZON, budget=budget)
    assert (len(first), len(second), budget.instances) == (100, 50, 150)


# Each rule begun long enough before the window to be skipped ahead a lot, and
# the window across the start of summer time in Berlin (28 March 2027).
RULES = [
    ("FREQ=SECONDLY;INTERVAL=7;BYSECOND=0,30", "20270320T013000"),
    ("FREQ=MINUTELY;INTERVAL=17;BYHOUR=1,2,3,9", "20270101T235959"),
    ("FREQ=HOURLY;INTERVAL=5;BYMINUTE=0,45", "20230101T013000"),
    ("FREQ=DAILY;INTERVAL=3;BYHOUR=2,8,20", "20190331T013000"),
    ("FREQ=WEEKLY;INTERVAL=3;BYDAY=MO,WE,SU", "20190331T023000"),
    ("FREQ=WEEKLY;INTERVAL=2;WKST=SU;BYDAY=SA,SU", "20230101T020000"),
    ("FREQ=DAILY;UNTIL=20270330T000000", "20190331T020000"),
]
DST_WEEK = (utc("2027-03-26 00:00"), utc("2027-04-02 00:00"))


@pytest.mark.parametrize(("rule", "start"), RULES)
def test_skipping_ahead_gives_exactly_the_librarys_instances(rule, start):
    """Begun at its last period before the window, a rule yields what the
    library yields walking it from DTSTART."""
    data = calendar(f"UID:r\nDTSTART;TZID=Europe/Berlin:{start}\nDURATION:PT10M\nRRULE:{rule}")
    reference = sorted(
        instance.start.astimezone(UTC)
        for instance in recurring_ical_events.of(parse_calendar(data)).between(*DST_WEEK)
        if instance.start < DST_WEEK[1]
    )
    budget = Budget()
    ours = [o.start for o in expand(data, *DST_WEEK, budget=budget)]
    assert ours == reference and ours
    assert budget.steps <= len(ours) + 200, "walked from the window, not from DTSTART"
