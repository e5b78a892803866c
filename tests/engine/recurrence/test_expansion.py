"""Expansion: every corpus file, files worked out by hand, time zones, events."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from calmesh.engine.recurrence import CalendarDataError, expand, parse_calendar
from tests.conftest import CORPUS
from tests.engine.recurrence.helpers import (
    CORPUS_FILES,
    WIDE,
    YEAR_2026,
    assert_well_formed,
    calendar,
    corpus,
    spans,
    utc,
)

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


def test_naive_window_or_unknown_default_tz_is_a_programming_error():
    with pytest.raises(ValueError, match="timezone-aware"):
        expand(FLOATING_WEEKLY, datetime(2026, 1, 1), YEAR_2026[1])
    with pytest.raises(ValueError, match="unknown time zone"):
        expand(FLOATING_WEEKLY, *YEAR_2026, default_tz="Mars/Olympus")
