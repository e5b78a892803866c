"""Half-open time intervals and the set algebra over them.

Every function takes any iterable of `Interval` in any order, possibly
overlapping, and returns a sorted list of disjoint, non-touching intervals:
the canonical form of a set of instants. Intervals are half-open
(`start <= t < end`), so `[9:00, 10:00)` and `[10:00, 11:00)` join into one.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

__all__ = [
    "Interval",
    "Timeline",
    "clip",
    "from_micros",
    "intersect",
    "merge",
    "micros",
    "near",
    "subtract",
    "total",
]


@dataclass(frozen=True, order=True)
class Interval:
    """The instants `start <= t < end`; both ends timezone-aware, `start < end`.

    Both ends are stored in UTC whatever zone they arrive in. Equality,
    hashing and ordering are then by instant: Python's own `==` between two
    zones is False for wall times in a DST fold (PEP 495), which would make
    the same instant unequal to itself. Convert with `astimezone` to show it.
    """

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        for name in ("start", "end"):
            value = getattr(self, name)
            if value.tzinfo is None or value.utcoffset() is None:
                raise ValueError(f"Interval {name} must be timezone-aware, got {value!r}")
            object.__setattr__(self, name, value.astimezone(UTC))
        if not self.start < self.end:
            raise ValueError(f"Interval start must precede end: {self.start} >= {self.end}")

    @property
    def duration(self) -> timedelta:
        return self.end - self.start

    def __contains__(self, instant: object) -> bool:
        return isinstance(instant, datetime) and self.start <= instant < self.end

    def overlaps(self, other: Interval) -> bool:
        """True when the two share at least one instant (touching is not enough)."""
        return self.start < other.end and other.start < self.end


def merge(intervals: Iterable[Interval]) -> list[Interval]:
    """The union, as sorted disjoint intervals; overlapping or touching ones join."""
    merged: list[Interval] = []
    for current in sorted(intervals):
        if merged and current.start <= merged[-1].end:
            if current.end > merged[-1].end:
                merged[-1] = Interval(merged[-1].start, current.end)
        else:
            merged.append(current)
    return merged


def subtract(base: Iterable[Interval], cuts: Iterable[Interval]) -> list[Interval]:
    """The instants of `base` that lie in none of `cuts`."""
    remaining = merge(cuts)
    result: list[Interval] = []
    first_cut = 0
    for piece in merge(base):
        start = piece.start
        # Cuts that end before this piece cannot touch any later piece either.
        while first_cut < len(remaining) and remaining[first_cut].end <= start:
            first_cut += 1
        index = first_cut
        while index < len(remaining) and remaining[index].start < piece.end:
            cut = remaining[index]
            if cut.start > start:
                result.append(Interval(start, cut.start))
            start = max(start, cut.end)
            index += 1
        if start < piece.end:
            result.append(Interval(start, piece.end))
    return result


def intersect(a: Iterable[Interval], b: Iterable[Interval]) -> list[Interval]:
    """The instants that lie in both `a` and `b`."""
    left, right = merge(a), merge(b)
    result: list[Interval] = []
    i = j = 0
    while i < len(left) and j < len(right):
        start = max(left[i].start, right[j].start)
        end = min(left[i].end, right[j].end)
        if start < end:
            result.append(Interval(start, end))
        # Advance whichever ends first: it cannot meet anything further on.
        if left[i].end <= right[j].end:
            i += 1
        else:
            j += 1
    return result


def clip(intervals: Iterable[Interval], window: Interval) -> list[Interval]:
    """The instants of `intervals` inside `window`."""
    return intersect(intervals, [window])


def total(intervals: Iterable[Interval]) -> timedelta:
    """How long the union lasts; overlaps are counted once."""
    return sum((piece.duration for piece in merge(intervals)), timedelta())


def near(merged: list[Interval], window: Interval) -> list[Interval]:
    """The intervals of a sorted, disjoint list that can touch ``window``, found
    by bisection (disjoint and sorted: the ends are sorted too)."""
    lo = bisect.bisect_right(merged, window.start, key=lambda i: i.end)
    hi = bisect.bisect_left(merged, window.end, lo=lo, key=lambda i: i.start)
    return merged[lo:hi]


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICRO = timedelta(microseconds=1)


def micros(instant: datetime) -> int:
    """An aware instant as whole microseconds since the Unix epoch (exact, unlike a
    float timestamp), so that instants compare and add as plain integers."""
    return (instant - _EPOCH) // _MICRO


def from_micros(value: int) -> datetime:
    """The aware UTC instant of :func:`micros`'s ``value``."""
    return _EPOCH + timedelta(microseconds=value)


class Timeline:
    """A merged set of intervals (sorted, disjoint, as :func:`merge` returns them) as
    two sorted arrays of :func:`micros`: built once, then asked "is anything here?"
    by bisection, with no object made per question. Read only once built, so one
    may be shared by every caller of the same set."""

    __slots__ = ("ends", "starts")

    def __init__(self, merged: Sequence[Interval]):
        self.starts = [micros(piece.start) for piece in merged]
        self.ends = [micros(piece.end) for piece in merged]

    def __len__(self) -> int:
        return len(self.starts)

    def __bool__(self) -> bool:
        return bool(self.starts)

    def hits(self, low: int, high: int) -> bool:
        """Whether some interval shares an instant with ``[low, high)`` (micros)."""
        # The first interval that ends after `low`; being disjoint and sorted, it
        # is the only one that can start before `high` without an earlier doing so.
        index = bisect.bisect_right(self.ends, low)
        return index < len(self.starts) and self.starts[index] < high
