"""Syncing a connection: ask its provider what changed, store it, expand it.

One sync at a time per connection, across processes and hosts: a sync first
claims the connection's lease with a conditional UPDATE. A failing provider
marks its connection ``error`` (retried with back-off) or ``auth_required``,
keeps the last good events, and never touches other connections.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app

from calmesh import claims
from calmesh.auth import crypto
from calmesh.db import utcnow, write_transaction
from calmesh.engine.recurrence import Budget, CalendarDataError, expand, parse_calendar
from calmesh.engine.recurrence import Occurrence as Occ
from calmesh.models import CalendarObject, CalendarSource, Connection, Occurrence, RemoteCalendar
from calmesh.models.connections import new_version
from calmesh.providers import base, net
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


def interval_for(kind: str) -> int:
    settings = current_app.config["CALMESH"]
    return settings["sync.interval_caldav" if kind == "icloud" else f"sync.interval_{kind}"]


def http_settings(timeout: float | None = None) -> HttpSettings:
    settings = current_app.config["CALMESH"]
    return HttpSettings(
        timeout=timeout or settings["sync.timeout_seconds"],
        max_bytes=settings["sync.max_feed_bytes"],
        allow_private=settings["security.allow_private_addresses"],
    )


def provider_settings(kind: str) -> dict:
    """The ``google.*`` or ``microsoft.*`` keys as a plain dict (empty for others)."""
    config = current_app.config["CALMESH"].as_dict()
    prefix = f"{kind}."
    return {k[len(prefix) :]: v for k, v in config.items() if k.startswith(prefix)}


def save_credentials(connection_id: int, credentials: dict) -> None:
    # Its own short transaction: a rotated refresh token must survive even if
    # the sync that refreshed it fails later.
    with write_transaction():
        Connection.update(credentials=crypto.encrypt(credentials)).where(
            Connection.id == connection_id
        ).execute()


def provider_for(connection: Connection, timeout: float | None = None) -> base.Provider:
    credentials = crypto.decrypt(connection.credentials)
    # A secret query (an iCal URL's ?token=...) is stored with the credentials.
    endpoint = net.with_query(connection.endpoint, credentials.pop("query", None))
    info = ConnectionInfo(
        kind=connection.provider,
        endpoint=endpoint,
        credentials=credentials,
        http=http_settings(timeout),
        settings=provider_settings(connection.provider),
        on_credentials=lambda creds: save_credentials(connection.id, creds),
    )
    return base.build(info)


def horizon(now: datetime | None = None) -> tuple[datetime, datetime]:
    settings = current_app.config["CALMESH"]
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


def backoff_seconds(failures: int) -> int:
    cap = current_app.config["CALMESH"]["sync.max_backoff_seconds"]
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


def _occurrences(
    obj: RemoteObject, window: tuple[datetime, datetime], default_tz: str, budget: Budget
) -> tuple[list[Occ], str]:
    """An object's occurrences and why a cap cut them ("" when none did)."""
    if obj.occurrences is not None:
        return list(obj.occurrences), ""
    return _expand(obj.ical or "", window, default_tz, budget)


def _expand(
    ical: str, window: tuple[datetime, datetime], default_tz: str, budget: Budget
) -> tuple[list[Occ], str]:
    before = len(budget.faults)
    occurrences = expand(ical, window[0], window[1], default_tz=default_tz, budget=budget)
    return occurrences, "; ".join(budget.faults[before:])[:2000]


def expansion_budget(calendar: RemoteCalendar) -> Budget:
    """The caps for expanding ``calendar``, less the recurring instances it keeps."""
    settings = current_app.config["CALMESH"]
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


def _forget_occurrences(object_id: int, budget: Budget) -> None:
    """Delete an object's occurrences before it is expanded again."""
    budget.give_back(
        Occurrence.delete()
        .where((Occurrence.object == object_id) & Occurrence.recurrence_id.is_null(False))
        .execute()
    )
    Occurrence.delete().where(Occurrence.object == object_id).execute()


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
    calendar: RemoteCalendar, changes: ChangeSet, window: tuple[datetime, datetime], default_tz: str
) -> SyncReport:
    """Store one calendar's changes atomically: objects, their occurrences, the token."""
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
        budget = expansion_budget(calendar)
        pending: list[dict] = []
        for obj in changes.changed:
            known = stored.get(obj.href)
            # A full resync re-sends everything: unchanged objects keep their rows.
            if changes.full and known is not None and obj.etag and known.etag == obj.etag:
                continue
            if known is not None:
                _forget_occurrences(known.id, budget)
            fault = ""
            try:
                occurrences, fault = _occurrences(obj, window, default_tz, budget)
            except CalendarDataError as exc:
                report.unreadable.append(f"{obj.href}: {exc}")
                occurrences = []
            if known is None:
                known = CalendarObject.create(
                    calendar=calendar,
                    href=obj.href,
                    etag=obj.etag,
                    uid=_uid(obj, occurrences),
                    ical=obj.ical,
                    fault=fault,
                )
            else:
                CalendarObject.update(
                    etag=obj.etag, uid=_uid(obj, occurrences), ical=obj.ical, fault=fault
                ).where(CalendarObject.id == known.id).execute()
            pending.extend(occurrence_rows(known.id, calendar.id, occurrences))
            report.changed += 1
            if len(pending) >= CHUNK:
                report.occurrences += insert_occurrences(pending)
                pending = []
        report.occurrences += insert_occurrences(pending)
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


def _uid(obj: RemoteObject, occurrences: list[Occ]) -> str:
    """The object's UID, also when none of its occurrences is inside the horizon
    yet (it must stay findable by UID once the horizon reaches it)."""
    if occurrences:
        return occurrences[0].uid[:1000]
    if obj.ical:
        try:
            for event in parse_calendar(obj.ical).walk("VEVENT"):
                if event.get("UID"):
                    return str(event["UID"])[:1000]
        except CalendarDataError:
            pass
    return obj.href[:1000]


def insert_occurrences(rows: list[dict]) -> int:
    for i in range(0, len(rows), 100):
        Occurrence.insert_many(rows[i : i + 100]).execute()
    return len(rows)


def reexpand(calendar: RemoteCalendar, window: tuple[datetime, datetime], default_tz: str) -> int:
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
        budget = expansion_budget(calendar)
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
    connection_id: int, progress: Callable[[str], None] | None = None, claimed: bool = False
) -> SyncReport:
    """Sync one connection now, unless another process is syncing it
    (``claimed``: the caller holds its lease already)."""
    say = progress or (lambda _msg: None)
    if not claimed and not claim(connection_id):
        return SyncReport(connection_id, "busy", "another sync of this connection is running")
    connection = Connection.get_by_id(connection_id)
    total = SyncReport(connection_id, "ok")
    try:
        provider = provider_for(connection)
        calendars = list(RemoteCalendar.select().where(RemoteCalendar.connection == connection))
        listed = connection.calendars_listed_at
        if not calendars or listed is None or utcnow() - listed > RELIST_AFTER:
            say("listing calendars")
            calendars = upsert_calendars(connection, provider.list_calendars())
            Connection.update(calendars_listed_at=utcnow()).where(
                Connection.id == connection_id
            ).execute()
        total.calendars = len(calendars)
        window = horizon()
        for calendar in calendars:
            if not calendar.enabled:
                continue
            token = calendar.sync_token
            if calendar.window_end is not None and window[1] - calendar.window_end > WINDOW_SLACK:
                token = None
            say(f"syncing {calendar.name or calendar.remote_id}")
            info = base.RemoteCalendarInfo(
                calendar.remote_id,
                calendar.name,
                calendar.color,
                calendar.writable,
                calendar.timezone,
            )
            changes = provider.changes(info, token, window)
            report = apply_changes(
                calendar, changes, window, calendar.timezone or connection.user.timezone
            )
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
            connection, total, f"this host cannot read the stored credentials: {exc}", "error"
        )
    except ProviderError as exc:
        return _failed(connection, total, str(exc), "auth_required" if exc.permanent else "error")
    except Exception as exc:  # a bug or an unexpected answer: record it, never crash the scheduler
        log.exception("sync of connection %s failed", connection_id)
        return _failed(connection, total, f"unexpected error: {type(exc).__name__}", "error")
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
        next_sync_at=utcnow() + timedelta(seconds=interval_for(connection.provider)),
    )
    total.message = message
    return total


def _failed(connection: Connection, report: SyncReport, message: str, status: str) -> SyncReport:
    failures = connection.failures + 1
    # auth_required waits for the owner; errors retry with exponential back-off.
    next_at = (
        None
        if status == "auth_required"
        else utcnow() + timedelta(seconds=backoff_seconds(failures))
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
