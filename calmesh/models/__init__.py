"""All models; :data:`ALL_MODELS` is what a fresh database is created from."""

from __future__ import annotations

from calmesh.models.calendars import CalendarSource, UnifiedCalendar
from calmesh.models.connections import (
    PROVIDERS,
    CalendarObject,
    Connection,
    Occurrence,
    RemoteCalendar,
)
from calmesh.models.system import Heartbeat, Lease, RateCounter
from calmesh.models.users import SCOPES, ApiKey, User

ALL_MODELS = [
    User,
    ApiKey,
    RateCounter,
    Lease,
    Heartbeat,
    Connection,
    RemoteCalendar,
    CalendarObject,
    Occurrence,
    UnifiedCalendar,
    CalendarSource,
]

__all__ = [
    "ALL_MODELS",
    "PROVIDERS",
    "SCOPES",
    "ApiKey",
    "CalendarObject",
    "CalendarSource",
    "Connection",
    "Heartbeat",
    "Lease",
    "Occurrence",
    "RateCounter",
    "RemoteCalendar",
    "UnifiedCalendar",
    "User",
]
