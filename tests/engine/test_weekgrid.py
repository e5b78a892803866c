"""The week grid's placement: rows of wall-clock time, lanes for overlaps, DST days.

DST changes of 2026 used (local wall times): Europe/Berlin 03-29 02:00 CET ->
03:00 CEST (a 23-hour day), 10-25 03:00 CEST -> 02:00 CET (a 25-hour day);
America/New_York 11-01 02:00 EDT -> 01:00 EST.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from calmesh.engine.weekgrid import (
    LANES,
    ROWS,
    Block,
    day_frame,
    grid_css,
    now_row,
    place_day,
)

BERLIN = ZoneInfo("Europe/Berlin")
DAY = date(2026, 3, 2)  # an ordinary Monday


def local(text: str, zone=BERLIN, fold: int = 0) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=zone, fold=fold)


def block(key: str, start: str, end: str, zone=BERLIN) -> Block:
    return Block(key, local(start, zone), local(end, zone))


def by_key(placed) -> dict:
    return {p.key: p for p in placed}


def test_an_ordinary_day_has_24_hours_and_no_marked_rows():
    assert day_frame(DAY, BERLIN) == day_frame(DAY, "Europe/Berlin")
    frame = day_frame(DAY, BERLIN)
    assert (frame.hours, frame.gap, frame.fold) == (24, None, None)


def test_an_event_sits_on_the_rows_of_its_wall_clock_times():
    (p,) = place_day([block("a", "2026-03-02 09:00", "2026-03-02 10:30")], DAY, BERLIN)
    # Rows are quarter hours, 1-based: 09:00 starts row 37, 90 minutes span 6 rows.
    assert (p.row, p.span, p.lane, p.lanes, p.column, p.width) == (37, 6, 0, 1, 1, LANES)
    assert not p.clipped_start and not p.clipped_end


def test_short_and_zero_length_events_take_one_row_and_odd_minutes_round_outwards():
    placed = by_key(
        place_day(
            [
                block("short", "2026-03-02 09:05", "2026-03-02 09:10"),
                block("zero", "2026-03-02 12:00", "2026-03-02 12:00"),
                block("odd", "2026-03-02 13:10", "2026-03-02 13:50"),
            ],
            DAY,
            BERLIN,
        )
    )
    assert (placed["short"].row, placed["short"].span) == (37, 1)
    assert (placed["zero"].row, placed["zero"].span) == (49, 1)
    assert (placed["odd"].row, placed["odd"].span) == (53, 4)  # 13:00-14:00


def test_an_event_across_midnight_is_cut_at_each_day_and_says_so():
    night = block("n", "2026-03-02 22:00", "2026-03-03 02:00")
    (first,) = place_day([night], DAY, BERLIN)
    (second,) = place_day([night], DAY + timedelta(days=1), BERLIN)
    assert (first.row, first.span, first.clipped_start, first.clipped_end) == (89, 8, False, True)
    assert (second.row, second.span, second.clipped_start, second.clipped_end) == (
        1,
        8,
        True,
        False,
    )
    assert place_day([night], DAY + timedelta(days=2), BERLIN) == []


def test_overlapping_events_share_the_column_and_others_keep_it_whole():
    placed = by_key(
        place_day(
            [
                block("a", "2026-03-02 09:00", "2026-03-02 11:00"),
                block("b", "2026-03-02 10:00", "2026-03-02 12:00"),
                block("c", "2026-03-02 11:00", "2026-03-02 11:30"),  # lane 0 is free again
                block("d", "2026-03-02 14:00", "2026-03-02 15:00"),  # a cluster of its own
            ],
            DAY,
            BERLIN,
        )
    )
    assert [(placed[k].lane, placed[k].lanes) for k in "abcd"] == [(0, 2), (1, 2), (0, 2), (0, 1)]
    assert (placed["a"].column, placed["a"].width) == (1, LANES // 2)
    assert (placed["b"].column, placed["b"].width) == (LANES // 2 + 1, LANES // 2)
    assert placed["d"].width == LANES


def test_three_way_overlap_gives_three_lanes_and_more_than_six_share_the_last():
    three = place_day(
        [block(k, "2026-03-02 09:00", "2026-03-02 10:00") for k in "xyz"], DAY, BERLIN
    )
    assert sorted((p.lane, p.column, p.width) for p in three) == [
        (0, 1, 20),
        (1, 21, 20),
        (2, 41, 20),
    ]
    many = place_day(
        [block(str(k), "2026-03-02 09:00", "2026-03-02 10:00") for k in range(8)], DAY, BERLIN
    )
    assert {p.lanes for p in many} == {6}
    assert max(p.column + p.width for p in many) == LANES + 1  # never wider than the day


def test_a_spring_forward_day_has_23_hours_and_marks_the_skipped_hour():
    day = date(2026, 3, 29)
    frame = day_frame(day, BERLIN)
    assert frame.hours == 23
    assert frame.gap == (9, 4)  # 02:00-03:00 never happens: rows 9-12
    assert frame.fold is None
    # 01:30 CET to 03:30 CEST is one real hour, drawn over the gap on the wall-clock axis.
    (p,) = place_day([block("a", "2026-03-29 01:30", "2026-03-29 03:30")], day, BERLIN)
    assert (p.row, p.span) == (7, 8)
    assert (p.key, p.clipped_start, p.clipped_end) == ("a", False, False)


def test_a_fall_back_day_has_25_hours_and_marks_the_repeated_hour():
    day = date(2026, 10, 25)
    frame = day_frame(day, BERLIN)
    assert frame.hours == 25
    assert frame.fold == (9, 4)  # 02:00-03:00 happens twice: rows 9-12
    assert frame.gap is None
    first = Block("first", local("2026-10-25 02:15"), local("2026-10-25 02:45"))
    second = Block("second", local("2026-10-25 02:15", fold=1), local("2026-10-25 02:45", fold=1))
    assert second.start.astimezone(UTC) - first.start.astimezone(UTC) == timedelta(hours=1)
    placed = by_key(place_day([first, second], day, BERLIN))
    # Both occurrences sit on the same rows, side by side, so neither hides the other.
    assert (placed["first"].row, placed["first"].span) == (10, 2)
    assert (placed["second"].row, placed["second"].span) == (10, 2)
    assert {placed["first"].lane, placed["second"].lane} == {0, 1}


def test_the_whole_of_a_25_hour_day_fills_the_column_exactly():
    day = date(2026, 10, 25)
    whole = Block("day", local("2026-10-25 00:00"), local("2026-10-26 00:00"))
    assert whole.end.astimezone(UTC) - whole.start.astimezone(UTC) == timedelta(hours=25)
    (p,) = place_day([whole], day, BERLIN)
    assert (p.row, p.span, p.clipped_start, p.clipped_end) == (1, ROWS, False, False)


def test_new_yorks_fall_back_repeats_one_to_two():
    zone = ZoneInfo("America/New_York")
    frame = day_frame(date(2026, 11, 1), zone)
    assert (frame.hours, frame.fold) == (25, (5, 4))  # 01:00-02:00: rows 5-8


def test_the_now_line_is_on_today_only():
    now = datetime(2026, 3, 2, 13, 20, tzinfo=UTC)  # 14:20 in Berlin
    assert now_row(now, DAY, BERLIN) == 58  # 14:15 starts row 58
    assert now_row(now, DAY + timedelta(days=1), BERLIN) is None


def test_the_stylesheet_holds_the_current_grid_rules():
    css = (Path(__file__).parents[2] / "calmesh" / "static" / "week.css").read_text()
    assert grid_css() in css
    assert f".wg .r-{ROWS}{{" in grid_css()
