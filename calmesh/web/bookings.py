"""Bookings in the dashboard: the list (Upcoming, Unconfirmed, Past, Cancelled,
a search), one booking in full, and confirm, decline, cancel, reschedule,
retry or dismiss a failed calendar write-back.

Each action answers htmx with the booking's card and a plain form post with a
redirect back to the page it came from, so the pages work without JavaScript.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date, datetime, timedelta
from math import ceil
from zoneinfo import ZoneInfo

from flask import Response, abort, flash, redirect, request, url_for
from flask_login import current_user, login_required

from calmesh.api.bookings import REASON, RESCHEDULE
from calmesh.db import utcnow
from calmesh.effects.drafts import booking_draft
from calmesh.engine import timefmt
from calmesh.engine.hours import day_bounds, local_to_utc
from calmesh.engine.ical import build_calendar
from calmesh.models import ACTIVE, Booking, BookingChange, BookingPage
from calmesh.schema import SLUG_MAX, Choice, Date, Integer, Invalid, Object, String
from calmesh.services import bookings as service
from calmesh.services import calendars, write_backs
from calmesh.urls import local_path
from calmesh.web import render, web
from calmesh.web.forms import parse_form

PER_PAGE = 25
# The local days of the extreme dates would reach past what datetime can hold.
DAYS = (date.min + timedelta(days=2), date.max - timedelta(days=2))
# (key, label, statuses, upcoming?): upcoming tabs list soonest first, the others latest first.
TABS = (
    ("upcoming", "Upcoming", ACTIVE, True),
    ("unconfirmed", "Unconfirmed", ("pending",), True),
    ("past", "Past", ACTIVE, False),
    ("cancelled", "Cancelled", ("cancelled", "declined"), None),
)
FILTERS = Object(
    {
        "tab": Choice(*(t[0] for t in TABS), default="upcoming"),
        "q": String(max_length=254, default=None),
        "page": String(max_length=SLUG_MAX, default=None),
        "from": Date(default=None),
        "to": Date(default=None),
        "p": Integer(minimum=1, maximum=1_000_000, default=1),
    }
)


def _owned(uid: str) -> Booking:
    booking = service.get_for(current_user, uid)
    if booking is None:
        abort(404)
    return booking


def _zone() -> ZoneInfo:
    return ZoneInfo(current_user.timezone)


def _filters() -> tuple[dict, dict[str, str]]:
    """The list's filters from the query string; a bad one is reported and ignored."""
    args = {k: v.strip() for k, v in request.args.items() if v.strip()}
    values, errors = {}, {}
    for key, field in FILTERS.fields.items():
        try:
            values[key] = field.parse_text(args[key], key) if key in args else field.default
        except Invalid as exc:
            values[key], errors[key] = field.default, exc.details[0]["message"]
        if isinstance(values[key], date) and not DAYS[0] <= values[key] <= DAYS[1]:
            values[key], errors[key] = None, "is out of range"
    return values, errors


def _found(filters: dict, tab: tuple, now: datetime):
    zone = _zone()
    first: date | None = filters["from"]
    last: date | None = filters["to"]
    _, _, statuses, upcoming = tab
    query = service.search(
        current_user,
        statuses=list(statuses),
        when={True: "upcoming", False: "past", None: "all"}[upcoming],
        page_slug=filters["page"],
        attendee=filters["q"],
        start_after=day_bounds(first, zone).start if first else None,
        start_before=day_bounds(last, zone).end if last else None,
        now=now,
    )
    order = (Booking.start, Booking.id) if upcoming else (Booking.start.desc(), Booking.id.desc())
    return query.order_by(*order)


def _card_context() -> dict:
    return {"back": request.full_path.rstrip("?"), "zone": current_user.timezone}


@web.route("/bookings")
@login_required
def bookings():
    filters, errors = _filters()
    tab = next(t for t in TABS if t[0] == filters["tab"])
    now = utcnow()
    found = _found(filters, tab, now)
    total = found.count()
    pages = max(1, ceil(total / PER_PAGE))
    number = min(filters["p"], pages)
    rows = list(found.paginate(number, PER_PAGE))
    query = {k: v for k, v in request.args.items() if k != "p"}
    counts = {
        key: service.search(current_user, statuses=list(st), when="upcoming", now=now).count()
        for key, _, st, up in TABS
        if up
    }
    return render(
        "bookings/index.html",
        "bookings/_list.html",
        rows=rows,
        failing=_failing(rows),
        total=total,
        number=number,
        pages=pages,
        page_url=lambda n: url_for("web.bookings", **query, p=n),
        tab_url=lambda key: url_for(
            "web.bookings", tab=key, **{k: v for k, v in query.items() if k != "tab"}
        ),
        tabs=TABS,
        tab=tab,
        counts=counts,
        filters=filters,
        errors=errors,
        booking_pages=BookingPage.for_user(current_user).order_by(BookingPage.title),
        **_card_context(),
    )


def _failing(rows: list[Booking]) -> set[str]:
    """The uids among ``rows`` whose calendar write-back failed (a badge on the card)."""
    uids = {b.uid for b in rows if b.status == "accepted"}
    if not uids:
        return set()
    return {
        f.booking.uid for f in write_backs.failed_write_backs(current_user) if f.booking.uid in uids
    }


@web.route("/bookings/<token:uid>")
@login_required
def booking_detail(uid: str):
    booking = _owned(uid)
    page = booking.page
    answers = [
        (q["label"], booking.answers[q["id"]]) for q in page.questions if q["id"] in booking.answers
    ]
    known = {q["id"] for q in page.questions}
    # Answers to questions the page no longer asks are still the visitor's words.
    answers += [(key, value) for key, value in booking.answers.items() if key not in known]
    target = calendars.bookings_go_to(page.calendar)
    theirs = None
    if booking.attendee_timezone != current_user.timezone:
        habits = replace(timefmt.habits_of(current_user), timezone=booking.attendee_timezone)
        theirs = timefmt.span_of(booking.start, booking.end, habits)
    return render(
        "bookings/detail.html",
        b=booking,
        answers=answers,
        history=list(BookingChange.of(booking)),
        write_back=write_backs.state_of(booking),
        target=target[1] if target else None,
        theirs=theirs,
        **{**_card_context(), "back": url_for("web.booking_detail", uid=uid)},
    )


@web.route("/bookings/<token:uid>/event.ics")
@login_required
def booking_ics(uid: str):
    """The booking as an event for the owner's own calendar app."""
    booking = _owned(uid)
    body = build_calendar(
        booking_draft(booking, cancelled=booking.status not in ACTIVE), method="PUBLISH"
    )
    return Response(
        body,
        mimetype="text/calendar",
        headers={"Content-Disposition": f'attachment; filename="booking-{booking.uid}.ics"'},
    )


def _back() -> str:
    """Where a plain form post returns to: the list (with its filters) or a booking page."""
    target = local_path(request.form.get("next"))
    return target if target and target.startswith("/bookings") else url_for("web.bookings")


def _act(uid: str, change: Callable[[Booking], Booking | None], done: str, errors=()):
    """Run ``change`` on the owner's booking; answer with its card (htmx) or a redirect."""
    booking, error = _owned(uid), ""
    try:
        booking = change(booking) or booking
    except (service.BookingError, Invalid, *errors) as exc:
        error = str(exc)
    if request.headers.get("HX-Request"):
        # 200 even for a refusal: htmx swaps only successful answers, and the card says why.
        return render(
            "bookings/_row.html",
            b=booking,
            error=error,
            done="" if error else done,
            failing=_failing([booking]),
            back=_back(),
            zone=current_user.timezone,
        )
    flash(f"{booking.attendee_name}: {error}" if error else f"{booking.attendee_name}: {done}.")
    return redirect(_back(), 303)


def _reason() -> str:
    values, errors = parse_form(REASON)
    if errors:
        raise Invalid([{"field": k, "message": m} for k, m in errors.items()])
    return values["reason"]


@web.route("/bookings/<token:uid>/confirm", methods=["POST"])
@login_required
def confirm_booking(uid: str):
    return _act(uid, service.confirm, "confirmed")


@web.route("/bookings/<token:uid>/decline", methods=["POST"])
@login_required
def decline_booking(uid: str):
    return _act(uid, lambda b: service.decline(b, _reason()), "declined")


@web.route("/bookings/<token:uid>/cancel", methods=["POST"])
@login_required
def cancel_booking(uid: str):
    return _act(uid, lambda b: service.cancel(b, _reason()), "cancelled")


def _new_start() -> tuple[datetime, str]:
    """The datetime-local input, read in the owner's zone, as the API's aware UTC start."""
    text = request.form.get("start", "").strip()
    try:
        wall = datetime.fromisoformat(text)
    except ValueError:
        raise Invalid([{"field": "start", "message": "give a date and a time"}]) from None
    start = local_to_utc(wall, current_user.timezone)
    body = RESCHEDULE.parse({"start": start.isoformat(), "reason": request.form.get("reason", "")})
    return body["start"], body["reason"]


@web.route("/bookings/<token:uid>/reschedule", methods=["POST"])
@login_required
def reschedule_booking(uid: str):
    def move(booking: Booking) -> Booking:
        start, reason = _new_start()
        return service.reschedule(booking, start, reason)

    return _act(uid, move, "moved")


@web.route("/bookings/<token:uid>/write-back/retry", methods=["POST"])
@login_required
def retry_write_back(uid: str):
    return _act(uid, write_backs.retry, "queued again for the calendar", (write_backs.NothingToDo,))


@web.route("/bookings/<token:uid>/write-back/dismiss", methods=["POST"])
@login_required
def dismiss_write_back(uid: str):
    return _act(uid, write_backs.dismiss, "failure dismissed", (write_backs.NothingToDo,))
