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
from flask_babel import gettext as _

from calmesh import i18n
from calmesh.auth import ratelimit, signing
from calmesh.effects import visitor_mail
from calmesh.effects.visitor_mail import visitor_token
from calmesh.engine import slots
from calmesh.engine.calendar_links import links_for
from calmesh.engine.ical import build_calendar
from calmesh.http import allow_framing
from calmesh.models import ACTIVE, Booking, BookingPage
from calmesh.schema import Invalid, iana_zones
from calmesh.services import booking_pages, bookings, public_booking
from calmesh.urls import links
from calmesh.web.booker import Booker, Time, is_web_url, zone_groups, zone_options, zones

public = Blueprint("public", __name__)
TOKEN_PAGES = {
    "public.manage_booking",
    "public.confirmation",
    "public.reschedule_booking",
    "public.cancel_booking",
    "public.booking_ics",
}


# --- rendering ------------------------------------------------------------------------


def render_page(full: str, partial: str, status: int = 200, **context: Any):
    """The page, or only its ``partial`` when a script asks (``HX-Request``: the
    booker's ``#booker`` fragment, the poll's zoned pieces), but not when htmx
    restores a page from history: that wants the whole page.

    The partials carry no zone list: the booker's zone select holds only the chosen
    zone (booker.js keeps the list it read from the page), the poll's stays put."""
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
        "long_date": i18n.long_date,
        "minutes_label": i18n.minutes_label,
        "month_title": i18n.month_title,
        "month_name": i18n.month_name,
        "day_heading": i18n.day_heading,
        "weekdays": i18n.weekdays,
        "region_name": i18n.region_name,
        "zones": zones(),
        "zone_groups": zone_groups(),
        "zone_options": zone_options,
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
    message = _("It is invalid, has expired, or is meant for something else.")
    return render_template("public/link_refused.html", message=message), 403


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
    """The active page; else a designed page saying why there is none: 410 for a
    paused page (it may come back), 404 for an address that never was one."""
    page = booking_pages.public_page(handle, slug)
    if page is None:
        paused = booking_pages.paused_page(handle, slug)
        if paused is not None:
            i18n.page_default(paused.language)
        abort(
            make_response(
                render_template(
                    "public/unavailable.html",
                    paused=paused is not None,
                    owner=_owner(paused) if paused else None,
                    profile_url=_profile_url(paused.user) if paused else None,
                ),
                410 if paused else 404,
            )
        )
    i18n.page_default(page.language)
    return page


def _profile_url(user) -> str | None:
    return url_for("public.profile", handle=user.handle) if user.public_profile else None


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
    response = render_page(
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
        form["message"] = _("Too many booking attempts from your network. Please wait a minute.")
        return _show_page(booker, form, 429, exc.headers())
    values, errors = _read_form(booker)
    answers = public_booking.read_answers(page, request.form)
    if errors:  # the answers' problems too, to show every field's at once
        errors.update(_problems(booking_pages.check_answers, page, answers))
        return _show_errors(booker, form, errors)
    attempt = request.form.get("attempt", "")[:40]
    assert booker.start is not None
    try:
        booking, _created = bookings.book(  # checks the answers (the one check when all is well)
            page,
            start=booker.start,
            duration=booker.duration,
            attendee=bookings.Attendee(
                values["name"], values["email"], booker.tz, i18n.locale_name()
            ),
            notes=values["notes"],
            answers=answers,
            # A double click or a resent form books once; another time is another booking.
            idempotency_key=f"web:{attempt}:{booker.start.isoformat()}" if attempt else None,
        )
    except Invalid as exc:
        return _show_errors(booker, form, {d["field"]: d["message"] for d in exc.details})
    except bookings.BookingError as exc:
        if exc.code == "idempotency_key_reused":
            form["values"].pop("attempt", None)  # the page gives the next send a new key
        form["message"], form["alternatives"] = _refusal(exc), _alternatives(booker)
        return _show_page(booker, form, exc.status)
    return redirect(
        url_for(
            "public.confirmation",
            uid=booking.uid,
            token=visitor_token(booking, "view"),
            **booker.state(month=None, date=None, duration=None),
        ),
        303,
    )


def _read_form(booker: Booker) -> tuple[dict[str, Any], dict[str, str]]:
    """The visitor's name, e-mail and notes by the book request's declaration, and
    the problems by field (a missing start among them)."""
    fields = ("name", "email", "notes") if booker.page.ask_notes else ("name", "email")
    raw = {k: request.form.get(k, "") for k in fields}
    errors: dict[str, str] = {} if booker.start else {"start": "missing"}
    present = {k: v for k, v in raw.items() if v or k != "notes"}
    try:
        return public_booking.BOOK_FORM.parse(present), errors
    except Invalid as exc:
        return {}, {**errors, **{d["field"]: d["message"] for d in exc.details}}


def _problems(check, *args: Any) -> dict[str, str]:
    try:
        check(*args)
    except Invalid as exc:
        return {d["field"]: d["message"] for d in exc.details}
    return {}


def _show_errors(booker: Booker, form: dict[str, Any], errors: dict[str, str]):
    form["errors"] = {k: _friendly(k, v) for k, v in errors.items()}
    form["message"] = _("Please check the fields marked below.")
    return _show_page(booker, form, 400)


def _friendly(field_: str, message: str) -> str:
    if field_ == "email":
        return _("Please enter a valid e-mail address.")
    if field_ == "name":
        return (
            _("Please enter your name.")
            if message == "is required"
            else _("Please enter your name on one line, at most 200 characters.")
        )
    if field_ == "start":
        return _("Please choose a time first.")
    if field_ == "notes":
        return _("Please keep your notes under 5000 characters.")
    # An answer: the field sits under the question's own label.
    if "needs an answer" in message or message == "is required":
        return _("Please answer this question.")
    if "offered options" in message:
        return _("Please choose one of the options.")
    if "phone" in message:
        return _("Please enter a phone number.")
    return _("Please check this answer.")


def _refusal(exc: bookings.BookingError) -> str:
    if exc.code == "idempotency_key_reused":
        return _("This form was already sent with other details. Check them and send it again.")
    if exc.status == 409:
        return _("Sorry, someone booked this time a moment ago.")
    detail = str(exc).split(": ", 1)[-1]
    for reason, why in _REASONS.items():
        if detail.startswith(reason):
            return _("Sorry, this time cannot be booked any more (%(why)s).", why=why())
    return _("Sorry, this time cannot be booked any more.")


# The engine's reasons (calmesh.engine.slots), as the visitor reads them.
_REASONS = {
    slots.IN_THE_PAST: lambda: _("it is in the past"),
    slots.BEYOND_WINDOW: lambda: _("it is too far ahead"),
    slots.OUTSIDE_HOURS: lambda: _("outside the page's hours"),
    slots.NOT_A_SLOT_START: lambda: _("not one of the offered times"),
    slots.DURATION_NOT_OFFERED: lambda: _("this length is not offered"),
    slots.DAILY_LIMIT: lambda: _("the day is fully booked"),
    slots.WEEKLY_LIMIT: lambda: _("the week is fully booked"),
    "too soon": lambda: _("it is too soon"),
}


def _alternatives(booker: Booker) -> list[Time]:
    """The other free times of the refused one's day, offered inside the form so the
    visitor keeps what they typed."""
    booker.day = booker.start_day()
    assert booker.day is not None
    booker.month = booker.day.replace(day=1)
    booker.slots = booker.month_slots()
    return booker.day_times()


def _flow(tz: str) -> dict[str, str]:
    """The zone, clock and language every page after the booking keeps."""
    clock = request.values.get("clock")
    state = {"tz": tz, "clock": clock if clock in ("12", "24") else i18n.default_clock()}
    if lang := i18n.chosen():
        state["lang"] = lang
    return state


def _again_url(page: BookingPage, state: dict[str, str], embed: bool = False) -> str:
    extra = {"embed": "1"} if embed else {}
    return url_for("public.booking_page", handle=page.user.handle, slug=page.slug, **state, **extra)


def _calendar_links(booking: Booking, view_token: str):
    draft = visitor_mail.visitor_draft(booking, links())
    return links_for(draft, url_for("public.booking_ics", uid=booking.uid, token=view_token))


@public.route("/b/<token:uid>/confirmed")
def confirmation(uid: str):
    token = request.args.get("token", "")
    booking, _purpose = bookings.by_visitor_token(uid, token, ("view", "manage"))
    i18n.page_default(booking.attendee_locale)
    _embeddable()
    embed = request.args.get("embed") == "1"
    page = booking.page
    state = _flow(
        request.args.get("tz")
        if request.args.get("tz") in iana_zones()
        else booking.attendee_timezone
    )
    return render_template(
        "public/confirmation.html",
        booking=booking,
        page=page,
        owner=_owner(page),
        when=i18n.span(booking.start, booking.end, state["tz"], state["clock"]),
        tz=state["tz"],
        embed=embed,
        calendar_links=_calendar_links(booking, visitor_token(booking, "view")),
        reschedule_url=url_for(
            "public.reschedule_booking",
            uid=uid,
            token=visitor_token(booking, "reschedule"),
            **state,
        ),
        cancel_url=url_for(
            "public.cancel_booking",
            uid=uid,
            token=visitor_token(booking, "cancel"),
            **state,
        ),
        again_url=_again_url(page, state, embed),
    )


@public.route("/b/<token:uid>/event.ics")
def booking_ics(uid: str):
    """The booking for any calendar app, in the visitor's language (a view token)."""
    token = request.args.get("token", "")
    booking, _purpose = bookings.by_visitor_token(uid, token, ("view", "manage"))
    draft = visitor_mail.visitor_draft(booking, links(), cancelled=booking.status not in ACTIVE)
    response = make_response(build_calendar(draft, method="PUBLISH"))
    response.headers["Content-Type"] = "text/calendar; charset=utf-8"
    response.headers["Content-Disposition"] = 'attachment; filename="booking.ics"'
    return response


# --- the visitor's booking: see, cancel, reschedule -------------------------------------

# The endpoint each link's page is at; a "manage" link (older mails) does both.
ENDPOINT = {
    "manage": "public.manage_booking",
    "reschedule": "public.reschedule_booking",
    "cancel": "public.cancel_booking",
}


def _manage_booker(booking: Booking, token: str, purpose: str, values: Any) -> Booker:
    """The reschedule's booker; it opens on the booking's own day."""
    minutes = int((booking.end - booking.start).total_seconds() // 60)
    booker = Booker.read(
        booking.page,
        ENDPOINT[purpose],
        {"uid": booking.uid},
        values,
        zone=booking.attendee_timezone,
        duration=minutes,
        fixed={"token": token},
        detect=(),  # the zone is the one stored with the booking
    )
    if booker.day is None and booker.month is None:
        booker.day = booking.start.astimezone(ZoneInfo(booker.tz)).date()
    return booker


def _movable(booking: Booking, booker: Booker) -> bool:
    """Active, and of a length the page still offers (else no slot list fits it)."""
    return booking.status in ACTIVE and booker.duration in booking.page.durations


def _open(uid: str, purposes: tuple[str, ...]) -> tuple[Booking, str, str]:
    """The booking, the link's token and what it was signed for (BadToken when
    it was signed for none of ``purposes``)."""
    token = request.values.get("token", "")
    booking, purpose = bookings.by_visitor_token(uid, token, purposes)
    i18n.page_default(booking.attendee_locale)
    return booking, token, purpose


def _show_manage(booking: Booking, booker: Booker, purpose: str, status: int = 200, **extra: Any):
    movable = _movable(booking, booker)
    if movable and booker.start is None and purpose != "cancel":
        booker.load()
    token = booker.fixed["token"]
    state = booker.state(month=None, date=None, duration=None)
    return render_page(
        "public/manage.html",
        "public/_manage.html",
        status,
        b=booker,
        booking=booking,
        page=booking.page,
        owner=_owner(booking.page),
        mode=purpose,
        reschedule_token=token if purpose != "cancel" else "",
        cancel_token=token if purpose != "reschedule" else "",
        when=i18n.span(booking.start, booking.end, booker.tz, booker.clock),
        active=booking.status in ACTIVE,
        movable=movable,
        again_url=_again_url(booking.page, state),
        **{"message": None, "others": None, **extra},
    )


@public.route("/b/<token:uid>")
def manage_booking(uid: str):
    booking, token, purpose = _open(uid, ("manage", "reschedule", "cancel"))
    return _show_manage(booking, _manage_booker(booking, token, purpose, request.args), purpose)


@public.route("/b/<token:uid>/cancel", methods=["GET", "POST"])
def cancel_booking(uid: str):
    booking, token, purpose = _open(uid, ("cancel", "manage"))
    booker = _manage_booker(booking, token, purpose, request.values)
    if request.method == "GET":
        return _show_manage(booking, booker, purpose)
    try:
        bookings.cancel(booking, request.form.get("reason", "").strip()[:2000], by="visitor")
    except bookings.BookingError:
        flash(_("Nothing changed: this booking can no longer be cancelled."))
    else:
        flash(_("Your booking is cancelled. We have let them know."))
    return redirect(booker.link(), 303)


@public.route("/b/<token:uid>/reschedule", methods=["GET", "POST"])
def reschedule_booking(uid: str):
    booking, token, purpose = _open(uid, ("reschedule", "manage"))
    booker = _manage_booker(booking, token, purpose, request.values)
    if request.method == "GET":
        return _show_manage(booking, booker, purpose)
    if not _movable(booking, booker):
        return _show_manage(booking, booker, purpose, 409)
    if booker.start is None:
        message = _("Please choose a new time first.")
        return _show_manage(booking, booker, purpose, 400, message=message)
    try:
        throttle_public("book")
        moved = bookings.reschedule(
            booking, booker.start, request.form.get("reason", "").strip()[:2000], by="visitor"
        )
    except ratelimit.RateLimited:
        message = _("Too many attempts. Please wait a minute.")
        return _show_manage(booking, booker, purpose, 429, message=message)
    except bookings.BookingError as exc:
        return _show_manage(
            booking,
            booker,
            purpose,
            exc.status,
            message=_refusal(exc),
            others=_alternatives(booker),
        )
    when = i18n.span(moved.start, moved.end, booker.tz, booker.clock)
    flash(_("Your booking is moved to %(when)s.", when=when))
    return redirect(booker.link(month=None, date=None), 303)


# --- an owner's public profile ----------------------------------------------------------


@public.route("/<handle>")
def profile(handle: str):
    """The owner's active booking pages, when they list them (Profile → public
    profile); otherwise the same 404 as any unknown address."""
    listed = booking_pages.listed_pages(handle)
    if listed is None:
        return render_template("public/unavailable.html", paused=False), 404
    owner, pages = listed
    if pages:
        i18n.page_default(pages[0].language)
    return render_template("public/profile.html", owner=owner, pages=pages)
