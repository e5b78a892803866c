"""The calendar event of a booking and of a decided poll: the one draft that is
mailed as ``.ics`` and written back to the owner's calendar."""

from __future__ import annotations

from datetime import timedelta

from calmesh.engine.ical import EventDraft
from calmesh.models import Booking, Participant, Poll, PollOption
from calmesh.services.calendars import BOOKING_UID_DOMAIN
from calmesh.services.poll_results import UID_DOMAIN as POLL_UID_DOMAIN


def booking_uid(booking: Booking) -> str:
    """The UID a booking's event carries everywhere (provider, ``.ics`` mails)."""
    return booking.uid + BOOKING_UID_DOMAIN


def booking_draft(booking: Booking, cancelled: bool = False) -> EventDraft:
    page, owner = booking.page, booking.page.user
    return EventDraft(
        uid=booking_uid(booking),
        summary=f"{page.title}: {booking.attendee_name}",
        start=booking.start,
        end=booking.end,
        description=_describe(booking),
        location=page.location,
        sequence=booking.sequence,
        status="CANCELLED"
        if cancelled
        else ("TENTATIVE" if booking.status == "pending" else "CONFIRMED"),
        organizer_email=owner.email,
        organizer_name=owner.name or owner.handle,
        attendees=((booking.attendee_name, booking.attendee_email),),
        timezone=page.timezone,
    )


def _describe(booking: Booking) -> str:
    lines = [f"Booked by {booking.attendee_name} <{booking.attendee_email}> via CalMesh."]
    if booking.notes:
        lines += ["", "Notes:", booking.notes]
    for q in booking.page.questions:
        if q["id"] in booking.answers:
            value = booking.answers[q["id"]]
            lines.append(f"{q['label']}: {'yes' if value is True else value}")
    return "\n".join(lines)


def poll_draft(poll: Poll, option: PollOption, attendee: Participant | None = None) -> EventDraft:
    """The decided event. Each mailed copy names only its recipient: participants
    never see each other's addresses."""
    owner = poll.user
    if option.day is not None:
        start, end = option.day, option.day + timedelta(days=1)
    else:
        start, end = option.start, option.end
    return EventDraft(
        uid=poll.public_id + POLL_UID_DOMAIN,
        summary=poll.title,
        start=start,
        end=end,
        description=(poll.description + "\n\n" if poll.description else "")
        + "Decided in a CalMesh poll.",
        location=poll.location,
        sequence=poll.sequence,
        organizer_email=owner.email,
        organizer_name=owner.name or owner.handle,
        attendees=((attendee.name, attendee.email),) if attendee else (),
        timezone=poll.timezone,
    )
