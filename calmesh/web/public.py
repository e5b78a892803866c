"""Public pages: a booking page at /{handle}/{slug}, and a visitor's booking.

One "booker" (time zone and clock controls, a month view, the chosen day's
times) serves both the booking page and a visitor's reschedule. Every step is
a plain GET link or form, so the path works without JavaScript; when htmx
asks (``HX-Request``), only the ``#booker`` fragment is rendered. Times are
shown in the visitor's zone, which is also stored as the attendee's.

Only the booking page (with its fragments) and the confirmation may be framed
by another site, and only with ``?embed=1``; the manage page never is.
"""

from __future__ import annotations

import calendar
import secrets
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import cache, lru_cache
from typing import Any
from urllib.parse import quote_plus
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
from markupsafe import Markup, escape

from calmesh.api.booking_pages import BOOK_BODY, slots_payload, throttle_public
from calmesh.api.framework import ApiError
from calmesh.auth import signing
from calmesh.db import utcnow
from calmesh.http import allow_framing
from calmesh.models import ACTIVE, Booking, BookingPage
from calmesh.schema import Invalid, Object, iana_zones
from calmesh.services import booking_pages, bookings
from calmesh.services.bookings import ATTENDEE

public = Blueprint("public", __name__)

# The booking form, declared with the very fields the public book endpoint uses.
BOOK_FORM = Object(
    {
        "name": ATTENDEE.fields["name"],
        "email": ATTENDEE.fields["email"],
        "notes": BOOK_BODY.fields["notes"],
    }
)
TOKEN_PAGES = {"public.manage_booking", "public.confirmation"}


# Offered first in the zone picker, west to east (the visitor's detected zone
# comes before them, in the browser).
COMMON_ZONES = (
    "America/Los_Angeles",
    "America/Denver",
    "America/Chicago",
    "America/New_York",
    "America/Sao_Paulo",
    "UTC",
    "Europe/London",
    "Europe/Paris",
    "Europe/Berlin",
    "Africa/Lagos",
    "Africa/Johannesburg",
    "Asia/Dubai",
    "Asia/Kolkata",
    "Asia/Singapore",
    "Asia/Shanghai",
    "Asia/Tokyo",
    "Australia/Sydney",
    "Pacific/Auckland",
)


@cache
def zones() -> list[str]:
    return sorted(iana_zones())


@cache
def zone_groups() -> tuple[tuple[str, tuple[str, ...]], ...]:
    """Every zone once: the common ones first, then the rest by region ("Europe"),
    zones without a region ("UTC") under "Other". The booker's select lists them so;
    booker.js reads that select once to build its searchable picker."""
    common = tuple(zone for zone in COMMON_ZONES if zone in iana_zones())
    regions: dict[str, list[str]] = {}
    for zone in zones():
        if zone not in common:
            region = zone.split("/", 1)[0] if "/" in zone else "Other"
            regions.setdefault(region, []).append(zone)
    return (("Common", common), *((r, tuple(z)) for r, z in sorted(regions.items())))


@lru_cache(maxsize=64)
def zone_options(selected: str) -> Markup:
    """The select's options, grouped as :func:`zone_groups`, ``selected`` chosen:
    some 600 of them, built once per chosen zone rather than on every page."""
    parts = []
    for region, group in zone_groups():
        parts.append(f'<optgroup label="{escape(region)}">')
        for zone in group:
            chosen = " selected" if zone == selected else ""
            label = escape(zone.replace("_", " "))
            parts.append(f'<option value="{escape(zone)}"{chosen}>{label}</option>')
        parts.append("</optgroup>")
    return Markup("".join(parts))  # noqa: S704 - every value above is escaped


# --- formatting ---------------------------------------------------------------------


def clock_time(moment: datetime, clock: str) -> str:
    if clock == "12":
        return f"{moment.hour % 12 or 12}:{moment:%M}{'am' if moment.hour < 12 else 'pm'}"
    return f"{moment:%H:%M}"


def long_date(day: date) -> str:
    return f"{day:%A}, {day.day} {day:%B} {day.year}"


def span(start: datetime, end: datetime, tz: str, clock: str) -> str:
    """'Monday, 16 March 2026, 09:00–09:30' in ``tz``."""
    zone = ZoneInfo(tz)
    local_start, local_end = start.astimezone(zone), end.astimezone(zone)
    return (
        f"{long_date(local_start.date())}, "
        f"{clock_time(local_start, clock)}–{clock_time(local_end, clock)}"
    )


def minutes_label(minutes: int) -> str:
    hours, rest = divmod(minutes, 60)
    if not hours:
        return f"{minutes} min"
    return f"{hours} h" + (f" {rest} min" if rest else "")


def is_web_url(text: str) -> bool:
    """Only these become links: a location such as ``javascript:...`` stays text."""
    return text.startswith(("https://", "http://")) and " " not in text


# --- the booker's state, read from the query string or the form -----------------------


def _instant(value: str | None) -> datetime | None:
    """A start from a link or form, or None. Far-off years are no slot, and
    would overflow the arithmetic of zones and durations."""
    try:
        start = BOOK_BODY.fields["start"].parse(value, "") if value else None
    except Invalid:
        return None
    if start is None or abs(start - utcnow()) > timedelta(days=3660):
        return None
    return start


def _day(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value and len(value) == 10 else None
    except ValueError:
        return None


def _month(value: str | None) -> date | None:
    return _day(f"{value}-01") if value and len(value) == 7 else None


def _add_month(first: date, months: int = 1) -> date:
    index = first.year * 12 + first.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _midnight(day: date, tz: str) -> datetime:
    return datetime.combine(day, time(), ZoneInfo(tz))


# werkzeug's query encoding (what url_for appends): these stay as they are.
URL_SAFE = "!$'()*,/:;?@"


@lru_cache(maxsize=4096)
def _query_pair(key: str, value: str) -> str:
    """``key=value`` as urlencode (and so url_for) writes it."""
    return f"{quote_plus(key, safe=URL_SAFE)}={quote_plus(value, safe=URL_SAFE)}"


@dataclass(frozen=True)
class Time:
    label: str
    start: str  # UTC ISO 8601, as the links carry it


@dataclass(frozen=True)
class Cell:
    day: date
    label: str  # for screen readers: "Monday, 16 March 2026, 8 times"
    times: int
    selected: bool
    today: bool


@dataclass
class Booker:
    """Who is looking at which month, day and time, in which zone and clock.

    ``link(**changes)`` is the URL of the same view with some of it changed;
    every link keeps the rest (zone, clock, duration, embed, token).
    """

    page: BookingPage
    endpoint: str
    path: dict[str, str]  # the endpoint's path arguments
    fixed: dict[str, str]  # query parameters every link repeats (the manage token)
    tz: str
    duration: int
    clock: str
    month: date | None
    day: date | None
    start: datetime | None
    embed: bool = False
    detect: tuple[str, ...] = ()
    now: datetime = field(default_factory=utcnow)
    slots: dict[date, list[Time]] = field(default_factory=dict)
    _base: str | None = field(default=None, repr=False)

    @classmethod
    def read(
        cls,
        page: BookingPage,
        endpoint: str,
        path: dict[str, str],
        values: Any,
        *,
        zone: str,
        duration: int | None = None,
        fixed: dict[str, str] | None = None,
        detect: tuple[str, ...] = ("tz", "clock"),
    ) -> Booker:
        tz = values.get("tz") if values.get("tz") in iana_zones() else None
        clock = values.get("clock") if values.get("clock") in ("12", "24") else None
        wanted = values.get("duration", "")
        if duration is None:
            duration = int(wanted) if wanted.isdigit() and int(wanted) in page.durations else None
        return cls(
            page=page,
            endpoint=endpoint,
            path=path,
            fixed=fixed or {},
            tz=tz or zone,
            duration=duration or page.durations[0],
            clock=clock or "24",
            month=_month(values.get("month")),
            day=_day(values.get("date")),
            start=_instant(values.get("start")),
            embed=request.args.get("embed") == "1",
            detect=tuple(name for name in detect if not {"tz": tz, "clock": clock}[name]),
        )

    # -- links ----------------------------------------------------------------------
    def state(self, **changes: Any) -> dict[str, str]:
        params: dict[str, Any] = {
            "tz": self.tz,
            "clock": self.clock,
            "duration": self.duration if len(self.page.durations) > 1 else None,
            "month": f"{self.month:%Y-%m}" if self.month else None,
            "date": self.day.isoformat() if self.day else None,
            "start": None,
            "embed": "1" if self.embed else None,
            **changes,
        }
        return {k: str(v) for k, v in params.items() if v not in (None, "")}

    def link(self, **changes: Any) -> str:
        # What url_for(endpoint, **path, **fixed, **state) gives, with the path built
        # once: a month's page has a hundred links.
        items = [*self.fixed.items(), *self.state(**changes).items()]
        if not items:
            return self.base()
        return self.base() + "?" + "&".join(_query_pair(k, v) for k, v in items)

    def base(self) -> str:
        """The URL a GET form submits to; it repeats ``fixed`` and the state as inputs."""
        if self._base is None:
            self._base = url_for(self.endpoint, **self.path)
        return self._base

    def post_url(self) -> str:
        """Where the booking form goes: the page itself, still framable when embedded."""
        return url_for(self.endpoint, **self.path, **({"embed": "1"} if self.embed else {}))

    # -- the month and its times ------------------------------------------------------
    def today(self) -> date:
        return self.now.astimezone(ZoneInfo(self.tz)).date()

    def first_month(self) -> date:
        first = self.today().replace(day=1)
        opens = self.page.window_start
        return max(first, opens.replace(day=1)) if opens else first

    def last_month(self) -> date:
        """The month of the last bookable date (a year ahead for an open window)."""
        today = self.now.astimezone(ZoneInfo(self.page.timezone)).date()
        if self.page.window_end:
            last = self.page.window_end
        elif self.page.window_days:
            last = today + timedelta(days=self.page.window_days)
        else:
            last = today + timedelta(days=366)
        return max(last.replace(day=1), self.first_month())

    def load(self) -> None:
        """Fill ``slots`` for the month (the chosen day's, or the first with times),
        and choose the day: the asked one, else the month's first with times."""
        asked = self.month or (self.day.replace(day=1) if self.day else None)
        self.month = min(max(asked or self.first_month(), self.first_month()), self.last_month())
        self.slots = self.month_slots()
        if asked is None and not self.slots and self.month < self.last_month():
            self.month = _add_month(self.month)  # nothing left this month: show the next
            self.slots = self.month_slots()
        if self.day is None or self.day.replace(day=1) != self.month:
            self.day = min(self.slots) if self.slots else None

    def month_slots(self) -> dict[date, list[Time]]:
        assert self.month is not None
        # From this minute: the answer stands for the minute (see _compute_slots), so
        # every visitor of the minute shares one memo entry.
        start = max(_midnight(self.month, self.tz), self.now.replace(second=0, microsecond=0))
        end = _midnight(_add_month(self.month), self.tz)
        if end <= start:
            return {}
        found = slots_payload(self.page, start, end, self.tz, self.duration)["dates"]
        return {
            date.fromisoformat(day): [
                Time(clock_time(datetime.fromisoformat(s["start_local"]), self.clock), s["start"])
                for s in times
            ]
            for day, times in found.items()
        }

    def weeks(self) -> list[list[Cell | None]]:
        assert self.month is not None
        today = self.today()
        rows = calendar.Calendar().monthdatescalendar(self.month.year, self.month.month)
        return [
            [
                Cell(
                    day=day,
                    label=_cell_label(day, len(self.slots.get(day, []))),
                    times=len(self.slots.get(day, [])),
                    selected=day == self.day,
                    today=day == today,
                )
                if day.month == self.month.month
                else None
                for day in week
            ]
            for week in rows
        ]

    def previous_month(self) -> date | None:
        assert self.month is not None
        return _add_month(self.month, -1) if self.month > self.first_month() else None

    def next_month(self) -> date | None:
        assert self.month is not None
        return _add_month(self.month) if self.month < self.last_month() else None

    def chosen(self) -> str:
        """The chosen start as the visitor reads it."""
        assert self.start is not None
        end = self.start + timedelta(minutes=self.duration)
        return span(self.start, end, self.tz, self.clock)

    def start_day(self) -> date | None:
        return self.start.astimezone(ZoneInfo(self.tz)).date() if self.start else None

    def day_times(self) -> list[Time]:
        return self.slots.get(self.day, []) if self.day else []


def _cell_label(day: date, times: int) -> str:
    if not times:
        return f"{long_date(day)}, no times"
    return f"{long_date(day)}, {times} time{'s' if times != 1 else ''} available"


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
    return render_template("public/link_refused.html", message=str(exc)), 403


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


def _answers(page: BookingPage) -> dict[str, Any]:
    answers: dict[str, Any] = {}
    for question in page.questions:
        key = f"answers.{question['id']}"
        if question["type"] == "checkbox":
            if request.form.get(key):
                answers[question["id"]] = True
        elif value := request.form.get(key, "").strip():
            answers[question["id"]] = value
    return answers


def _book(booker: Booker):
    page, form = booker.page, _blank_form()
    form["values"] = request.form.to_dict()
    try:
        throttle_public("book")
    except ApiError as exc:
        form["message"] = "Too many booking attempts from your network. Please wait a minute."
        return _show_page(booker, form, 429, exc.headers)
    raw = {k: request.form.get(k, "") for k in ("name", "email", "notes")}
    errors: dict[str, str] = {} if booker.start else {"start": "missing"}
    try:
        values = BOOK_FORM.parse({k: v for k, v in raw.items() if v or k != "notes"})
    except Invalid as exc:
        values = {}
        errors.update({d["field"]: d["message"] for d in exc.details})
    answers = _answers(page)
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
    except ApiError:
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
