"""Visitors' languages: which one a public page speaks, and dates in it.

Public pages (the ``public`` blueprint: booking, manage, confirmation, poll)
and the mails sent to visitors and participants speak the visitor's
language; the owner's dashboard stays English. The language of a request is,
first match wins:

1. ``?lang=`` (the switcher's links; also remembered in a cookie),
2. the ``calmesh_lang`` cookie (the last switch),
3. the browser's ``Accept-Language`` (its region kept for dates and clocks:
   ``en-GB`` reads 24-hour times, ``en-US`` 12-hour),
4. the booking page's or poll's default (``language``; views set it through
   :func:`page_default`), else English.

Catalogues live in ``calmesh/translations/<lang>/LC_MESSAGES/messages.po``;
the compiled ``.mo`` files are committed beside them (``scripts/i18n.sh``
extracts and compiles; a test checks they match), so an editable install,
the Docker image and the single binary all carry them without a build step.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_skeleton
from flask import Flask, g, has_request_context, request, url_for
from flask_babel import Babel, force_locale, get_locale, ngettext
from flask_babel import gettext as _

from calmesh.schema import LANGUAGES

DEFAULT = "en"
COOKIE = "calmesh_lang"
# Endpoints of the public blueprint speak the visitor's language; every other page English.
PUBLIC_BLUEPRINT = "public"

__all__ = ["LANGUAGES", "force_locale", "init_app"]


def init_app(app: Flask) -> None:
    Babel(app, locale_selector=select_locale, default_locale=DEFAULT)
    app.after_request(_remember_choice)
    app.jinja_env.globals.update(
        languages=LANGUAGES,
        current_language=current_language,
        language_url=language_url,
        is_public_page=is_public_page,
    )


def parse(value: str | None) -> Locale | None:
    """A locale CalMesh speaks from ``de``, ``de-AT`` or ``en_GB``, else None."""
    if not value or len(value) > 20:
        return None
    try:
        locale = Locale.parse(value.replace("-", "_"))
    except (ValueError, TypeError, UnknownLocaleError):
        return None
    return locale if locale.language in LANGUAGES else None


def is_public_page() -> bool:
    return has_request_context() and request.blueprint == PUBLIC_BLUEPRINT


def page_default(language: str | None) -> None:
    """The booking page's or poll's language: used when the visitor's browser
    asks for none CalMesh speaks. Call it before anything is translated."""
    g.page_language = language if language in LANGUAGES else None


def chosen() -> str | None:
    """The language the visitor picked with the switcher (this request or before)."""
    for value in (request.args.get("lang"), request.form.get("lang"), request.cookies.get(COOKIE)):
        if value in LANGUAGES:
            return value
    return None


def select_locale() -> str:
    if not is_public_page():
        return DEFAULT
    if picked := chosen():
        return picked
    for value, _quality in request.accept_languages:
        if locale := parse(value):
            return str(locale)
    return g.get("page_language") or DEFAULT


def current_language() -> str:
    """The two-letter language of the page (its ``<html lang>``)."""
    locale = get_locale()
    return locale.language if locale else DEFAULT


def locale_name() -> str:
    """The full locale (``en_GB``): stored with a booking or vote, so mails
    sent later speak it too."""
    locale = get_locale()
    return str(locale) if locale else DEFAULT


def language_url(code: str) -> str:
    """This page in language ``code``: the same path and query, ``lang`` changed."""
    args: dict[str, Any] = request.args.to_dict()
    args["lang"] = code
    return url_for(request.endpoint or "public.booking_page", **(request.view_args or {}), **args)


def _remember_choice(response):
    picked = request.args.get("lang") if has_request_context() else None
    if picked in LANGUAGES and is_public_page() and request.cookies.get(COOKIE) != picked:
        response.set_cookie(COOKIE, picked, max_age=365 * 86400, samesite="Lax", httponly=True)
    return response


# --- dates and times in the page's language ----------------------------------------


def _locale() -> Locale:
    return get_locale() or Locale.parse(DEFAULT)


def default_clock() -> str:
    """ "12" or "24": how the locale writes times (``en`` 12-hour, ``de`` 24-hour)."""
    pattern = _locale().time_formats["short"].pattern
    return "12" if "h" in pattern or "K" in pattern else "24"


def clock_time(moment: datetime, clock: str) -> str:
    """``moment``'s wall time (already in the visitor's zone) on the visitor's clock."""
    return format_skeleton("hm" if clock == "12" else "Hm", moment, locale=_locale())


def long_date(day: date) -> str:
    """'Monday, March 16, 2026', 'Montag, 16. März 2026'."""
    return format_date(day, "full", locale=_locale())


def short_date(day: date) -> str:
    """'Mon, Mar 16, 2026', 'Mo., 16. März 2026'."""
    return format_skeleton("yMMMEd", day, locale=_locale())


def month_title(day: date) -> str:
    """'March 2026', 'März 2026' (the stand-alone month name)."""
    return format_skeleton("yMMMM", day, locale=_locale())


def month_name(day: date) -> str:
    return format_date(day, "LLLL", locale=_locale())


def day_heading(day: date) -> tuple[str, str]:
    """The times column's heading: the weekday, and the day and month ('Mon', '16 Mar')."""
    locale = _locale()
    return format_date(day, "EEE", locale=locale), format_skeleton("MMMd", day, locale=locale)


def weekdays() -> list[tuple[str, str]]:
    """(short, full) weekday names from the locale's first day of the week."""
    locale = _locale()
    first = first_weekday()
    return [
        (
            locale.days["stand-alone"]["abbreviated"][(first + i) % 7],
            locale.days["format"]["wide"][(first + i) % 7],
        )
        for i in range(7)
    ]


def first_weekday() -> int:
    """0 = Monday, as :mod:`calendar` counts."""
    return _locale().first_week_day


def span(start: datetime, end: datetime, tz: str, clock: str | None = None) -> str:
    """'Monday, March 16, 2026, 9:00 AM–9:30 AM' in ``tz``, on ``clock``
    (the locale's own when None)."""
    zone = ZoneInfo(tz)
    local_start, local_end = start.astimezone(zone), end.astimezone(zone)
    clock = clock or default_clock()
    times = f"{clock_time(local_start, clock)}–{clock_time(local_end, clock)}"
    return f"{long_date(local_start.date())}, {times}"


@dataclass(frozen=True)
class OptionHeading:
    """A poll option's date and time as the grid's column heading shows them."""

    weekday: str  # "Tue", "Di."
    day: int
    month: str  # "Mar 2026", "März 2026"
    time: str  # "9:00 AM–10:00 AM", "" for a whole day
    text: str  # all of it on one line


def option_heading(
    day: date | None,
    start: datetime | None,
    end: datetime | None,
    tz: str,
    clock: str | None = None,
) -> OptionHeading:
    """A whole ``day``, or [start, end) in zone ``tz``."""
    locale = _locale()
    if day is None:
        assert start is not None and end is not None
        zone = ZoneInfo(tz)
        local_start, local_end = start.astimezone(zone), end.astimezone(zone)
        clock = clock or default_clock()
        later = (local_end.date() - local_start.date()).days
        time = f"{clock_time(local_start, clock)}–{clock_time(local_end, clock)}"
        if later:
            time += f" (+{later})"
        shown = local_start.date()
    else:
        time, shown = "", day
    text = short_date(shown) + (f", {time}" if time else "")
    return OptionHeading(
        format_date(shown, "EEE", locale=locale),
        shown.day,
        format_skeleton("yMMM", shown, locale=locale),
        time,
        text,
    )


def minutes_label(minutes: int) -> str:
    """'30 min', '1 h', '1 h 30 min' (the same abbreviations in the four languages)."""
    hours, rest = divmod(minutes, 60)
    if not hours:
        return ngettext("%(num)d min", "%(num)d min", minutes)
    if not rest:
        return ngettext("%(num)d h", "%(num)d h", hours)
    return _("%(hours)d h %(minutes)d min", hours=hours, minutes=rest)


# The zone picker's groups: the common zones, and the regions of IANA names.
_REGIONS = {
    "Common": lambda: _("Common"),
    "Other": lambda: _("Other"),
    "Africa": lambda: _("Africa"),
    "America": lambda: _("America"),
    "Antarctica": lambda: _("Antarctica"),
    "Arctic": lambda: _("Arctic"),
    "Asia": lambda: _("Asia"),
    "Atlantic": lambda: _("Atlantic"),
    "Australia": lambda: _("Australia"),
    "Europe": lambda: _("Europe"),
    "Indian": lambda: _("Indian Ocean"),
    "Pacific": lambda: _("Pacific"),
}


def region_name(region: str) -> str:
    """A zone group's heading; country groups of old names ("US", "Brazil") stay as named."""
    name = _REGIONS.get(region)
    return name() if name else region
