"""Overlaps across a unified calendar's sources over REST."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.factories import add_event


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_conflicts_are_overlaps_across_sources_only(full, work):
    add_event(work["work"], utc(2026, 3, 2, 9), utc(2026, 3, 2, 10), "A")
    add_event(work["work"], utc(2026, 3, 2, 9, 30), utc(2026, 3, 2, 10, 30), "Same source")
    add_event(work["home"], utc(2026, 3, 2, 9, 45), utc(2026, 3, 2, 11), "B")
    add_event(work["home"], utc(2026, 3, 2, 9), utc(2026, 3, 2, 12), "Free", busy=False)
    body = full.get(
        "/api/v1/calendars/work/conflicts?start=2026-03-02T00:00:00Z&end=2026-03-03T00:00:00Z"
    ).get_json()
    pairs = {(c["a"]["summary"], c["b"]["summary"]) for c in body["data"]}
    assert pairs == {("A", "B"), ("Same source", "B")}
