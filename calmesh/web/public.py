"""Public pages: a booking page at /{handle}/{slug}, and a visitor's booking.

One booker (:mod:`calmesh.web.booker`) serves both the booking page and a
visitor's reschedule. Every step is a plain GET link or form, so the path works
without JavaScript; when htmx asks (``HX-Request``), only the ``#booker``
fragment is rendered. Times are shown in the visitor's zone, which is also
stored as the attendee's.

Only the booking page (with its fragments) and the confirmation may be framed
by another site, and only with ``?embed=1``; the manage page never is.
"""

from __future__ import annotations

import secrets
from typing import Any
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)

from calmesh.auth import ratelimit, signing
from calmesh.http import allow_framing
from calmesh.models import ACTIVE, Booking, BookingPage
from calmesh.schema import Invalid
from calmesh.services import booking_pages, bookings, public_booking
from calmesh.web.booker import (
    Booker,
    Time,
    is_web_url,
    long_date,
    minutes_label,
    span,
    zone_groups,
    zones,
)

public = Blueprint("public", __name__)
TOKEN_PAGES = {"public.manage_booking", "public.confirmation"}


# --- rendering ------------------------------------------------------------------------


def _render(full: str, partial: str, status: int = 200, **context: Any):
    """The page, or only the ``#booker`` fragment when htmx swaps it (not when htmx
    restores a page from history: that wants the whole page).

    The fragment carries slots, not the zone list: its zone select holds only the
    chosen zone, and booker.js keeps the list it read from the page."""
    fragment = bool(
        request.headers.get("HX-Request") and not request.headers.get("HX-History-Restore-Request")
    )
    response = make_response(
        render_template(partial if fragment else full, fragment=fragment, **context), status
    )
    response.vary.add("HX-Request")
    return response


@public.context_processor
def _helpers() -> dict[str, Any]:
    return {
        "is_web_url": is_web_url,
        "long_date": long_date,
        "minutes_label": minutes_label,
        "zones": zones(),
        "zone_groups": zone_groups(),
        "fragment": False,
    }


@public.after_request
def _private(response):
    # The manage link is a capability: keep it out of caches and other sites' logs.
    if request.endpoint in TOKEN_PAGES or request.method == "POST":
        response.headers["Cache-Control"] = "no-store"
        response.headers["Referrer-Policy"] = "no-referrer"
    return response


@public.errorhandler(signing.BadToken)
def _bad_link(exc: signing.BadToken):
    return render_template("public/link_refused.html", message=str(exc)), 403


def throttle_public(action: str) -> None:
    """Count a visitor's ``action`` against the limit the REST API applies too;
    raises ratelimit.RateLimited over it."""
    ratelimit.throttle_public(action, request.remote_addr, current_app.config["CALMESH"])


def _embeddable() -> None:
    if request.args.get("embed") == "1":
        allow_framing()


def _owner(page: BookingPage) -> str:
    return page.user.name or page.user.handle


# --- the embed script -----------------------------------------------------------------


@public.route("/embed.js")
def embed_script():
    """The embed script at the instance's root, where the documented snippet loads it
    (also served as /static/embed.js)."""
    return current_app.send_static_file("embed.js")


# --- the booking page -----------------------------------------------------------------


def _page_or_404(handle: str, slug: str) -> BookingPage:
    page = booking_pages.public_page(handle, slug)
    if page is None:
        abort(404)
    return page


@public.route("/<handle>/<slug:slug>", methods=["GET", "POST"])
def booking_page(handle: str, slug: str):
    page = _page_or_404(handle, slug)
    _embeddable()
    path = {"handle": handle, "slug": slug}
    booker = Booker.read(page, "public.booking_page", path, request.values, zone=page.timezone)
    if request.method == "POST":
        return _book(booker)
    form = _blank_form() if booker.start else None
    if not booker.start:
        booker.load()
    return _show_page(booker, form)


def _blank_form() -> dict[str, Any]:
    return {"values": {}, "errors": {}, "message": None, "alternatives": None}


def _show_page(booker: Booker, form: dict[str, Any] | None, status: int = 200, headers=None):
    response = _render(
        "public/booking_page.html",
        "public/_booker.html",
        status,
        b=booker,
        page=booker.page,
        owner=_owner(booker.page),
        form=form,
        attempt=secrets.token_urlsafe(12),
    )
    response.headers.update(headers or {})
    return response


def _book(booker: Booker):
    page, form = booker.page, _blank_form()
    form["values"] = request.form.to_dict()
    try:
        throttle_public("book")
    except ratelimit.RateLimited as exc:
        form["message"] = "Too many booking attempts from your network. Please wait a minute."
        return _show_page(booker, form, 429, exc.headers())
    raw = {k: request.form.get(k, "") for k in ("name", "email", "notes")}
    errors: dict[str, str] = {} if booker.start else {"start": "missing"}
    try:
        values = public_booking.BOOK_FORM.parse({k: v for k, v in raw.items() if v or k != "notes"})
    except Invalid as exc:
        values = {}
        errors.update({d["field"]: d["message"] for d in exc.details})
    answers = public_booking.read_answers(page, request.form)
    try:
        booking_pages.check_answers(page, answers)
    except Invalid as exc:
        errors.update({d["field"]: d["message"] for d in exc.details})
    if errors:
        form["errors"] = {k: _friendly(k, v) for k, v in errors.items()}
        form["message"] = "Please check the fields marked below."
        return _show_page(booker, form, 400)
    attempt = request.form.get("attempt", "")[:40]
    assert booker.start is not None
    try:
        booking, _ = bookings.book(
            page,
            start=booker.start,
            duration=booker.duration,
            attendee=bookings.Attendee(values["name"], values["email"], booker.tz),
            notes=values["notes"],
            answers=answers,
            # A double click or a resent form books once; another time is another booking.
            idempotency_key=f"web:{attempt}:{booker.start.isoformat()}" if attempt else None,
        )
    except bookings.BookingError as exc:
        if exc.code == "idempotency_key_reused":
            form["values"].pop("attempt", None)  # the page gives the next send a new key
        form["message"], form["alternatives"] = _refusal(exc), _alternatives(booker)
        return _show_page(booker, form, exc.status)
    params = {"embed": "1"} if booker.embed else {}
    return redirect(
        url_for(
            "public.confirmation",
            uid=booking.uid,
            token=bookings.manage_token(booking),
            clock=booker.clock,
            **params,
        ),
        303,
    )


def _friendly(field_: str, message: str) -> str:
    if field_ == "email":
        return "Please enter a valid e-mail address."
    if field_ == "name":
        return "Please enter your name." if message == "is required" else f"Your name {message}."
    if field_ == "start":
        return "Please choose a time first."
    return message  # the answers': the service's own words name the question


def _refusal(exc: bookings.BookingError) -> str:
    if exc.code == "idempotency_key_reused":
        return "This form was already sent with other details. Check them and send it again."
    if exc.status == 409:
        return "Sorry, someone booked this time a moment ago."
    return f"Sorry, this time cannot be booked any more ({str(exc).split(': ', 1)[-1]})."


def _alternatives(booker: Booker) -> list[Time]:
    """The other free times of the refused one's day, offered inside the form so the
    visitor keeps what they typed."""
    booker.day = booker.start_day()
    assert booker.day is not None
    booker.month = booker.day.replace(day=1)
    booker.slots = booker.month_slots()
    return booker.day_times()


@public.route("/b/<token:uid>/confirmed")
def confirmation(uid: str):
    booking = bookings.by_manage_token(uid, request.args.get("token", ""))
    _embeddable()
    embed = request.args.get("embed") == "1"
    tz = booking.attendee_timezone
    clock = request.args.get("clock") if request.args.get("clock") in ("12", "24") else "24"
    page = booking.page
    again = {"embed": "1"} if embed else {}
    return render_template(
        "public/confirmation.html",
        booking=booking,
        page=page,
        owner=_owner(page),
        when=span(booking.start, booking.end, tz, clock),
        tz=tz,
        embed=embed,
        manage_url=url_for(
            "public.manage_booking", uid=uid, token=request.args["token"], clock=clock
        ),
        again_url=url_for(
            "public.booking_page", handle=page.user.handle, slug=page.slug, clock=clock, **again
        ),
    )


# --- the visitor's booking: see, cancel, reschedule -------------------------------------


def _manage_booker(booking: Booking, token: str, values: Any) -> Booker:
    """The reschedule's booker; it opens on the booking's own day."""
    minutes = int((booking.end - booking.start).total_seconds() // 60)
    booker = Booker.read(
        booking.page,
        "public.manage_booking",
        {"uid": booking.uid},
        values,
        zone=booking.attendee_timezone,
        duration=minutes,
        fixed={"token": token},
        detect=("clock",),  # the zone is the one stored with the booking
    )
    if booker.day is None and booker.month is None:
        booker.day = booking.start.astimezone(ZoneInfo(booker.tz)).date()
    return booker


def _movable(booking: Booking, booker: Booker) -> bool:
    """Active, and of a length the page still offers (else no slot list fits it)."""
    return booking.status in ACTIVE and booker.duration in booking.page.durations


def _show_manage(booking: Booking, booker: Booker, status: int = 200, **extra: Any):
    movable = _movable(booking, booker)
    if movable and booker.start is None:
        booker.load()
    return _render(
        "public/manage.html",
        "public/_manage.html",
        status,
        b=booker,
        booking=booking,
        page=booking.page,
        owner=_owner(booking.page),
        token=booker.fixed["token"],
        when=span(booking.start, booking.end, booker.tz, booker.clock),
        active=booking.status in ACTIVE,
        movable=movable,
        **{"message": None, "others": None, **extra},
    )


@public.route("/b/<token:uid>")
def manage_booking(uid: str):
    token = request.args.get("token", "")
    booking = bookings.by_manage_token(uid, token)
    return _show_manage(booking, _manage_booker(booking, token, request.args))


@public.route("/b/<token:uid>/cancel", methods=["POST"])
def cancel_booking(uid: str):
    token = request.form.get("token", "")
    booking = bookings.by_manage_token(uid, token)
    try:
        bookings.cancel(booking, request.form.get("reason", "").strip()[:2000])
    except bookings.BookingError as exc:
        flash(f"Nothing changed: {exc}.")
    else:
        flash("Your booking is cancelled. We have let them know.")
    return redirect(url_for("public.manage_booking", uid=uid, token=token), 303)


@public.route("/b/<token:uid>/reschedule", methods=["POST"])
def reschedule_booking(uid: str):
    token = request.form.get("token", "")
    booking = bookings.by_manage_token(uid, token)
    booker = _manage_booker(booking, token, request.form)
    if not _movable(booking, booker):
        return _show_manage(booking, booker, 409)
    if booker.start is None:
        return _show_manage(booking, booker, 400, message="Please choose a new time first.")
    try:
        throttle_public("book")
        moved = bookings.reschedule(
            booking, booker.start, request.form.get("reason", "").strip()[:2000]
        )
    except ratelimit.RateLimited:
        return _show_manage(
            booking, booker, 429, message="Too many attempts. Please wait a minute."
        )
    except bookings.BookingError as exc:
        return _show_manage(
            booking, booker, exc.status, message=_refusal(exc), others=_alternatives(booker)
        )
    flash(f"Your booking is moved to {span(moved.start, moved.end, booker.tz, booker.clock)}.")
    return redirect(
        url_for("public.manage_booking", uid=uid, token=token, tz=booker.tz, clock=booker.clock),
        303,
    )
