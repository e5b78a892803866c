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
from typing import Any

from flask import current_app

from calmesh.engine import timefmt
from calmesh.models import Booking
from calmesh.urls import Links

TEMPLATE = "emails/owner_booking.txt"
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
    body = current_app.jinja_env.get_template(TEMPLATE).render(**values)
    return values["subject"], body.strip() + "\n"
