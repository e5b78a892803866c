"""Where timed events sit on a week's time grid: rows of wall-clock time, lanes for
overlaps. Pure: aware datetimes in, grid positions out.

A day column has ``ROWS`` rows of ``60 / ROWS_PER_HOUR`` wall-clock minutes, so
every column shares one hour axis, as in any calendar app. DST days are not
24 hours long: on a spring-forward day the wall times of the gap (02:00-03:00
in Europe/Berlin) never happen, and on a fall-back day those of the fold happen
twice. :func:`day_frame` says how long the day really is and which rows are the
gap or the fold, so the page can mark them; an event placed across a gap is
drawn over it, and the two occurrences of a folded time share their rows.

Overlapping events are laid side by side: the events of a cluster (a run of
events whose rows overlap, directly or through others) split the column into as
many lanes as the cluster needs at most, each event in the first free lane, as
Google Calendar and Cal.com do. Columns are ``LANES`` grid columns wide so 1 to
``MAX_LANES`` lanes divide them evenly.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from calmesh.engine.hours import Zone, as_zone, day_bounds

__all__ = [
    "ROWS",
    "ROWS_PER_HOUR",
    "Block",
    "DayFrame",
    "Placed",
    "day_frame",
    "grid_css",
    "now_row",
    "place_day",
]

ROWS_PER_HOUR = 4
ROWS = 24 * ROWS_PER_HOUR
MINUTES_PER_ROW = 60 // ROWS_PER_HOUR
MAX_LANES = 6
LANES = math.lcm(*range(1, MAX_LANES + 1))  # 60
_STEP = timedelta(minutes=MINUTES_PER_ROW)


@dataclass(frozen=True)
class Block:
    """A timed event to place: ``key`` is the caller's handle on it."""

    key: Hashable
    start: datetime
    end: datetime


@dataclass(frozen=True)
class Placed:
    """An event on one day's grid. ``row`` and ``column`` are 1-based grid lines;
    ``clipped_start``/``clipped_end`` say it goes on before or after this day."""

    key: Hashable
    row: int
    span: int
    lane: int
    lanes: int
    column: int
    width: int
    clipped_start: bool
    clipped_end: bool


@dataclass(frozen=True)
class DayFrame:
    """One local day: its real length and the rows its DST change touches.
    ``gap`` and ``fold`` are (first row, rows) or None."""

    day: date
    hours: float
    gap: tuple[int, int] | None = None
    fold: tuple[int, int] | None = None


def _minutes(moment: datetime, day: date, zone) -> int:
    """Wall-clock minutes since ``day``'s midnight at ``moment``, 0 before the day and
    24 * 60 after it."""
    local = moment.astimezone(zone)
    if local.date() < day:
        return 0
    if local.date() > day:
        return 24 * 60
    return local.hour * 60 + local.minute


def day_frame(day: date, tz: Zone) -> DayFrame:
    """How long ``day`` is in ``tz`` and which wall-clock rows were skipped or repeated."""
    zone = as_zone(tz)
    bounds = day_bounds(day, zone)
    hours = (bounds.end - bounds.start) / timedelta(hours=1)
    gap = fold = None
    moment, offset = bounds.start, bounds.start.astimezone(zone).utcoffset()
    while moment < bounds.end:
        later = moment + _STEP
        new_offset = later.astimezone(zone).utcoffset()
        if new_offset != offset:
            # Clocks jumped at ``later`` (transitions fall on whole quarter hours).
            before = _minutes(later - timedelta(microseconds=1), day, zone) + 1
            after = _minutes(later, day, zone)
            first, last = sorted((round(before / MINUTES_PER_ROW), after // MINUTES_PER_ROW))
            marked = (first + 1, max(last - first, 1))
            if new_offset > offset:
                gap = marked
            else:
                fold = marked
        moment, offset = later, new_offset
    return DayFrame(day, hours, gap, fold)


def _rows(block: Block, day: date, zone) -> tuple[int, int]:
    """(first row, rows) of ``block`` on ``day``: at least one row, even for a
    zero-length event or one shorter than a row."""
    top = _minutes(block.start, day, zone) // MINUTES_PER_ROW
    bottom = math.ceil(_minutes(block.end, day, zone) / MINUTES_PER_ROW)
    top = min(top, ROWS - 1)
    return top + 1, max(bottom - top, 1)


def place_day(blocks: Iterable[Block], day: date, tz: Zone) -> list[Placed]:
    """The blocks that touch ``day`` in ``tz``, placed on its grid, in row order."""
    zone = as_zone(tz)
    bounds = day_bounds(day, zone)
    touching = [
        b
        for b in blocks
        if b.start < bounds.end and (b.end > bounds.start or b.start == b.end == bounds.start)
    ]
    rows = sorted(((*_rows(b, day, zone), b) for b in touching), key=lambda r: (r[0], -r[1]))
    placed: list[Placed] = []
    cluster: list[tuple[int, int, int, Block]] = []  # (row, span, lane, block)
    cluster_end = 0

    def flush() -> None:
        lanes = min(max(lane for _, _, lane, _ in cluster) + 1, MAX_LANES)
        width = LANES // lanes
        for row, span, lane, b in cluster:
            lane = min(lane, lanes - 1)
            placed.append(
                Placed(
                    key=b.key,
                    row=row,
                    span=span,
                    lane=lane,
                    lanes=lanes,
                    column=lane * width + 1,
                    width=width,
                    clipped_start=b.start < bounds.start,
                    clipped_end=b.end > bounds.end,
                )
            )
        cluster.clear()

    lane_ends: list[int] = []  # the row each lane is free again from
    for row, span, b in rows:
        if cluster and row >= cluster_end:
            flush()
            lane_ends, cluster_end = [], 0
        lane = next((i for i, free in enumerate(lane_ends) if free <= row), len(lane_ends))
        if lane == len(lane_ends):
            lane_ends.append(0)
        lane_ends[lane] = row + span
        cluster.append((row, span, lane, b))
        cluster_end = max(cluster_end, row + span)
    if cluster:
        flush()
    return placed


def now_row(now: datetime, day: date, tz: Zone) -> int | None:
    """The grid line (1-based) of ``now`` on ``day``, or None on another day."""
    zone = as_zone(tz)
    if now.astimezone(zone).date() != day:
        return None
    return _minutes(now, day, zone) // MINUTES_PER_ROW + 1


def grid_css() -> str:
    """The stylesheet rules that put a placed event where :func:`place_day` says:
    ``.r-N`` (first row), ``.s-N`` (rows spanned), ``.c-N`` (first column) and
    ``.w-N`` (columns spanned). Kept in app.css; a test checks it is current."""
    widths = sorted({LANES // n for n in range(1, MAX_LANES + 1)})
    columns = sorted({lane * w + 1 for w in widths for lane in range(LANES // w)})
    rules = [f".wg .r-{n}{{grid-row-start:{n}}}" for n in range(1, ROWS + 1)]
    rules += [f".wg .s-{n}{{grid-row-end:span {n}}}" for n in range(1, ROWS + 1)]
    rules += [f".wg .c-{n}{{grid-column-start:{n}}}" for n in columns]
    rules += [f".wg .w-{n}{{grid-column-end:span {n}}}" for n in widths]
    return "\n".join(rules) + "\n"
