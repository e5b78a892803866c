"""Bookings in the dashboard: filter, confirm, decline, cancel, reschedule.

Each action answers htmx with the booking's row and a plain form post with a
redirect back to the list it came from, so the page works without JavaScript.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from math import ceil
from zoneinfo import ZoneInfo

from flask import abort, flash, redirect, request, url_for
from flask_login import current_user, login_required

from calmesh.engine.hours import day_bounds, local_to_utc
from calmesh.inputs.bookings import REASON, RESCHEDULE
from calmesh.models import BOOKING_STATUSES, Booking, BookingPage
from calmesh.schema import SLUG_MAX, Choice, Date, Integer, Invalid, Object, String
from calmesh.services import bookings as service
from calmesh.urls import local_path
from calmesh.web import render, web
from calmesh.web.forms import parse_form

PER_PAGE = 25
# The local days of the extreme dates would reach past what datetime can hold.
DAYS = (date.min + timedelta(days=2), date.max - timedelta(days=2))
FILTERS = Object(
    {
        "status": Choice(*BOOKING_STATUSES, default=None),
        "page": String(max_length=SLUG_MAX, default=None),
        "attendee": String(max_length=254, default=None),
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
    """The list's filters from the query string; a bad one is reported and ignored.
    Without any query the list starts today: upcoming bookings first."""
    args = {k: v.strip() for k, v in request.args.items() if v.strip()}
    if not request.args:
        args["from"] = datetime.now(_zone()).date().isoformat()
    values, errors = {}, {}
    for key, field in FILTERS.fields.items():
        try:
            values[key] = field.parse_text(args[key], key) if key in args else field.default
        except Invalid as exc:
            values[key], errors[key] = field.default, exc.details[0]["message"]
        if isinstance(values[key], date) and not DAYS[0] <= values[key] <= DAYS[1]:
            values[key], errors[key] = None, "is out of range"
    return values, errors


def _found(filters: dict):
    zone = _zone()
    first: date | None = filters["from"]
    last: date | None = filters["to"]
    return service.search(
        current_user,
        statuses=[filters["status"]] if filters["status"] else None,
        page_slug=filters["page"],
        attendee=filters["attendee"],
        start_after=day_bounds(first, zone).start if first else None,
        start_before=day_bounds(last, zone).end if last else None,
    )


def _local(dt: datetime) -> datetime:
    return dt.astimezone(_zone())


@web.route("/bookings")
@login_required
def bookings():
    filters, errors = _filters()
    found = _found(filters)
    total = found.count()
    pages = max(1, ceil(total / PER_PAGE))
    number = min(filters["p"], pages)
    rows = found.order_by(Booking.start, Booking.id).paginate(number, PER_PAGE)
    query = {k: v for k, v in request.args.items() if k != "p"}
    return render(
        "bookings/index.html",
        "bookings/_list.html",
        rows=list(rows),
        total=total,
        number=number,
        pages=pages,
        page_url=lambda n: url_for("web.bookings", **query, p=n),
        filters=filters,
        errors=errors,
        statuses=BOOKING_STATUSES,
        booking_pages=BookingPage.for_user(current_user).order_by(BookingPage.title),
        back=request.full_path.rstrip("?"),
        local=_local,
        zone=current_user.timezone,
    )


def _back() -> str:
    """Where a plain form post returns to: the list with its filters, never elsewhere."""
    target = local_path(request.form.get("next"))
    return target if target and target.startswith("/bookings") else url_for("web.bookings")


def _act(uid: str, change: Callable[[Booking], Booking], done: str):
    """Run ``change`` on the owner's booking; answer with its row (htmx) or a redirect."""
    booking, error = _owned(uid), ""
    try:
        booking = change(booking)
    except (service.BookingError, Invalid) as exc:
        error = str(exc)
    if request.headers.get("HX-Request"):
        # 200 even for a refusal: htmx swaps only successful answers, and the row says why.
        return render(
            "bookings/_row.html",
            b=booking,
            error=error,
            done="" if error else done,
            back=_back(),
            local=_local,
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
