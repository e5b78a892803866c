"""The owner's mail about a booking (new, requested, confirmed, moved, declined,
cancelled): who, when in the owner's zone and clock, the visitor's answers and
notes, a link to the booking and an ``.ics`` for the owner's calendar app.

:func:`context` gives the template (``emails/owner_booking.txt``) what it needs
from the booking alone, so it can be rendered when the mail is queued or when
it is delivered; :func:`render` renders it.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader

from calmesh.engine import timefmt
from calmesh.models import Booking
from calmesh.urls import Links

TEMPLATE = "emails/owner_booking.txt"
# The package's templates, read without the app: the mail is plain text (nothing
# to escape) and uses no app globals, so delivery needs no Flask context.
TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).resolve().parent.parent / "templates"),
    autoescape=False,  # noqa: S701 - plain text mail
)
HEADLINES = {
    "requested": "A new booking request waits for your confirmation.",
    "accepted": "A new booking.",
    "confirmed": "You confirmed this booking.",
    "rescheduled": "A booking was moved.",
    "declined": "You declined this request.",
    "cancelled": "A booking was cancelled.",
}


def answers_of(booking: Booking) -> list[tuple[str, str]]:
    """(label, text) of the visitor's answers, in the page's order of questions;
    answers to questions the page no longer asks come last, by their id."""
    questions = {q["id"]: q["label"] for q in booking.page.questions}
    ordered = [q for q in questions if q in booking.answers]
    ordered += [key for key in booking.answers if key not in questions]

    def text(value: Any) -> str:
        return "yes" if value is True else "no" if value is False else str(value)

    return [(questions.get(key, key), text(booking.answers[key])) for key in ordered]


def context(
    booking: Booking,
    what: str,
    links: Links,
    *,
    reason: str = "",
    created: bool = False,
    previous: tuple[datetime, datetime] | None = None,
) -> dict[str, Any]:
    """What the owner's mail about ``what`` happening to ``booking`` says."""
    owner, page = booking.page.user, booking.page
    habits = timefmt.habits_of(owner)
    theirs = replace(habits, timezone=booking.attendee_timezone)
    if what == "accepted" and not created:
        what = "confirmed"
    return {
        "what": what,
        "subject": f"[CalMesh] Booking {'accepted' if what == 'accepted' else what}: "
        f"{booking.attendee_name}",
        "headline": HEADLINES[what],
        "title": page.title,
        "attendee": {
            "name": booking.attendee_name,
            "email": booking.attendee_email,
            "timezone": booking.attendee_timezone,
        },
        "when": timefmt.span_of(booking.start, booking.end, habits),
        "their_when": timefmt.span_of(booking.start, booking.end, theirs),
        "previous": timefmt.span_of(*previous, habits) if previous else "",
        "owner_zone": owner.timezone,
        "location": page.location,
        "reason": reason,
        "answers": answers_of(booking),
        "notes": booking.notes,
        "link": links.booking_detail(booking.uid),
        "ics": True,
        "cancelled": what in ("declined", "cancelled"),
    }


def render(values: dict[str, Any]) -> tuple[str, str]:
    """(subject, body) of the owner's mail."""
    body = TEMPLATES.get_template(TEMPLATE).render(**values)
    return values["subject"], body.strip() + "\n"
