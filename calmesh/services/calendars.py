"""Unified calendars: sources in order, merged events, availability, conflicts,
write-back, and the private iCal feed.

Everything on the request path reads stored occurrences; only writing an
event talks to a provider.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import peewee as pw

from calmesh.auth.apikeys import hash_key
from calmesh.config import Config
from calmesh.db import db, write_transaction
from calmesh.engine.availability import (
    Availability,
    BusyEvent,
    blocking_intervals,
    event_span,
    free_time,
    is_blocking,
)
from calmesh.engine.conflicts import Conflict, find_conflicts
from calmesh.engine.ical import EventDraft, build_calendar
from calmesh.engine.intervals import Interval, Timeline, merge, near
from calmesh.engine.recurrence import expand
from calmesh.models import (
    ACTIVE,
    Booking,
    BookingPage,
    CalendarObject,
    CalendarSource,
    Connection,
    Occurrence,
    RemoteCalendar,
    UnifiedCalendar,
    User,
)
from calmesh.providers.base import ProviderError
from calmesh.services.errors import ServiceError
from calmesh.services.memo import Memo
from calmesh.services.sync import bump, horizon, insert_occurrences, occurrence_rows, provider_for

BOOKING_UID_DOMAIN = "@booking.calmesh"  # see effects.drafts.booking_uid


class CalendarError(ServiceError):
    """A calendar request that cannot be done."""


# --- the calendar itself -----------------------------------------------------------


def get_for(user: User, slug: str) -> UnifiedCalendar | None:
    return UnifiedCalendar.get_or_none(
        (UnifiedCalendar.user == user) & (UnifiedCalendar.slug == slug)
    )


def create(
    user: User, slug: str, name: str, timezone: str, tentative_busy: bool = True
) -> UnifiedCalendar:
    try:
        with write_transaction():
            return UnifiedCalendar.create(
                user=user, slug=slug, name=name, timezone=timezone, tentative_busy=tentative_busy
            )
    except pw.IntegrityError:
        raise CalendarError(
            f"you already have a calendar with the slug {slug!r}", 409, "conflict"
        ) from None


def update(calendar: UnifiedCalendar, **fields) -> tuple[UnifiedCalendar, str | None]:
    """Change what is given. Returns the calendar and, when the feed was just
    turned on or rotated, its new token: only its hash is kept, so this is the
    one time the feed's URL can be shown."""
    feed_mode = fields.pop("feed_mode", None)
    if "write_calendar_id" in fields:
        choose_write_calendar(calendar, fields.pop("write_calendar_id"), save=False)
    token = None
    if (fields.pop("rotate_feed", False) and calendar.feed_token_hash) or (
        feed_mode in ("busy", "full") and not calendar.feed_token_hash
    ):
        token = secrets.token_urlsafe(24)
        calendar.feed_token_hash = hash_key(token)
    if feed_mode == "off":
        calendar.feed_token_hash, token = None, None
    elif feed_mode in ("busy", "full"):
        calendar.feed_mode = feed_mode
    for key, value in fields.items():
        if value is not None:
            setattr(calendar, key, value)
    try:
        with write_transaction():
            calendar.save()
    except pw.IntegrityError:
        raise CalendarError(
            f"you already have a calendar with the slug {calendar.slug!r}", 409, "conflict"
        ) from None
    return calendar, token


def delete(calendar: UnifiedCalendar) -> None:
    calendar.delete_instance(recursive=True)


# --- sources -------------------------------------------------------------------------


def sources(calendar: UnifiedCalendar) -> list[CalendarSource]:
    return list(
        CalendarSource.select(CalendarSource, Connection)
        .join(Connection)
        .where(CalendarSource.calendar == calendar)
        .order_by(CalendarSource.sort_order, CalendarSource.id)
    )


def add_source(
    calendar: UnifiedCalendar, connection_id: int, remote_calendar_id: int | None = None
) -> CalendarSource:
    connection = Connection.get_or_none(
        (Connection.id == connection_id) & (Connection.user == calendar.user_id)
    )
    if connection is None:
        raise CalendarError("no such connection", 404, "not_found")
    remote = None
    if remote_calendar_id is not None:
        remote = RemoteCalendar.get_or_none(
            (RemoteCalendar.id == remote_calendar_id) & (RemoteCalendar.connection == connection)
        )
        if remote is None:
            raise CalendarError("that connection has no such calendar", 404, "not_found")
    for source in sources(calendar):
        if source.connection_id == connection.id and source.remote_calendar_id == (
            remote.id if remote else None
        ):
            raise CalendarError("this source is already in the calendar", 409, "conflict")
    with write_transaction():
        last = (
            CalendarSource.select(pw.fn.MAX(CalendarSource.sort_order))
            .where(CalendarSource.calendar == calendar)
            .scalar()
        )
        return CalendarSource.create(
            calendar=calendar,
            connection=connection,
            remote_calendar=remote,
            sort_order=0 if last is None else last + 1,
        )


def reorder(calendar: UnifiedCalendar, source_ids: list[int]) -> list[CalendarSource]:
    current = sources(calendar)
    if sorted(source_ids) != sorted(s.id for s in current):
        raise CalendarError("source_ids must list every source of the calendar exactly once")
    with write_transaction():
        for order, source_id in enumerate(source_ids):
            CalendarSource.update(sort_order=order).where(CalendarSource.id == source_id).execute()
    return sources(calendar)


def remove_source(calendar: UnifiedCalendar, source_id: int) -> bool:
    with write_transaction():
        removed = (
            CalendarSource.delete()
            .where((CalendarSource.id == source_id) & (CalendarSource.calendar == calendar))
            .execute()
        )
        # Keep the orders dense, so the first source is always order 0.
        for order, source in enumerate(sources(calendar)):
            if source.sort_order != order:
                CalendarSource.update(sort_order=order).where(
                    CalendarSource.id == source.id
                ).execute()
    return bool(removed)


_SOURCE_ROWS_SQL = """
SELECT rc.id, rc.version, cs.id
FROM calendar_source cs
JOIN remote_calendar rc
  ON rc.id = cs.remote_calendar_id
  OR (cs.remote_calendar_id IS NULL AND rc.connection_id = cs.connection_id)
WHERE cs.calendar_id = {p} AND rc.enabled
ORDER BY cs.sort_order, cs.id, rc.id
"""


def _source_rows(calendar: UnifiedCalendar) -> list[tuple[int, int, int]]:
    """(remote calendar id, its version, source id) of every enabled calendar the
    sources bring, in source order: one query, on every availability request
    (also the busy cache's key), so written once as plain SQL."""
    sql = _SOURCE_ROWS_SQL.format(p=db.param)
    return [tuple(row) for row in db.execute_sql(sql, (calendar.id,)).fetchall()]


def remote_calendars(calendar: UnifiedCalendar) -> dict[int, CalendarSource]:
    """Enabled remote calendar id -> the source that brings it (first source wins)."""
    by_id = {s.id: s for s in sources(calendar)}
    mapping: dict[int, CalendarSource] = {}
    for remote_id, _version, source_id in _source_rows(calendar):
        mapping.setdefault(remote_id, by_id[source_id])
    return mapping


# --- reading: events, availability, conflicts --------------------------------------------


@dataclass(frozen=True)
class Event:
    """A stored occurrence as the merged view shows it, or (``occurrence`` None) one
    of the calendar's bookings that is not in a source yet. ``booking_uid`` names the
    booking either way."""

    occurrence: Occurrence | None
    source: CalendarSource | None
    busy_event: BusyEvent
    booking_uid: str | None = None
    booking: Booking | None = None


def events(calendar: UnifiedCalendar, start: datetime, end: datetime) -> list[Event]:
    """Merged occurrences of every source that touch [start, end), in order."""
    mapping = remote_calendars(calendar)
    if not mapping:
        return []
    window = Interval(start, end)
    found = []
    for occ in Occurrence.between(list(mapping), start, end).order_by(
        Occurrence.start, Occurrence.id
    ):
        busy = BusyEvent(
            start=occ.start,
            end=occ.end,
            all_day=occ.all_day,
            start_date=occ.start_date,
            end_date=occ.end_date,
            busy=occ.busy,
            status=occ.status,
            source_id=mapping[occ.calendar_id].id,
            summary=occ.summary,
            uid=occ.uid,
        )
        span = event_span(busy, calendar.timezone)
        if span is None:
            # A zero-length event shows if it sits inside the window.
            if not (start <= occ.start < end):
                continue
        elif not span.overlaps(window):
            continue
        found.append(Event(occ, mapping[occ.calendar_id], busy))
    own = own_booking_events(calendar.user_id, {e.busy_event.uid for e in found})
    return [
        Event(e.occurrence, e.source, e.busy_event, e.busy_event.uid[: -len(BOOKING_UID_DOMAIN)])
        if e.busy_event.uid in own
        else e
        for e in found
    ]


BOOKINGS_SOURCE = "bookings"  # the source_id of bookings not written to a source yet


def with_bookings(
    calendar: UnifiedCalendar, found: list[Event], start: datetime, end: datetime
) -> list[Event]:
    """``found`` plus the calendar's pending and accepted bookings that no source holds
    yet (pending ones, or accepted ones before the write-back ran), each once: a booking
    already written back is its event in ``found``, matched by the event's UID."""
    seen = {e.booking_uid for e in found if e.booking_uid}
    extra = [
        Event(
            None,
            None,
            BusyEvent(
                start=b.start,
                end=b.end,
                status="confirmed",  # pending bookings hold their time too
                source_id=BOOKINGS_SOURCE,
                summary=f"{b.page.title}: {b.attendee_name}",
                uid=b.uid + BOOKING_UID_DOMAIN,
            ),
            b.uid,
            b,
        )
        for b in bookings_on(calendar, start, end)
        if b.uid not in seen
    ]
    return sorted([*found, *extra], key=lambda e: e.busy_event.start)


# Per worker process, two layers. _SPANS: the blocked time of a calendar's stored
# occurrences, keyed by the zone, the tentative rule and each source calendar with
# its version (any sync, write or source change in any process changes the key),
# merged once into a sorted list that every page on the calendar shares; events
# CalMesh wrote for bookings (their UID ends in BOOKING_UID_DOMAIN) kept apart.
# _BLOCKED: only when there are such events, the merge without the owner's own
# (keyed by the owner's booking stamp as well). A booking made, moved or cancelled
# then costs one merge at most, never a re-read of every occurrence.
_SPANS = Memo(size=64)
_BLOCKED = Memo(size=64)


@dataclass(frozen=True)
class _Spans:
    merged: list[Interval]  # every blocking occurrence but the written bookings'
    written: tuple[tuple[str, Interval], ...]  # (event UID, span) of those
    timeline: Timeline  # ``merged`` as sorted arrays, for the slot engine's bisections


def busy_key(calendar: UnifiedCalendar) -> tuple:
    """Everything the calendar's blocked time depends on (two small queries): its zone
    and tentative rule, each source calendar with its version, and the owner's
    bookings (how many, the newest change), whose written events it leaves out."""
    return (*_spans_key(calendar), booking_stamp(calendar.user_id))


def _spans_key(calendar: UnifiedCalendar) -> tuple:
    rows = _source_rows(calendar)
    return (
        calendar.id,
        calendar.timezone,
        calendar.tentative_busy,
        tuple((r, v) for r, v, _ in rows),
    )


def booking_stamp(user_id: int) -> tuple[str, str]:
    """(count, newest change) of an owner's bookings: changes when any is made,
    changed or deleted."""
    count, newest = db.execute_sql(_BOOKING_STAMP_SQL.format(p=db.param), (user_id,)).fetchone()
    return str(count), str(newest)


_BOOKING_STAMP_SQL = "SELECT COUNT(id), MAX(updated_at) FROM booking WHERE user_id = {p}"


def blocked_time(calendar: UnifiedCalendar, key: tuple | None = None) -> list[Interval]:
    """Merged time that blocks bookings, from the stored occurrences of every source,
    without the events CalMesh wrote for the owner's own bookings (those count
    through their booking rows: see :func:`busy_time`). ``key`` is
    :func:`busy_key`'s, when the caller has it already."""
    return _blocked(calendar, key).merged


def blocked_timeline(calendar: UnifiedCalendar, key: tuple | None = None) -> Timeline:
    """:func:`blocked_time` as the engine's Timeline, built once per version of the
    calendar's busy time and shared by every page on it (and every request of this
    worker)."""
    return _blocked(calendar, key).timeline


def _blocked(calendar: UnifiedCalendar, key: tuple | None) -> _Spans:
    spans_key = key[:4] if key else _spans_key(calendar)
    spans = _SPANS.get(spans_key, lambda: _read_spans(calendar, [r for r, _ in spans_key[3]]))
    if not spans.written:
        return spans
    full = key or (*spans_key, booking_stamp(calendar.user_id))

    def without_own() -> _Spans:
        own = own_booking_events(calendar.user_id, {uid for uid, _ in spans.written})
        merged = merge([*spans.merged, *(span for uid, span in spans.written if uid not in own)])
        return _Spans(merged, (), Timeline(merged))

    return _BLOCKED.get(full, without_own)


def _read_spans(calendar: UnifiedCalendar, remote_ids: list[int]) -> _Spans:
    remote_ids = list(dict.fromkeys(remote_ids))
    rows = []
    if remote_ids:
        rows = list(
            Occurrence.select(
                Occurrence.start,
                Occurrence.end,
                Occurrence.all_day,
                Occurrence.start_date,
                Occurrence.end_date,
                Occurrence.status,
                Occurrence.uid,
            )
            .where(
                Occurrence.calendar.in_(remote_ids)
                & Occurrence.busy
                & (Occurrence.status != "cancelled")
            )
            .tuples()
        )
    foreign, written = [], []
    zone = calendar.timezone
    for s, e, a, sd, ed, st, uid in rows:
        event = BusyEvent(start=s, end=e, all_day=a, start_date=sd, end_date=ed, status=st)
        if uid.endswith(BOOKING_UID_DOMAIN):
            if is_blocking(event, tentative_busy=calendar.tentative_busy):
                span = event_span(event, zone)
                if span is not None:
                    written.append((uid, span))
        else:
            foreign.append(event)
    merged = blocking_intervals(foreign, zone, calendar.tentative_busy)
    return _Spans(merged, tuple(written), Timeline(merged))


def own_booking_events(user_id: int, uids: set[str]) -> set[str]:
    """Those of ``uids`` that are the written events of the owner's bookings (any
    state), matched by the event UID: such an event is the booking itself, never a
    second busy block, and a moved booking is not blocked by its old self. Events of
    other CalMesh instances (same UID domain, unknown booking) still count."""
    candidates = {u[: -len(BOOKING_UID_DOMAIN)] for u in uids if u.endswith(BOOKING_UID_DOMAIN)}
    if not candidates:
        return set()
    found = Booking.select(Booking.uid).where(
        (Booking.user == user_id) & Booking.uid.in_(list(candidates))
    )
    return {uid + BOOKING_UID_DOMAIN for (uid,) in found.tuples()}


def bookings_on(calendar: UnifiedCalendar, start: datetime, end: datetime) -> pw.ModelSelect:
    """The owner's pending and accepted bookings in [start, end) that belong to this
    calendar: made on one of its booking pages, or written to one of its sources."""
    remote_ids = [r for r, _, _ in _source_rows(calendar)]
    here = BookingPage.calendar == calendar.id
    if remote_ids:
        here |= Booking.remote_calendar.in_(remote_ids)
    return (
        Booking.select(Booking, BookingPage)
        .join(BookingPage)
        .where(
            (Booking.user == calendar.user_id)
            & Booking.status.in_(ACTIVE)
            & (Booking.start < end)
            & (Booking.end > start)
            & here
        )
        .order_by(Booking.start, Booking.id)
    )


def busy_time(
    calendar: UnifiedCalendar, start: datetime, end: datetime, key: tuple | None = None
) -> list[Interval]:
    """What makes the owner busy around [start, end): the sources' events and the
    calendar's own bookings, each once."""
    window = Interval(start, end)
    held = [Interval(b.start, b.end) for b in bookings_on(calendar, start, end)]
    return merge([*near(blocked_time(calendar, key), window), *held])


def availability_of(
    calendar: UnifiedCalendar,
    start: datetime,
    end: datetime,
    min_duration: timedelta | None = None,
    key: tuple | None = None,
) -> Availability:
    """Busy and free time in [start, end): events of every source and the calendar's
    bookings (pending and accepted), each counted once."""
    return free_time(
        busy_time(calendar, start, end, key), Interval(start, end), min_duration=min_duration
    )


def conflicts_among(calendar: UnifiedCalendar, found: list[Event]) -> list[Conflict]:
    """Overlapping busy events of different sources; each Conflict holds the
    very BusyEvent objects of ``found``, so callers can map them back."""
    return find_conflicts(
        [e.busy_event for e in found], calendar.timezone, tentative_busy=calendar.tentative_busy
    )


# --- writing events to a provider ----------------------------------------------------------


def _writable_of(source: CalendarSource) -> pw.ModelSelect:
    """The enabled writable calendars ``source`` brings (none for an iCal URL)."""
    query = RemoteCalendar.select().where(
        (RemoteCalendar.connection == source.connection_id)
        & RemoteCalendar.writable
        & RemoteCalendar.enabled
    )
    if source.remote_calendar_id is not None:
        query = query.where(RemoteCalendar.id == source.remote_calendar_id)
    return query.order_by(RemoteCalendar.id)


def writable_calendar(source: CalendarSource) -> RemoteCalendar | None:
    """The remote calendar that writes through ``source`` go to, or None when the
    source is read-only (an iCal URL, or no enabled writable calendar)."""
    if source.connection.provider == "ics":
        return None
    return _writable_of(source).first()


def writable_choices(
    calendar: UnifiedCalendar, all_sources: list[CalendarSource] | None = None
) -> list[tuple[CalendarSource, RemoteCalendar]]:
    """Every calendar bookings could be written to, in source order, each with the
    source that brings it: the enabled writable calendars of the writable
    sources (never an iCal URL, never a read-only calendar), each once."""
    choices, seen = [], set()
    for source in sources(calendar) if all_sources is None else all_sources:
        if source.connection.provider == "ics":
            continue
        for remote in _writable_of(source):
            if remote.id not in seen:
                seen.add(remote.id)
                choices.append((source, remote))
    return choices


def bookings_go_to(
    calendar: UnifiedCalendar, all_sources: list[CalendarSource] | None = None
) -> tuple[CalendarSource, RemoteCalendar] | None:
    """Where the calendar's bookings are written: the owner's choice while it is
    still one of :func:`writable_choices`, else the first of them; None when
    the calendar has nothing writable."""
    choices = writable_choices(calendar, all_sources)
    chosen = next((c for c in choices if c[1].id == calendar.write_calendar_id), None)
    return chosen or (choices[0] if choices else None)


def choose_write_calendar(
    calendar: UnifiedCalendar, remote_calendar_id: int | None, save: bool = True
) -> UnifiedCalendar:
    """Make ``remote_calendar_id`` where bookings go (None: the first writable one).
    Refused for a calendar that is not a writable one of this calendar's sources."""
    if remote_calendar_id is not None and remote_calendar_id not in {
        remote.id for _, remote in writable_choices(calendar)
    }:
        raise CalendarError(
            "bookings can only go to a writable calendar of this calendar's sources "
            "(not an iCal URL or a read-only calendar)",
            422,
            "not_writable",
        )
    calendar.write_calendar = remote_calendar_id
    if save:
        with write_transaction():
            calendar.save(only=[UnifiedCalendar.write_calendar])
    return calendar


def default_write_target(
    calendar: UnifiedCalendar, all_sources: list[CalendarSource] | None = None
) -> CalendarSource | None:
    """The source bookings are written through (see :func:`bookings_go_to`):
    read-only sources are skipped, wherever they are ordered, so reordering
    never makes writing fail."""
    target = bookings_go_to(calendar, all_sources)
    return target[0] if target else None


def write_target(
    calendar: UnifiedCalendar, source_id: int | None = None
) -> tuple[CalendarSource, RemoteCalendar]:
    """The source to write to (a chosen one, or where bookings go) and its
    writable remote calendar."""
    all_sources = sources(calendar)
    if not all_sources:
        raise CalendarError("the calendar has no sources to write to; add one first")
    if source_id is None:
        target = bookings_go_to(calendar, all_sources)
        if target is None:
            raise CalendarError(
                "the calendar has only read-only sources (iCal URLs or read-only calendars); "
                "add a CalDAV, iCloud, Google or Microsoft calendar to write to"
            )
        return target
    source = next((s for s in all_sources if s.id == source_id), None)
    if source is None:
        raise CalendarError("no such source in this calendar", 404, "not_found")
    if source.connection.provider == "ics":
        raise CalendarError(
            f"source {source.id} ({source.connection.name}) is an iCal URL, which is read-only; "
            "choose a CalDAV, iCloud, Google or Microsoft source"
        )
    remote = writable_calendar(source)
    if remote is None:
        raise CalendarError(
            f"source {source.id} ({source.connection.name}) has no writable calendar"
        )
    return source, remote


def _provider(source: CalendarSource, settings: Config):
    return provider_for(source.connection, settings)


def store_written(
    remote: RemoteCalendar, href: str, draft: EventDraft, default_tz: str, settings: Config
) -> CalendarObject:
    """Cache what we just wrote, so it counts at once; the next sync replaces it."""
    ical = build_calendar(draft)
    with write_transaction():
        obj = CalendarObject.get_or_none(
            (CalendarObject.calendar == remote) & (CalendarObject.href == href)
        )
        if obj is None:
            obj = CalendarObject.create(calendar=remote, href=href, uid=draft.uid, ical=ical)
        else:
            CalendarObject.update(ical=ical, uid=draft.uid, etag="").where(
                CalendarObject.id == obj.id
            ).execute()
            Occurrence.delete().where(Occurrence.object == obj.id).execute()
        window = horizon(settings)
        insert_occurrences(
            occurrence_rows(
                obj.id, remote.id, expand(ical, window[0], window[1], default_tz=default_tz)
            )
        )
        bump(remote.id)
    return obj


def forget_written(remote: RemoteCalendar, href: str) -> None:
    """Drop an event we deleted at the provider from the cache, at once."""
    with write_transaction():
        for obj in CalendarObject.select().where(
            (CalendarObject.calendar == remote) & (CalendarObject.href == href)
        ):
            obj.delete_instance(recursive=True)
        bump(remote.id)


def create_event(
    calendar: UnifiedCalendar, draft: EventDraft, settings: Config, source_id: int | None = None
) -> CalendarObject:
    source, remote = write_target(calendar, source_id)
    try:
        href = _provider(source, settings).create_event(remote.remote_id, draft)
    except ProviderError as exc:
        raise CalendarError(
            f"{source.connection.name} refused the event: {exc}", 502, "provider_error"
        ) from None
    return store_written(remote, href, draft, calendar.timezone, settings)


def delete_event(
    calendar: UnifiedCalendar, uid: str, settings: Config, source_id: int | None = None
) -> int:
    """Delete the event ``uid`` (all its occurrences) at its provider and here."""
    mapping = remote_calendars(calendar)
    query = CalendarObject.select().where(
        CalendarObject.uid == uid, CalendarObject.calendar.in_(list(mapping) or [0])
    )
    if source_id is not None:
        query = query.where(
            CalendarObject.calendar.in_(
                [rc for rc, s in mapping.items() if s.id == source_id] or [0]
            )
        )
    objects = list(query)
    if not objects:
        raise CalendarError("no event with that uid in this calendar", 404, "not_found")
    for obj in objects:
        source = mapping[obj.calendar_id]
        if source.connection.provider == "ics":
            raise CalendarError(f"{source.connection.name} is an iCal URL, which is read-only")
        remote = RemoteCalendar.get_by_id(obj.calendar_id)
        try:
            _provider(source, settings).delete_event(remote.remote_id, obj.href)
        except ProviderError as exc:
            raise CalendarError(
                f"{source.connection.name} refused: {exc}", 502, "provider_error"
            ) from None
        obj.delete_instance(recursive=True)
        bump(obj.calendar_id)
    return len(objects)


def by_feed_token(token: str) -> UnifiedCalendar | None:
    if not token or len(token) > 64:
        return None
    digest = hash_key(token)
    calendar = UnifiedCalendar.get_or_none(UnifiedCalendar.feed_token_hash == digest)
    if calendar is None or not hmac.compare_digest(calendar.feed_token_hash, digest):
        return None
    return calendar
