"""What visitors and participants read in their mail: the subject, the body and
the text of the attached ``.ics``, in the language they used on the page
(stored with the booking or the vote, so a confirmation sent days later by
the owner speaks it too). The owner's own mails stay English.

Each function returns plain strings; the caller queues them (see
:mod:`calmesh.services.bookings` and :mod:`calmesh.services.polls`).
"""

from __future__ import annotations

from dataclasses import replace

from flask_babel import gettext as _

from calmesh import i18n
from calmesh.auth import signing
from calmesh.effects.drafts import booking_draft as owner_draft
from calmesh.effects.drafts import poll_draft as decided_draft
from calmesh.engine.calendar_links import CalendarLinks, links_for
from calmesh.engine.ical import EventDraft
from calmesh.models import Booking, Participant, Poll, PollOption
from calmesh.urls import Links

# What a visitor's link may do; "manage" (the older links) does both changes.
LINK_PURPOSES = ("view", "reschedule", "cancel", "manage")


def visitor_token(booking: Booking, purpose: str) -> str:
    """A signed link token for one of :data:`LINK_PURPOSES`: a reschedule token
    does not cancel, a cancel token does not move, a view token does neither."""
    assert purpose in LINK_PURPOSES
    return signing.sign(f"booking-{purpose}", {"b": booking.uid})


def booking_links(booking: Booking, urls: Links) -> dict[str, str]:
    """The visitor's signed links: reschedule, cancel, the .ics, and the page to book again."""
    page = booking.page
    return {
        "reschedule": urls.reschedule_booking(booking.uid, visitor_token(booking, "reschedule")),
        "cancel": urls.cancel_booking(booking.uid, visitor_token(booking, "cancel")),
        "ics": urls.booking_calendar(booking.uid, visitor_token(booking, "view")),
        "again": urls.booking_page(page.user.handle, page.slug),
    }


def booking_description(booking: Booking, with_links: dict[str, str] | None = None) -> str:
    """The event's description as the visitor's calendar shows it."""
    owner = booking.page.user
    lines = [_("Booked with %(owner)s via CalMesh.", owner=owner.name or owner.handle)]
    if booking.notes:
        lines += ["", _("Notes:"), booking.notes]
    for q in booking.page.questions:
        if q["id"] in booking.answers:
            value = booking.answers[q["id"]]
            lines.append(f"{q['label']}: {_('yes') if value is True else value}")
    if with_links:
        lines += [
            "",
            _("Reschedule: %(url)s", url=with_links["reschedule"]),
            _("Cancel: %(url)s", url=with_links["cancel"]),
        ]
    return "\n".join(lines)


def visitor_draft(booking: Booking, urls: Links, cancelled: bool = False) -> EventDraft:
    """The booking's event as the visitor's copy: the description in their
    language, with their links while it holds."""
    draft = owner_draft(booking, cancelled=cancelled)
    with i18n.force_locale(booking.attendee_locale or i18n.DEFAULT):
        active = booking.status in ("pending", "accepted") and not cancelled
        links = booking_links(booking, urls) if active else None
        return replace(draft, description=booking_description(booking, links))


def booking_notice(booking: Booking, what: str, reason: str, urls: Links) -> tuple[str, str]:
    """(subject, body) of the mail telling the visitor about ``what`` happened:
    requested, accepted, rescheduled, declined or cancelled."""
    with i18n.force_locale(booking.attendee_locale or i18n.DEFAULT):
        page = booking.page
        title = " ".join(page.title.split())
        subject, line = {
            "requested": (
                _("Requested: %(title)s", title=title),
                _("Your request was sent; you will hear when it is confirmed."),
            ),
            "accepted": (
                _("Confirmed: %(title)s", title=title),
                _("Your booking is confirmed."),
            ),
            "rescheduled": (
                _("Moved: %(title)s", title=title),
                _("Your booking has a new time."),
            ),
            "declined": (
                _("Declined: %(title)s", title=title),
                _("Sorry, this request was declined."),
            ),
            "cancelled": (
                _("Cancelled: %(title)s", title=title),
                _("This booking is cancelled."),
            ),
        }[what]
        tz = booking.attendee_timezone
        body = [
            _("Hello %(name)s,", name=booking.attendee_name),
            "",
            line,
            "",
            f"{i18n.span(booking.start, booking.end, tz)} ({tz})",
        ]
        if page.location:
            body.append(_("Where: %(location)s", location=page.location))
        if reason:
            body += ["", _("Reason: %(reason)s", reason=reason)]
        mine = booking_links(booking, urls)
        if what in ("declined", "cancelled"):
            body += ["", _("Book another time: %(url)s", url=mine["again"])]
        else:
            added = links_for(visitor_draft(booking, urls), mine["ics"])
            body += [
                *_calendar_lines(added),
                "",
                _("To reschedule: %(url)s", url=mine["reschedule"]),
                _("To cancel: %(url)s", url=mine["cancel"]),
            ]
        return subject, "\n".join(body)


def _calendar_lines(added: CalendarLinks) -> list[str]:
    """The mail's "add to calendar" part (in the locale in force)."""
    return [
        "",
        _("Add it to your calendar:"),
        f"  {_('Google Calendar')}: {added.google}",
        f"  {_('Outlook.com')}: {added.outlook}",
        f"  {_('Office 365')}: {added.office}",
        "  " + _("Other calendars (.ics): %(url)s", url=added.ics),
    ]


# --- polls ------------------------------------------------------------------------


def option_label(option: PollOption, zone: str) -> str:
    return i18n.option_heading(option.day, option.start, option.end, zone).text


def vote_saved(
    poll: Poll,
    participant: Participant,
    options: list[PollOption],
    votes: dict[int, str],
    zone: str,
    edit_url: str,
) -> tuple[str, str]:
    """(subject, body) confirming a participant's vote."""
    with i18n.force_locale(participant.locale or i18n.DEFAULT):
        title = " ".join(poll.title.split())
        answers = {"yes": _("yes"), "ifneedbe": _("if need be"), "no": _("no")}
        lines = [
            f"  {option_label(o, zone)}: {answers.get(votes.get(o.id, ''), _('no answer'))}"
            for o in options
        ]
        body = [
            _("Hello %(name)s,", name=participant.name),
            "",
            _("Your vote on “%(title)s” is saved:", title=title),
            *lines,
            "",
            _("To change it later: %(url)s", url=edit_url),
        ]
        return _("Your vote on “%(title)s”", title=title), "\n".join(body)


def poll_description(poll: Poll) -> str:
    return (poll.description + "\n\n" if poll.description else "") + _("Decided in a CalMesh poll.")


def poll_invitation(
    poll: Poll, option: PollOption, participant: Participant, zone: str, method: str, urls: Links
) -> tuple[str, str]:
    """(subject, body) of the decision (``REQUEST``) or its withdrawal (``CANCEL``)."""
    with i18n.force_locale(participant.locale or i18n.DEFAULT):
        title = " ".join(poll.title.split())
        when = option_label(option, zone)
        if method == "REQUEST":
            subject = _("Decided: %(title)s", title=title)
            line = _("“%(title)s” will be on %(when)s.", title=title, when=when)
        else:
            subject = _("Cancelled: %(title)s", title=title)
            line = _("“%(title)s” on %(when)s is called off.", title=title, when=when)
        body = [_("Hello %(name)s,", name=participant.name), "", line]
        if poll.location:
            body.append(_("Where: %(location)s", location=poll.location))
        if method == "REQUEST":
            added = links_for(
                poll_draft(poll, option, participant), urls.poll_calendar(poll.public_id)
            )
            body += _calendar_lines(added)
        return subject, "\n".join(body)


def poll_draft(
    poll: Poll, option: PollOption, participant: Participant | None = None
) -> EventDraft:
    """The decided event with its description in the participant's language
    (the page's, for the public download)."""
    locale = participant.locale if participant is not None else None
    with i18n.force_locale(locale or i18n.locale_name()):
        draft = decided_draft(poll, option, participant)
        return replace(draft, description=poll_description(poll))
