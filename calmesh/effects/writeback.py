"""The calendar write-back shared by bookings and polls: make the owner's
calendar hold ``draft`` (or nothing), and remember where it is.

A row that was written before (``remote_calendar`` and ``remote_href`` set) is
updated or deleted at that provider; a new event goes to the calendar's write
target. What was written is cached at once (``services.calendars``), so it
counts as busy before the next sync. A :class:`ProviderError` is retried
unless it is permanent; a calendar that cannot be written to is given up.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import peewee as pw

from calmesh.config import Config
from calmesh.effects.outbox import GiveUp, Retry
from calmesh.engine.ical import EventDraft
from calmesh.models import UnifiedCalendar
from calmesh.providers.base import ProviderError
from calmesh.services import calendars
from calmesh.services.sync import provider_for


@contextmanager
def _outcome() -> Iterator[None]:
    """A provider's or the calendar's refusal, as the outbox's Retry or GiveUp."""
    try:
        yield
    except calendars.CalendarError as exc:
        raise GiveUp(str(exc)) from None
    except ProviderError as exc:
        if exc.permanent:
            raise GiveUp(str(exc)) from None
        raise Retry(str(exc)) from None


def write(
    row: pw.Model,
    draft: EventDraft,
    calendar: UnifiedCalendar | None,
    default_tz: str,
    settings: Config,
):
    """Create or update ``row``'s event at its provider.

    ``row`` is a model with ``remote_calendar`` and ``remote_href`` (a booking,
    a poll); ``calendar`` is where a new event goes (None: nowhere), and
    ``default_tz`` the zone of its floating times.
    """
    model = type(row)
    with _outcome():
        if row.remote_href and row.remote_calendar_id:
            remote = row.remote_calendar
            href = provider_for(remote.connection, settings).update_event(
                remote.remote_id, row.remote_href, draft
            )
        elif calendar is not None:
            source, remote = calendars.write_target(calendar)
            href = provider_for(source.connection, settings).create_event(remote.remote_id, draft)
        else:
            return
        calendars.store_written(remote, href, draft, default_tz, settings)
        model.update(remote_calendar=remote, remote_href=href).where(model.id == row.id).execute()


def remove(row: pw.Model, settings: Config) -> None:
    """Delete ``row``'s event at its provider, if it was written."""
    if not (row.remote_href and row.remote_calendar_id):
        return
    model = type(row)
    with _outcome():
        remote = row.remote_calendar
        provider_for(remote.connection, settings).delete_event(remote.remote_id, row.remote_href)
        calendars.forget_written(remote, row.remote_href)
        model.update(remote_href=None).where(model.id == row.id).execute()
