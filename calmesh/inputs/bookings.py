"""Bookings: who books and what they send, the owner's filters and changes."""

from __future__ import annotations

from calmesh.models import BOOKING_STATUSES
from calmesh.schema import (
    SLUG_MAX,
    Choice,
    DateTime,
    Email,
    Map,
    Object,
    String,
    TextOrFlag,
    TimeZone,
    minutes_field,
)

# Who books, declared once: the public endpoint, the booking form and the MCP tool.
ATTENDEE = Object(
    {
        # One line: the name goes into e-mail subjects.
        "name": String(
            min_length=1,
            max_length=200,
            pattern=r"[^\x00-\x1f\x7f]+",
            pattern_help="must be one line of text",
        ),
        "email": Email(),
        "timezone": TimeZone(default="UTC"),
    },
    name="Attendee",
)


BOOK_BODY = Object(
    {
        "start": DateTime(description="ISO 8601 with an offset; naive times are refused"),
        "duration": minutes_field(default=None),
        "attendee": ATTENDEE,
        "notes": String(max_length=5000, default=""),
        "answers": Map(
            TextOrFlag(), max_items=30, default=dict, description="Question id -> answer"
        ),
    },
    name="BookRequest",
)
# A retry with the same key books once (the Idempotency-Key header; the MCP tool).
IDEMPOTENCY_KEY = String(min_length=1, max_length=200, strip=False)
# The booking page's form: the very fields of the book request, flat.
BOOK_FORM = Object(
    {
        "name": ATTENDEE.fields["name"],
        "email": ATTENDEE.fields["email"],
        "notes": BOOK_BODY.fields["notes"],
    }
)

STATUS_LIST = "|".join(BOOKING_STATUSES)
BOOKING_FILTERS = {
    "status": String(
        max_length=100,
        pattern=rf"({STATUS_LIST})(,({STATUS_LIST}))*",
        pattern_help="must be one or more of " + ", ".join(BOOKING_STATUSES) + ", by commas",
        default=None,
        description="One status, or several separated by commas (pending,accepted)",
    ),
    "when": Choice(
        "upcoming",
        "past",
        "all",
        default="all",
        description="upcoming: not ended yet, soonest first; past: ended, latest first; "
        "all: earliest first",
    ),
    "booking_page": String(
        max_length=SLUG_MAX,
        pattern=r"[a-z0-9-]+",
        pattern_help="a booking page's slug",
        default=None,
        description="A booking page's slug",
    ),
    "attendee": String(
        max_length=100, default=None, description="Part of the attendee's e-mail or name"
    ),
    "start_after": DateTime(default=None),
    "start_before": DateTime(default=None),
}


# Why a booking is declined, moved or cancelled: told to the attendee.
REASON_TEXT = String(max_length=2000, default="")
REASON = Object({"reason": REASON_TEXT}, name="Reason")
RESCHEDULE = Object(
    {
        "start": DateTime(description="The new start, with offset"),
        "reason": REASON_TEXT,
    },
    name="Reschedule",
)

CANCEL = Object(
    {
        "reason": REASON_TEXT,
        "token": String(
            max_length=1000,
            default=None,
            description="The visitor's signed token (instead of auth)",
        ),
    },
    name="Cancel",
)
