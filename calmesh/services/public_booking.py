"""What a visitor's booking needs, for the REST API and the booking page alike.

The book request's declaration (the REST body, the page's form, the MCP tool),
the rule for how far one slots query reaches, and the free slots of a page,
kept per worker: a popular page asked for the same weeks again costs three
small queries (its key), not a slot run. Callers serialise the slots their own
way (the API as JSON, the page as links); both read the same objects.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from calmesh.db import utcnow
from calmesh.engine.slots import Slot, group_by_date
from calmesh.inputs.bookings import BOOK_BODY, BOOK_FORM  # noqa: F401 - by the service too
from calmesh.models import BookingPage
from calmesh.schema import (
    MAX_SLOT_DAYS,
    Invalid,
)
from calmesh.services import booking_pages
from calmesh.services.errors import ServiceError
from calmesh.services.memo import Memo

MAX_SLOT_RANGE = timedelta(days=MAX_SLOT_DAYS)
# Far-off starts are no slot, and would overflow the arithmetic of zones and durations.
FARTHEST_START = timedelta(days=3660)


def check_slot_range(start: datetime, end: datetime) -> None:
    """One slots query: ``end`` after ``start``, at most MAX_SLOT_DAYS later."""
    if end <= start or end - start > MAX_SLOT_RANGE:
        raise ServiceError(
            f"end must be after start and at most {MAX_SLOT_DAYS} days later",
            400,
            "validation_error",
            details=[
                {
                    "field": "end",
                    "message": f"must be after start, at most {MAX_SLOT_DAYS} days later",
                }
            ],
        )


def read_start(value: str | None, now: datetime | None = None) -> datetime | None:
    """A start from a link or form as the book request reads it, or None (absent,
    malformed or years away)."""
    try:
        start = BOOK_BODY.fields["start"].parse(value, "") if value else None
    except Invalid:
        return None
    if start is None or abs(start - (now or utcnow())) > FARTHEST_START:
        return None
    return start


def read_answers(page: BookingPage, form: Any) -> dict[str, Any]:
    """The answers of a page's form (inputs ``answers.<id>``): ticked boxes as true,
    empty texts left out; checked by :func:`booking_pages.check_answers` when booked."""
    answers: dict[str, Any] = {}
    for question in page.questions:
        key = f"answers.{question['id']}"
        if question["type"] == "checkbox":
            if form.get(key):
                answers[question["id"]] = True
        elif value := form.get(key, "").strip():
            answers[question["id"]] = value
    return answers


# --- free slots ----------------------------------------------------------------------


@dataclass(frozen=True)
class SlotQuery:
    """One page's slots in [start, end), grouped by date in ``tz``; ``key`` is every
    input (see booking_pages.inputs_key), so equal keys mean equal slots."""

    page: BookingPage
    start: datetime
    end: datetime
    tz: str
    minutes: int
    now: datetime
    key: tuple


def slot_query(
    page: BookingPage,
    start: datetime,
    end: datetime,
    tz: str,
    duration: int | None,
    now: datetime | None = None,
) -> SlotQuery:
    """The query, its duration checked against the page's (PageError)."""
    minutes = booking_pages.duration_for(page, duration)
    now = now or utcnow()
    key = (*booking_pages.inputs_key(page, start, end, minutes, now), tz)
    return SlotQuery(page, start, end, tz, minutes, now, key)


_SLOTS: Memo = Memo(size=512)


def free_slots(query: SlotQuery) -> dict[date, list[Slot]]:
    """The free slots by local date, from this worker's memo when it has them.
    Read only: the lists are shared with later callers."""
    return _SLOTS.get(query.key, lambda: _compute(query))


def _compute(query: SlotQuery) -> dict[date, list[Slot]]:
    # The answer stands for the whole minute: count from the minute's end, so no
    # slot is offered that booking would refuse as too soon.
    now = query.now.replace(second=0, microsecond=0) + timedelta(minutes=1)
    found = booking_pages.slots(
        query.page, query.start, query.end, query.minutes, now=now, key=query.key[1]
    )
    return group_by_date(found, query.tz)
