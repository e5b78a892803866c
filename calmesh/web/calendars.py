"""Unified calendars in the dashboard: sources in order, a week grid (calmesh.web.week),
a day's availability within the booking pages' hours."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from flask import abort, flash, redirect, request, url_for
from flask_login import current_user, login_required

from calmesh.engine import timefmt
from calmesh.inputs.calendars import NEW_CALENDAR
from calmesh.models import BookingPage, Connection, RemoteCalendar, UnifiedCalendar
from calmesh.schema import SANE_YEARS, Integer, iana_zones
from calmesh.services import calendars as service
from calmesh.services import write_backs
from calmesh.urls import external_url
from calmesh.web import next_step, render, web, week
from calmesh.web.forms import parse_form, slug_from


def _owned(slug: str) -> UnifiedCalendar:
    calendar = service.get_for(current_user, slug)
    if calendar is None:
        abort(404)
    return calendar


@web.route("/calendars", methods=["GET", "POST"])
@login_required
def calendars():
    values, errors, status = {"timezone": current_user.timezone}, {}, 200
    if request.method == "POST":
        proposed = {"slug": slug_from(request.form.get("name", ""))}
        values, errors = parse_form(NEW_CALENDAR, ["slug", "name", "timezone"], proposed)
        if not errors:
            try:
                calendar = service.create(
                    current_user, values["slug"], values["name"], values["timezone"]
                )
            except service.CalendarError as exc:
                errors = {"slug": str(exc)}
            else:
                detail = url_for("web.calendar_detail", slug=calendar.slug)
                next_step(f"Created “{calendar.name}”.", "add its sources", f"{detail}#f-source")
                return redirect(detail)
        status = 400
    rows = UnifiedCalendar.for_user(current_user).order_by(UnifiedCalendar.name)
    return render(
        "calendars/index.html",
        calendars=rows,
        values=values,
        errors=errors,
        zones=sorted(iana_zones()),
    ), status


def _week_start(text: str | None, zone: ZoneInfo) -> date:
    """The first day of the week ``text`` names, weeks starting on the owner's day."""
    return timefmt.week_of(_day(text, zone), current_user.week_start)


def _day(text: str | None, zone: ZoneInfo) -> date:
    """The date ``text`` names, or today for none, a bad one or one beyond
    SANE_YEARS (``?week=9999-12-31`` would overflow the week's arithmetic)."""
    try:
        day = date.fromisoformat(text or "")
    except ValueError:
        return datetime.now(zone).date()
    return day if SANE_YEARS[0] <= day.year <= SANE_YEARS[1] else datetime.now(zone).date()


@web.route("/calendars/<slug:slug>")
@login_required
def calendar_detail(slug: str):
    return _detail(_owned(slug))


def _detail(calendar: UnifiedCalendar, feed_url: str | None = None):
    """The calendar's page; ``feed_url`` only right after the feed was made or rotated."""
    zone = ZoneInfo(calendar.timezone)
    monday = _week_start(request.args.get("week"), zone)
    chosen = _day(request.args.get("day"), zone)
    sources = service.sources(calendar)
    return render(
        "calendars/detail.html",
        calendar=calendar,
        sources=sources,
        **_write_target_context(calendar, sources),
        colour=week.colours(sources),
        week=week.week(calendar, monday, sources, clock=current_user.clock),
        monday=monday,
        day=chosen,
        availability=week.day_availability(calendar, chosen, clock=current_user.clock),
        zone=zone,
        addable=_addable(sources),
        timedelta=timedelta,
        feed_url=feed_url,
    )


# --- where bookings go (the write target), failed write-backs, sources to add ---------


def _write_target_context(calendar: UnifiedCalendar, sources: list) -> dict:
    goes_to = service.bookings_go_to(calendar, sources)
    return {
        "target": goes_to[0] if goes_to else None,
        "goes_to": goes_to[1] if goes_to else None,
        "writable": service.writable_choices(calendar, sources),
        "failed_write_backs": write_backs.failed_write_backs(current_user, calendar.id),
        "failed_poll_write_backs": write_backs.failed_poll_write_backs(current_user, calendar.id),
    }


def _addable(sources: list) -> list[tuple[str, str]]:
    """(value, label) of the sources not yet in the calendar: each connection whole,
    and each of its calendars alone."""
    taken = {(s.connection_id, s.remote_calendar_id) for s in sources}
    remotes = (
        RemoteCalendar.select()
        .join(Connection)
        .where(Connection.user == current_user)
        .order_by(RemoteCalendar.id)
    )
    by_connection: dict[int, list[RemoteCalendar]] = {}
    for remote in remotes:
        by_connection.setdefault(remote.connection_id, []).append(remote)
    choices = []
    for connection in Connection.for_user(current_user).order_by(Connection.name):
        if (connection.id, None) not in taken:
            choices.append((str(connection.id), f"{connection.name} (all calendars)"))
        for remote in by_connection.get(connection.id, []):
            if (connection.id, remote.id) not in taken:
                label = f"{connection.name} · {remote.name or 'calendar'}"
                choices.append((f"{connection.id}:{remote.id}", label))
    return choices


@web.app_template_global()
def bookings_go_to(calendar: UnifiedCalendar) -> RemoteCalendar | None:
    """For templates (booking pages): the calendar this calendar's bookings are written to."""
    found = service.bookings_go_to(calendar)
    return found[1] if found else None


@web.route("/calendars/<slug:slug>/write-target", methods=["POST"])
@login_required
def calendar_write_target(slug: str):
    calendar = _owned(slug)
    choice = request.form.get("write_calendar", "")
    try:
        service.choose_write_calendar(calendar, int(choice) if choice else None)
    except ValueError:
        flash("Choose a calendar for bookings.")
    except service.CalendarError as exc:
        flash(f"Not changed: {exc}.")
    else:
        where = bookings_go_to(calendar)
        flash(f"Bookings go to {where.name or 'the chosen calendar'}." if where else "Saved.")
    return _back(calendar)


def _back(calendar: UnifiedCalendar):
    return redirect(url_for("web.calendar_detail", slug=calendar.slug))


@web.route("/calendars/<slug:slug>/sources", methods=["POST"])
@login_required
def calendar_add_source(slug: str):
    calendar = _owned(slug)
    choice = request.form.get("source", "")
    connection_id, _, remote_id = choice.partition(":")
    try:
        service.add_source(calendar, _id(connection_id), _id(remote_id) if remote_id else None)
        if not BookingPage.for_user(current_user).exists():
            next_step("Source added.", "make a booking page", url_for("web.new_booking_page"))
    except ValueError:
        flash("Choose a connection to add.")
    except service.CalendarError as exc:
        flash(f"Could not add the source: {exc}")
    return _back(calendar)


def _id(text: str) -> int:
    """An id chosen in a form; ValueError for one the database could not hold
    (an overflow on SQLite, an error on PostgreSQL: a 500 before)."""
    number = int(text)
    if not 0 < number <= Integer.LIMIT:
        raise ValueError(f"not an id: {text!r}")
    return number


@web.route("/calendars/<slug:slug>/sources/<int:source_id>/move", methods=["POST"])
@login_required
def calendar_move_source(slug: str, source_id: int):
    calendar = _owned(slug)
    order = [s.id for s in service.sources(calendar)]
    if source_id in order:
        i = order.index(source_id)
        j = i - 1 if request.form.get("direction") == "up" else i + 1
        if 0 <= j < len(order):
            order[i], order[j] = order[j], order[i]
            service.reorder(calendar, order)
    if request.headers.get("HX-Request"):
        sources = service.sources(calendar)
        return render(
            "calendars/_sources.html",
            calendar=calendar,
            sources=sources,
            **_write_target_context(calendar, sources),
            colour=week.colours(sources),
        )
    return _back(calendar)


@web.route("/calendars/<slug:slug>/sources/<int:source_id>/remove", methods=["POST"])
@login_required
def calendar_remove_source(slug: str, source_id: int):
    calendar = _owned(slug)
    service.remove_source(calendar, source_id)
    return _back(calendar)


@web.route("/calendars/<slug:slug>/feed", methods=["POST"])
@login_required
def calendar_feed_settings(slug: str):
    calendar = _owned(slug)
    mode = request.form.get("feed_mode")
    if mode not in {"off", "busy", "full"}:
        abort(400, "choose off, busy or full")
    calendar, token = service.update(
        calendar, feed_mode=mode, rotate_feed=request.form.get("rotate") == "1"
    )
    if token:
        # Rendered, not redirected: only its hash is kept, and the URL must not
        # travel in a flash cookie.
        return _detail(calendar, feed_url=external_url("web.calendar_feed", token=token))
    return _back(calendar)


@web.route("/calendars/<slug:slug>/delete", methods=["POST"])
@login_required
def calendar_delete(slug: str):
    calendar = _owned(slug)
    service.delete(calendar)
    flash(f"Deleted “{calendar.name}”. Its connections stay.")
    return redirect(url_for("web.calendars"))
