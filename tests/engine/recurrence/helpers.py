"""What the recurrence tests share: calendars written inline, the corpus, checks."""

from __future__ import annotations

from datetime import UTC, datetime, time

from calmesh.engine.recurrence import Occurrence
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
