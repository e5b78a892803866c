"""Booking pages: create and change them (their settings are declared in
:mod:`calmesh.inputs.booking_pages`), and their slots."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from typing import Any

import peewee as pw
from peewee import fn

from calmesh.db import utcnow, write_transaction
from calmesh.engine.hours import working_hours
from calmesh.engine.intervals import Interval, clip, merge
from calmesh.engine.slots import Slot, SlotRules, check_slot, generate_slots
from calmesh.inputs.booking_pages import (  # noqa: F401 - the declarations, by their service too
    DAYS,
    DEFAULT_WEEKLY,
    NEW_PAGE,
    PAGE_PATCH,
    QUESTION_TYPES,
    SETTINGS,
)
from calmesh.models import ACTIVE, Booking, BookingPage, UnifiedCalendar, User, Webhook
from calmesh.prepared import prepared
from calmesh.schema import Invalid, iso
from calmesh.services.calendars import blocked_timeline, busy_key
from calmesh.services.errors import ServiceError
from calmesh.urls import Links

DEFAULTS = {
    "description": "",
    "duration": None,
    "durations": None,
    "weekly_hours": DEFAULT_WEEKLY,
    "date_overrides": [],
    "slot_interval": None,
    "buffer_before": 0,
    "buffer_after": 0,
    "min_notice": 240,
    "window_days": 60,
    "window_start": None,
    "window_end": None,
    "daily_limit": None,
    "weekly_limit": None,
    "requires_confirmation": False,
    "location": "",
    "questions": [],
    "active": True,
    "language": "en",
    "ask_notes": True,
}


class PageError(ServiceError):
    """A booking page setting that cannot be saved."""


def get_for(user: User, slug: str) -> BookingPage | None:
    return _owned_page.first(user.id, slug)


def public_page(handle: str, slug: str) -> BookingPage | None:
    """An active page by its public address, /{handle}/{slug}, with its owner and
    calendar (one query)."""
    return _public_page.first(handle, slug)


def paused_page(handle: str, slug: str) -> BookingPage | None:
    """A page that exists at /{handle}/{slug} but is switched off."""
    return (
        BookingPage.select(BookingPage, User)
        .join(User)
        .where((User.handle == handle) & (BookingPage.slug == slug) & ~BookingPage.active)
        .first()
    )


def listed_pages(handle: str) -> tuple[User, list[BookingPage]] | None:
    """The owner and their active pages for the public profile /{handle}, or None
    when there is no such owner or they keep their profile private."""
    owner = User.get_or_none((User.handle == handle) & User.public_profile)
    if owner is None:
        return None
    pages = BookingPage.for_user(owner).where(BookingPage.active).order_by(BookingPage.title)
    return owner, list(pages)


def public_pages_with(slug: str, limit: int = 20) -> list[BookingPage]:
    """Active pages of any owner with this slug (slugs are unique per owner only),
    each with its owner and calendar."""
    return _pages_with.all(slug, limit)


def _with_owner_and_calendar() -> pw.ModelSelect:
    """Pages with their owner, their calendar and ``owner_has_webhooks`` (whether
    the owner has an active webhook: a booking then skips the webhook lookup)."""
    hooks = Webhook.select(Webhook.id).where((Webhook.user == BookingPage.user) & Webhook.active)
    return (
        BookingPage.select(
            BookingPage, User, UnifiedCalendar, fn.EXISTS(hooks).alias("owner_has_webhooks")
        )
        .join(User)
        .switch(BookingPage)
        .join(UnifiedCalendar)
    )


# The request path's lookups, their SQL generated once (see calmesh.prepared).
@prepared
def _owned_page(user_id, slug):
    return (
        _with_owner_and_calendar()
        .where((BookingPage.user == user_id) & (BookingPage.slug == slug))
        .limit(1)
    )


@prepared
def _public_page(handle, slug):
    return (
        _with_owner_and_calendar()
        .where((User.handle == handle) & (BookingPage.slug == slug) & BookingPage.active)
        .limit(1)
    )


@prepared
def _pages_with(slug, limit):
    return (
        _with_owner_and_calendar()
        .where((BookingPage.slug == slug) & BookingPage.active)
        .order_by(User.handle)
        .limit(limit)
    )


def _columns(user: User, data: dict[str, Any]) -> dict[str, Any]:
    """Settings from the API's shape to the model's columns, with the checks
    that span several fields."""
    out = dict(data)
    if "calendar" in out:
        calendar = UnifiedCalendar.get_or_none(
            (UnifiedCalendar.user == user) & (UnifiedCalendar.slug == out["calendar"])
        )
        if calendar is None:
            raise PageError("no unified calendar with that slug", field="calendar")
        out["calendar"] = calendar
    duration, durations = out.pop("duration", None), out.pop("durations", None)
    if durations is not None or duration is not None:
        merged = list(durations or [])
        if duration is not None:
            merged = [duration] + [d for d in merged if d != duration]
        out["durations"] = list(dict.fromkeys(merged))
    if "weekly_hours" in out:
        out["weekly_hours"] = {
            str(i): _ranges(out["weekly_hours"][day], day, "weekly_hours")
            for i, day in enumerate(DAYS)
        }
    if "date_overrides" in out:
        out["date_overrides"] = {
            o["date"].isoformat(): _ranges(o["hours"], o["date"].isoformat(), "date_overrides")
            for o in out["date_overrides"]
        }
    if "questions" in out:
        ids = [q["id"] for q in out["questions"]]
        if len(ids) != len(set(ids)):
            raise PageError("question ids must be unique", field="questions")
        for q in out["questions"]:
            if q["type"] == "select" and not q["options"]:
                raise PageError(f"question {q['id']!r}: a select needs options", field="questions")
    return out


def _ranges(ranges: list[list[str]], where: str, field: str) -> list[list[str]]:
    for start, end in ranges:
        if end != "24:00" and end <= start:
            raise PageError(f"{where}: {start}-{end} ends before it starts", field=field)
    return sorted(ranges)


def create(user: User, data: dict[str, Any]) -> BookingPage:
    # A page without a zone of its own keeps its owner's hours (the REST
    # declaration asks for one; other callers may leave it out).
    values = {**DEFAULTS, "timezone": user.timezone, **data}
    if values.get("duration") is None and values.get("durations") is None:
        values["duration"] = 30
    columns = _columns(user, values)
    _check_window(columns)
    try:
        with write_transaction():
            return BookingPage.create(user=user, **columns)
    except pw.IntegrityError:
        raise PageError(
            f"you already have a booking page with the slug {data['slug']!r}",
            409,
            "conflict",
            "slug",
        ) from None


def update(page: BookingPage, data: dict[str, Any]) -> BookingPage:
    """Change settings; on refusal the caller's ``page`` is left as it was."""
    page = BookingPage.get_by_id(page.id)
    for key, value in _columns(page.user, data).items():
        setattr(page, key, value)
    _check_window(page.__data__)
    try:
        with write_transaction():
            page.save()
    except pw.IntegrityError:
        raise PageError(
            f"you already have a booking page with the slug {page.slug!r}",
            409,
            "conflict",
            "slug",
        ) from None
    return page


def _check_window(values: dict[str, Any]) -> None:
    start, end = values.get("window_start"), values.get("window_end")
    if (start is None) != (end is None):
        raise PageError("window_start and window_end go together", field="window_start")
    if start and end and end < start:
        raise PageError("window_end is before window_start", field="window_end")


def delete(page: BookingPage) -> None:
    page.delete_instance(recursive=True)


def page_data(page: BookingPage, links: Links) -> dict[str, Any]:
    """A page's settings in the shape they are given in (the REST answer, the
    dashboard's editor), with its public link and embed snippets."""
    url = links.booking_page(page.user.handle, page.slug)
    return {
        "id": page.id,
        "slug": page.slug,
        "url": url,
        "embed_snippet": embed_snippet(page, "inline", links),
        "embed_popup_snippet": embed_snippet(page, "popup", links),
        "title": page.title,
        "description": page.description,
        "calendar": page.calendar.slug,
        "timezone": page.timezone,
        "durations": page.durations,
        "weekly_hours": {day: page.weekly_hours.get(str(i), []) for i, day in enumerate(DAYS)},
        "date_overrides": [{"date": d, "hours": h} for d, h in sorted(page.date_overrides.items())],
        "slot_interval": page.slot_interval,
        "buffer_before": page.buffer_before,
        "buffer_after": page.buffer_after,
        "min_notice": page.min_notice,
        "window_days": page.window_days,
        "window_start": page.window_start.isoformat() if page.window_start else None,
        "window_end": page.window_end.isoformat() if page.window_end else None,
        "daily_limit": page.daily_limit,
        "weekly_limit": page.weekly_limit,
        "requires_confirmation": page.requires_confirmation,
        "location": page.location,
        "questions": page.questions,
        "active": page.active,
        "language": page.language,
        "ask_notes": page.ask_notes,
        "created_at": iso(page.created_at),
    }


def embed_snippet(page: BookingPage, mode: str, links: Links) -> str:
    """The seed's embed markup: the script from the instance's root, /embed.js."""
    script = links.embed_script()
    colour = ' data-color="#f97316"' if mode == "popup" else ""
    return (
        f'<div data-calmesh-handle="{page.user.handle}" data-calmesh-slug="{page.slug}" '
        f'data-mode="{mode}"{colour}></div>\n<script src="{script}" defer></script>'
    )


# --- slots ---------------------------------------------------------------------------


def rules_for(page: BookingPage) -> SlotRules:
    return SlotRules(
        timezone=page.timezone,
        weekly_hours={
            int(day): [tuple(r) for r in ranges] for day, ranges in page.weekly_hours.items()
        },
        date_overrides={
            date.fromisoformat(d): [tuple(r) for r in ranges]
            for d, ranges in page.date_overrides.items()
        },
        durations=tuple(page.durations),
        slot_interval=page.slot_interval,
        buffer_before=page.buffer_before,
        buffer_after=page.buffer_after,
        min_notice=page.min_notice,
        window_days=page.window_days,
        window_start=page.window_start,
        window_end=page.window_end,
        daily_limit=page.daily_limit,
        weekly_limit=page.weekly_limit,
    )


def _context(
    page: BookingPage,
    start: datetime,
    end: datetime,
    exclude_uid: str | None = None,
    key: tuple | None = None,
):
    """Busy time (the calendar's shared Timeline) and the owner's bookings around
    [start, end), for the engine; ``key`` is calendars.busy_key's when known.

    Limits count whole local days and weeks, so with a daily or weekly limit
    bookings are read a week either side; without, only those that can block a
    slot here (the window widened by the buffers and the longest duration).
    """
    if page.daily_limit or page.weekly_limit:
        margin = timedelta(days=8)
    else:
        margin = timedelta(minutes=page.buffer_before + page.buffer_after + 1 + max(page.durations))
    bookings = [
        Interval(start_at, end_at)
        for start_at, end_at, uid in _bookings_near.cursor(
            page.user_id, start - margin, end + margin
        )
        if uid != exclude_uid
    ]
    return blocked_timeline(page.calendar, key), bookings


@prepared
def _bookings_near(user_id, after, before):
    """(start, end, uid) of the owner's pending and accepted bookings in [after, before)."""
    return (
        Booking.select(Booking.start, Booking.end, Booking.uid)
        .where(
            (Booking.user == user_id)
            & Booking.status.in_(ACTIVE)
            & (Booking.start < before)
            & (Booking.end > after)
        )
        .tuples()
    )


def duration_for(page: BookingPage, duration: int | None) -> int:
    if duration is None:
        return page.durations[0]
    if duration not in page.durations:
        offered = ", ".join(str(d) for d in page.durations)
        raise PageError(
            f"duration must be one of {offered} minutes", 400, "validation_error", "duration"
        )
    return duration


def slots(
    page: BookingPage,
    start: datetime,
    end: datetime,
    duration: int | None = None,
    now: datetime | None = None,
    key: tuple | None = None,
) -> list[Slot]:
    """The free slots; ``key`` is calendars.busy_key's when the caller has it."""
    minutes = duration_for(page, duration)
    busy, bookings = _context(page, start, end, key=key)
    return generate_slots(
        rules_for(page),
        duration=minutes,
        range_start=start,
        range_end=end,
        busy=busy,
        bookings=bookings,
        now=now or utcnow(),
    )


def inputs_key(
    page: BookingPage, start: datetime, end: datetime, minutes: int, now: datetime
) -> tuple:
    """Everything ``slots`` depends on, cheaply: the page's settings, the version
    stamps of its calendar's busy time (the owner's bookings included: how many, and
    the newest change), the range, and the minute of ``now``. Equal keys, equal slots."""
    settings = json.dumps(
        {k: v for k, v in page.__data__.items() if k != "created_at"}, default=str, sort_keys=True
    )
    return (
        settings,
        busy_key(page.calendar),
        start,
        end,
        minutes,
        now.replace(second=0, microsecond=0),
    )


def why_not_bookable(
    page: BookingPage,
    start: datetime,
    duration: int,
    exclude_uid: str | None = None,
    now: datetime | None = None,
) -> str | None:
    """None when ``start`` is bookable now, else the reason (the engine's words)."""
    end = start + timedelta(minutes=duration)
    busy, bookings = _context(page, start, end, exclude_uid)
    return check_slot(
        rules_for(page),
        start=start,
        duration=duration,
        busy=busy,
        bookings=bookings,
        now=now or utcnow(),
    )


def check_answers(page: BookingPage, answers: dict[str, Any]) -> dict[str, Any]:
    """The visitor's answers against the page's questions: required ones present,
    selects within their options, nothing unknown. Raises Invalid."""
    problems, clean = [], {}
    questions = {q["id"]: q for q in page.questions}
    for key in answers:
        if key not in questions:
            problems.append(
                {"field": f"answers.{key}", "message": "is not a question of this page"}
            )
    for qid, q in questions.items():
        value = answers.get(qid)
        if isinstance(value, str):
            value = value.strip()
        path = f"answers.{qid}"
        if value in (None, "", False):
            if q["required"]:
                problems.append({"field": path, "message": f"“{q['label']}” needs an answer"})
            continue
        if q["type"] == "checkbox":
            if not isinstance(value, bool):
                problems.append({"field": path, "message": "must be true or false"})
                continue
        elif not isinstance(value, str) or len(value) > (5000 if q["type"] == "long_text" else 500):
            problems.append({"field": path, "message": "must be text (at most 5000 characters)"})
            continue
        elif q["type"] == "select" and value not in q["options"]:
            problems.append({"field": path, "message": "must be one of the offered options"})
            continue
        elif q["type"] == "phone" and not _phone_ok(value):
            problems.append({"field": path, "message": "must be a phone number"})
            continue
        clean[qid] = value.strip() if isinstance(value, str) else value
    if problems:
        raise Invalid(problems)
    return clean


def _phone_ok(value: str) -> bool:
    digits = [c for c in value if c.isdigit()]
    return 5 <= len(digits) <= 20 and all(c.isdigit() or c in " +-()./" for c in value.strip())


def hours_on(calendar: UnifiedCalendar, start: datetime, end: datetime) -> list[Interval]:
    """The working hours in [start, end) of the calendar's active booking pages, merged:
    the part of a day the calendar page shows as bookable (each page in its own zone,
    its date overrides included)."""
    window, laid_out = Interval(start, end), []
    for page in _active_on(calendar):
        rules = rules_for(page)
        first, last = start.date() - timedelta(days=1), end.date() + timedelta(days=1)
        laid_out += working_hours(
            rules.weekly_hours, page.timezone, first, last, rules.date_overrides
        )
    return clip(merge(laid_out), window)


def _active_on(calendar: UnifiedCalendar) -> pw.ModelSelect:
    return BookingPage.select().where((BookingPage.calendar == calendar) & BookingPage.active)


def has_active_pages(calendar: UnifiedCalendar) -> bool:
    return _active_on(calendar).exists()
