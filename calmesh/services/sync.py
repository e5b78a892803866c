"""Syncing a connection: ask its provider what changed, store it, expand it.

One sync at a time per connection, across processes and hosts: a sync first
claims the connection's lease with a conditional UPDATE. A failing provider
marks its connection ``error`` (retried with back-off) or ``auth_required``,
keeps the last good events, and never touches other connections.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import icalendar

from calmesh import claims
from calmesh.auth import crypto
from calmesh.config import Config
from calmesh.db import utcnow, write_transaction
from calmesh.engine.recurrence import Budget, CalendarDataError, expand, parse_calendar
from calmesh.engine.recurrence import Occurrence as Occ
from calmesh.models import CalendarObject, CalendarSource, Connection, Occurrence, RemoteCalendar
from calmesh.models.connections import new_version
from calmesh.providers import base, net, registry
from calmesh.providers.base import (
    ChangeSet,
    ConnectionInfo,
    HttpSettings,
    ProviderError,
    RemoteObject,
)
from calmesh.services import events

log = logging.getLogger("calmesh.sync")

LEASE = timedelta(minutes=10)
RELIST_AFTER = timedelta(hours=6)
RETRY_BASE_SECONDS = 60
# Providers that expand recurring events themselves only return instances inside
# the window we asked for; once the horizon moved this far past it, ask again in full.
WINDOW_SLACK = timedelta(days=7)
CHUNK = 500


@dataclass
class SyncReport:
    connection_id: int
    status: str  # ok | error | auth_required | busy
    message: str = ""
    calendars: int = 0
    changed: int = 0
    deleted: int = 0
    occurrences: int = 0
    requests: int = 0
    unreadable: list[str] = field(default_factory=list)


# --- building providers ----------------------------------------------------------


def interval_for(kind: str, settings: Config) -> int:
    return settings[registry.INTEGRATIONS[kind].interval_key]


def http_settings(settings: Config, timeout: float | None = None) -> HttpSettings:
    return HttpSettings(
        timeout=timeout or settings["sync.timeout_seconds"],
        max_bytes=settings["sync.max_feed_bytes"],
        allow_private=settings["security.allow_private_addresses"],
    )


def provider_settings(kind: str, settings: Config) -> dict:
    """The keys of the integration's config section (``google.*``) as a plain
    dict; empty for one without a section."""
    section = registry.INTEGRATIONS[kind].settings_section
    if not section:
        return {}
    config = settings.as_dict()
    prefix = f"{section}."
    return {k[len(prefix) :]: v for k, v in config.items() if k.startswith(prefix)}


def save_credentials(connection_id: int, credentials: dict) -> None:
    # Its own short transaction: a rotated refresh token must survive even if
    # the sync that refreshed it fails later.
    with write_transaction():
        Connection.update(credentials=crypto.encrypt(credentials)).where(
            Connection.id == connection_id
        ).execute()


def provider_for(
    connection: Connection, settings: Config, timeout: float | None = None
) -> base.Provider:
    credentials = crypto.decrypt(connection.credentials)
    # A secret query (an iCal URL's ?token=...) is stored with the credentials.
    endpoint = net.with_query(connection.endpoint, credentials.pop("query", None))
    info = ConnectionInfo(
        kind=connection.provider,
        endpoint=endpoint,
        credentials=credentials,
        http=http_settings(settings, timeout),
        settings=provider_settings(connection.provider, settings),
        on_credentials=lambda creds: save_credentials(connection.id, creds),
    )
    return registry.build(info)


def horizon(settings: Config, now: datetime | None = None) -> tuple[datetime, datetime]:
    now = now or utcnow()
    start = (now - timedelta(days=settings["sync.horizon_past_days"])).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    end = (now + timedelta(days=settings["sync.horizon_future_days"] + 1)).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    return start, end


# --- the lease ---------------------------------------------------------------------


def claim(connection_id: int, ttl: timedelta = LEASE) -> bool:
    return claims.claim(Connection, Connection.id == connection_id, ttl, status="syncing") == 1


def release(connection_id: int, **fields) -> None:
    Connection.update(leased_until=None, lease_holder="", **fields).where(
        (Connection.id == connection_id) & claims.mine(Connection)
    ).execute()


def backoff_seconds(failures: int, cap: int) -> int:
    return claims.backoff_seconds(failures, cap, RETRY_BASE_SECONDS)


# --- storing what a provider returned --------------------------------------------------


def upsert_calendars(
    connection: Connection, remote: Iterable[base.RemoteCalendarInfo]
) -> list[RemoteCalendar]:
    """Mirror the provider's calendar list; a calendar gone remotely is dropped with its events."""
    remote = list(remote)
    existing = {
        c.remote_id: c
        for c in RemoteCalendar.select().where(RemoteCalendar.connection == connection)
    }
    rows = []
    with write_transaction():
        for info in remote:
            row = existing.pop(info.remote_id, None) or RemoteCalendar(
                connection=connection, remote_id=info.remote_id
            )
            row.name, row.color, row.writable = info.name or row.name, info.color, info.writable
            row.timezone = info.timezone or row.timezone
            row.save()
            rows.append(row)
        for gone in existing.values():
            # A unified calendar's source that named this calendar goes with it
            # (peewee's recursive delete would only null the nullable key).
            CalendarSource.delete().where(CalendarSource.remote_calendar == gone).execute()
            gone.delete_instance(recursive=True)
    return rows


@dataclass
class _Expanded:
    """One changed object, read once: its UID, occurrences and what a cap cut."""

    obj: RemoteObject
    uid: str
    occurrences: list[Occ]
    fault: str = ""


def _read(
    obj: RemoteObject, window: tuple[datetime, datetime], default_tz: str, budget: Budget
) -> _Expanded:
    """Parse and expand ``obj`` once. Raises CalendarDataError."""
    if obj.occurrences is not None:
        occurrences = list(obj.occurrences)
        uid = occurrences[0].uid if occurrences else obj.href
        return _Expanded(obj, uid[:1000], occurrences)
    calendar = parse_calendar(obj.ical or "")
    occurrences, fault = _expand(calendar, window, default_tz, budget)
    return _Expanded(obj, _uid(obj, calendar, occurrences), occurrences, fault)


def _expand(
    ical: str | icalendar.Calendar,
    window: tuple[datetime, datetime],
    default_tz: str,
    budget: Budget,
) -> tuple[list[Occ], str]:
    before = len(budget.faults)
    occurrences = expand(ical, window[0], window[1], default_tz=default_tz, budget=budget)
    return occurrences, "; ".join(budget.faults[before:])[:2000]


def expansion_budget(calendar: RemoteCalendar, settings: Config) -> Budget:
    """The caps for expanding ``calendar``, less the recurring instances it keeps."""
    stored = (
        Occurrence.select()
        .where((Occurrence.calendar == calendar) & Occurrence.recurrence_id.is_null(False))
        .count()
    )
    return Budget(
        per_series=settings["sync.max_instances_per_series"],
        per_calendar=settings["sync.max_instances_per_calendar"],
        instances=stored,
    )


def _forget_occurrences(object_ids: list[int], budget: Budget) -> None:
    """Delete objects' occurrences before they are expanded again."""
    for i in range(0, len(object_ids), CHUNK):
        ids = object_ids[i : i + CHUNK]
        budget.give_back(
            Occurrence.delete()
            .where(Occurrence.object.in_(ids) & Occurrence.recurrence_id.is_null(False))
            .execute()
        )
        Occurrence.delete().where(Occurrence.object.in_(ids)).execute()


def cut_summary(connection_id: int) -> str:
    """What the expansion caps cut in a connection's calendars, as stored per object."""
    cut = (
        CalendarObject.select(CalendarObject.fault)
        .join(RemoteCalendar)
        .where((RemoteCalendar.connection == connection_id) & (CalendarObject.fault != ""))
    )
    count = cut.count()
    if not count:
        return ""
    return (
        f"{count} event(s) repeat beyond the limits (sync.max_instances_per_series, "
        f"sync.max_instances_per_calendar) and were cut; first: {cut.first().fault}"
    )


def occurrence_rows(object_id: int, calendar_id: int, occurrences: list[Occ]) -> list[dict]:
    return [
        {
            "object": object_id,
            "calendar": calendar_id,
            "uid": o.uid[:1000],
            "recurrence_id": o.recurrence_id,
            "start": o.start,
            "end": o.end,
            "all_day": o.all_day,
            "start_date": o.start_date,
            "end_date": o.end_date,
            "busy": o.busy,
            "status": o.status,
            "summary": o.summary[:1000],
            "location": o.location[:1000],
        }
        for o in occurrences
    ]


def _delete_objects(calendar: RemoteCalendar, hrefs: Iterable[str]) -> int:
    hrefs = list(hrefs)
    count = 0
    for i in range(0, len(hrefs), CHUNK):
        ids = [
            o.id
            for o in CalendarObject.select(CalendarObject.id).where(
                (CalendarObject.calendar == calendar)
                & CalendarObject.href.in_(hrefs[i : i + CHUNK])
            )
        ]
        if ids:
            Occurrence.delete().where(Occurrence.object.in_(ids)).execute()
            count += CalendarObject.delete().where(CalendarObject.id.in_(ids)).execute()
    return count


def apply_changes(
    calendar: RemoteCalendar,
    changes: ChangeSet,
    window: tuple[datetime, datetime],
    default_tz: str,
    settings: Config,
) -> SyncReport:
    """Store one calendar's changes atomically: objects, their occurrences, the token.

    Each object is parsed and expanded once; new objects and every occurrence
    are written with multi-row INSERTs of ``CHUNK`` rows.
    """
    report = SyncReport(calendar.connection_id, "ok", requests=changes.requests)
    with write_transaction():
        stored = {
            o.href: o
            for o in CalendarObject.select(
                CalendarObject.id, CalendarObject.href, CalendarObject.etag
            ).where(CalendarObject.calendar == calendar)
        }
        gone = set(changes.deleted)
        if changes.full:
            gone |= set(stored) - {o.href for o in changes.changed}
        report.deleted = _delete_objects(calendar, gone & set(stored))
        fresh = _fresh(changes, stored)
        budget = expansion_budget(calendar, settings)
        _forget_occurrences([stored[o.href].id for o in fresh if o.href in stored], budget)
        read = [_read_or_note(obj, window, default_tz, budget, report) for obj in fresh]
        ids = _store_objects(calendar, read, stored)
        report.changed = len(read)
        report.occurrences = insert_occurrences(
            row
            for one in read
            for row in occurrence_rows(ids[one.obj.href], calendar.id, one.occurrences)
        )
        fields = {
            "sync_token": changes.token,
            "synced_at": utcnow(),
            "window_end": window[1]
            if changes.full or calendar.window_end is None
            else calendar.window_end,
        }
        if report.changed or report.deleted:
            fields["version"] = new_version()  # only a real change invalidates cached busy time
        RemoteCalendar.update(**fields).where(RemoteCalendar.id == calendar.id).execute()
    return report


def _fresh(changes: ChangeSet, stored: dict[str, CalendarObject]) -> list[RemoteObject]:
    """The changed objects to store: a full resync re-sends everything, and unchanged
    objects keep their rows."""
    return [
        obj
        for obj in changes.changed
        if not (
            changes.full and obj.href in stored and obj.etag and stored[obj.href].etag == obj.etag
        )
    ]


def _read_or_note(
    obj: RemoteObject,
    window: tuple[datetime, datetime],
    default_tz: str,
    budget: Budget,
    report: SyncReport,
) -> _Expanded:
    """The object parsed and expanded; one that cannot be read is stored without
    occurrences and named in ``report``."""
    try:
        return _read(obj, window, default_tz, budget)
    except CalendarDataError as exc:
        report.unreadable.append(f"{obj.href}: {exc}")
        return _Expanded(obj, _uid(obj, None, []), [])


def _store_objects(
    calendar: RemoteCalendar, read: list[_Expanded], stored: dict[str, CalendarObject]
) -> dict[str, int]:
    """Update the known objects, insert the new ones in bulk; their ids by href."""
    ids = {}
    new = []
    for one in read:
        known = stored.get(one.obj.href)
        if known is None:
            new.append(one)
            continue
        CalendarObject.update(
            etag=one.obj.etag, uid=one.uid, ical=one.obj.ical, fault=one.fault
        ).where(CalendarObject.id == known.id).execute()
        ids[one.obj.href] = known.id
    for i in range(0, len(new), CHUNK):
        batch = new[i : i + CHUNK]
        CalendarObject.insert_many(
            {
                "calendar": calendar.id,
                "href": one.obj.href,
                "etag": one.obj.etag,
                "uid": one.uid,
                "ical": one.obj.ical,
                "fault": one.fault,
            }
            for one in batch
        ).execute()
        ids.update(
            (o.href, o.id)
            for o in CalendarObject.select(CalendarObject.id, CalendarObject.href).where(
                (CalendarObject.calendar == calendar)
                & CalendarObject.href.in_([one.obj.href for one in batch])
            )
        )
    return ids


def _uid(obj: RemoteObject, parsed: icalendar.Calendar | None, occurrences: list[Occ]) -> str:
    """The object's UID, also when none of its occurrences is inside the horizon
    yet (it must stay findable by UID once the horizon reaches it)."""
    if occurrences:
        return occurrences[0].uid[:1000]
    for event in parsed.walk("VEVENT") if parsed is not None else ():
        if event.get("UID"):
            return str(event["UID"])[:1000]
    return obj.href[:1000]


def insert_occurrences(rows: Iterable[dict]) -> int:
    """Insert occurrence rows with multi-row INSERTs of ``CHUNK`` rows; returns how many."""
    count = 0
    rows = iter(rows)
    while batch := list(itertools.islice(rows, CHUNK)):
        Occurrence.insert_many(batch).execute()
        count += len(batch)
    return count


def reexpand(
    calendar: RemoteCalendar,
    window: tuple[datetime, datetime],
    default_tz: str,
    settings: Config,
) -> int:
    """Expand the stored iCalendar objects anew over ``window`` (the horizon moved)."""
    count = 0
    with write_transaction():
        Occurrence.delete().where(
            (Occurrence.calendar == calendar)
            & Occurrence.object.in_(
                CalendarObject.select(CalendarObject.id).where(
                    (CalendarObject.calendar == calendar) & CalendarObject.ical.is_null(False)
                )
            )
        ).execute()
        budget = expansion_budget(calendar, settings)
        pending: list[dict] = []
        for obj in CalendarObject.select().where(
            (CalendarObject.calendar == calendar) & CalendarObject.ical.is_null(False)
        ):
            try:
                occurrences, fault = _expand(obj.ical, window, default_tz, budget)
            except CalendarDataError:
                continue
            if fault != obj.fault:
                CalendarObject.update(fault=fault).where(CalendarObject.id == obj.id).execute()
            pending.extend(occurrence_rows(obj.id, calendar.id, occurrences))
            if len(pending) >= CHUNK:
                count += insert_occurrences(pending)
                pending = []
        count += insert_occurrences(pending)
        bump(calendar.id)
    return count


def bump(remote_calendar_id: int) -> None:
    """Say that a calendar's stored occurrences changed (see RemoteCalendar.version)."""
    RemoteCalendar.update(version=new_version()).where(
        RemoteCalendar.id == remote_calendar_id
    ).execute()


# --- one sync ---------------------------------------------------------------------------


def sync_connection(
    connection_id: int,
    settings: Config,
    progress: Callable[[str], None] | None = None,
    claimed: bool = False,
) -> SyncReport:
    """Sync one connection now, unless another process is syncing it
    (``claimed``: the caller holds its lease already)."""
    say = progress or (lambda _msg: None)
    if not claimed and not claim(connection_id):
        return SyncReport(connection_id, "busy", "another sync of this connection is running")
    connection = Connection.get_by_id(connection_id)
    total = SyncReport(connection_id, "ok")
    try:
        provider = provider_for(connection, settings)
        calendars = _calendars_of(connection, provider, say)
        total.calendars = len(calendars)
        window = horizon(settings)
        for calendar in calendars:
            if not calendar.enabled:
                continue
            say(f"syncing {calendar.name or calendar.remote_id}")
            report = _sync_calendar(connection, calendar, provider, window, settings)
            for name in ("changed", "deleted", "occurrences", "requests"):
                setattr(total, name, getattr(total, name) + getattr(report, name))
            total.unreadable += report.unreadable
            say(
                f"  {report.changed} changed, {report.deleted} deleted, "
                f"{report.occurrences} occurrences"
            )
    except crypto.CredentialsUnreadable as exc:
        # A fault of this host's key, not of the credentials: another host (or this
        # one, once its key is fixed) can sync it, so it is retried, never parked.
        return _failed(
            connection,
            total,
            f"this host cannot read the stored credentials: {exc}",
            "error",
            settings,
        )
    except ProviderError as exc:
        status = "auth_required" if exc.permanent else "error"
        return _failed(connection, total, str(exc), status, settings)
    except Exception as exc:  # a bug or an unexpected answer: record it, never crash the scheduler
        log.exception("sync of connection %s failed", connection_id)
        message = f"unexpected error: {type(exc).__name__}"
        return _failed(connection, total, message, "error", settings)
    return _succeeded(connection, total, settings)


def _calendars_of(
    connection: Connection, provider: base.Provider, say: Callable[[str], None]
) -> list[RemoteCalendar]:
    """The connection's calendars, listed again at the provider when they are due."""
    calendars = list(RemoteCalendar.select().where(RemoteCalendar.connection == connection))
    listed = connection.calendars_listed_at
    if not calendars or listed is None or utcnow() - listed > RELIST_AFTER:
        say("listing calendars")
        calendars = upsert_calendars(connection, provider.list_calendars())
        Connection.update(calendars_listed_at=utcnow()).where(
            Connection.id == connection.id
        ).execute()
    return calendars


def _sync_calendar(
    connection: Connection,
    calendar: RemoteCalendar,
    provider: base.Provider,
    window: tuple[datetime, datetime],
    settings: Config,
) -> SyncReport:
    """Fetch and store one calendar's changes (all of it when the window moved on)."""
    token = calendar.sync_token
    if calendar.window_end is not None and window[1] - calendar.window_end > WINDOW_SLACK:
        token = None
    info = base.RemoteCalendarInfo(
        calendar.remote_id,
        calendar.name,
        calendar.color,
        calendar.writable,
        calendar.timezone,
    )
    changes = provider.changes(info, token, window)
    return apply_changes(
        calendar, changes, window, calendar.timezone or connection.user.timezone, settings
    )


def _succeeded(connection: Connection, total: SyncReport, settings: Config) -> SyncReport:
    connection_id = connection.id
    message = ""
    if total.unreadable:
        message = (
            f"{len(total.unreadable)} event(s) could not be read; first: {total.unreadable[0]}"
        )
    # The rest of the calendar is stored; the cut stays visible while it is.
    message = "; ".join(part for part in (message, cut_summary(connection_id)) if part)
    release(
        connection_id,
        status="ok",
        last_sync_at=utcnow(),
        last_error=message[:2000],
        failures=0,
        next_sync_at=utcnow() + timedelta(seconds=interval_for(connection.provider, settings)),
    )
    total.message = message
    return total


def _failed(
    connection: Connection, report: SyncReport, message: str, status: str, settings: Config
) -> SyncReport:
    failures = connection.failures + 1
    cap = settings["sync.max_backoff_seconds"]
    # auth_required waits for the owner; errors retry with exponential back-off.
    next_at = (
        None
        if status == "auth_required"
        else utcnow() + timedelta(seconds=backoff_seconds(failures, cap))
    )
    with write_transaction():
        release(
            connection.id,
            status=status,
            last_error=message[:2000],
            failures=failures,
            next_sync_at=next_at,
        )
        # Once when the connection turns failing, not on every retry of an outage;
        # auth_required is only ever retried after the owner acted, so always said.
        if connection.failures == 0 or status == "auth_required":
            events.emit(
                connection.user_id,
                "connection.error",
                {
                    "id": connection.id,
                    "name": connection.name,
                    "provider": connection.provider,
                    "status": status,
                    "error": message[:2000],
                    "failures": failures,
                },
                subject=f"connection:{connection.id}",
            )
    log.warning("connection %s: %s", connection.id, message)
    report.status, report.message = status, message
    return report


def due_connections(limit: int = 20, exclude: Iterable[int] = ()) -> list[int]:
    now = utcnow()
    exclude = list(exclude)
    query = (
        Connection.select(Connection.id)
        .where(
            (Connection.status != "auth_required")
            & (Connection.next_sync_at.is_null(False))
            & (Connection.next_sync_at <= now)
            & (Connection.leased_until.is_null() | (Connection.leased_until < now))
        )
        .order_by(Connection.next_sync_at)
        .limit(limit)
    )
    if exclude:
        query = query.where(Connection.id.not_in(exclude))
    return [c.id for c in query]
