"""Double bookings across the sources of a unified calendar.

A conflict (SPEC §5 "Conflicts") is two busy events from different sources
that overlap. Overlaps inside one source are the owner's own business (the
calendar app already shows them side by side), so they are not reported.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from calmesh.engine.availability import BusyEvent, event_span, is_blocking
from calmesh.engine.hours import Zone, as_zone
from calmesh.engine.intervals import Interval

__all__ = ["Conflict", "find_conflicts"]


@dataclass(frozen=True)
class Conflict:
    """Two overlapping busy events; `a` starts first (or came first in the input)."""

    a: BusyEvent
    b: BusyEvent
    overlap: Interval


def find_conflicts(
    events: Iterable[BusyEvent], tz: Zone, tentative_busy: bool = True
) -> list[Conflict]:
    """Every pair of blocking events from different sources that share time.

    Blocking follows `availability.is_blocking`; all-day events cover their
    days in the calendar zone `tz`. Events that share a non-empty `uid` are
    one meeting seen through two calendars (an invitation accepted in both),
    not a double booking, and are not paired. Sorted by overlap.

    A sweep over start times keeps only the events still running, so the
    cost is O(n log n) plus the number of overlapping pairs.
    """
    zone = as_zone(tz)
    spans: list[tuple[Interval, int, BusyEvent]] = []
    for index, event in enumerate(events):
        if is_blocking(event, tentative_busy=tentative_busy):
            span = event_span(event, zone)
            if span is not None:
                spans.append((span, index, event))
    spans.sort(key=lambda item: (item[0].start, item[1]))

    found: list[tuple[tuple[datetime, datetime, int, int], Conflict]] = []
    # Events still running at the current start, a heap keyed by end; the
    # index breaks ties so that events themselves are never compared.
    running: list[tuple[datetime, int, BusyEvent]] = []
    for span, index, event in spans:
        while running and running[0][0] <= span.start:
            heapq.heappop(running)
        for end, other_index, other in running:
            if other.source_id == event.source_id or (other.uid and other.uid == event.uid):
                continue
            overlap = Interval(span.start, min(end, span.end))
            key = (overlap.start, overlap.end, other_index, index)
            found.append((key, Conflict(a=other, b=event, overlap=overlap)))
        heapq.heappush(running, (span.end, index, event))
    found.sort(key=lambda item: item[0])
    return [conflict for _, conflict in found]
