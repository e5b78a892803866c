"""Output declarations and the functions that fill them (one per resource)."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from calmesh.models import SCOPES, ApiKey, User
from calmesh.schema import Choice, DateTime, Email, Integer, Object, String, iso

__all__ = ["iso"]  # the output form of an instant, declared with the fields


# A stretch of time in UTC and in the asked zone: free slots, busy and free ranges.
TIME_RANGE_FIELDS = {
    "start": DateTime(description="UTC"),
    "end": DateTime(description="UTC"),
    "start_local": String(),
    "end_local": String(),
}


def time_range_out(span: Any, zone: ZoneInfo) -> dict[str, Any]:
    """``span`` (anything with aware ``start`` and ``end``) as TIME_RANGE_FIELDS."""
    start, start_local = _texts(span.start, zone)
    end, end_local = _texts(span.end, zone)
    return {"start": start, "end": end, "start_local": start_local, "end_local": end_local}


def _texts(instant: datetime, zone: ZoneInfo) -> tuple[str, str]:
    """An instant as ``iso`` writes it and in ``zone``. Slot starts lie on the same
    grid for every visitor, so UTC instants (as the engine gives them) are written
    once per worker; any other zone's instant, whose equality ignores the DST fold,
    is written each time."""
    if instant.tzinfo is UTC:
        return _utc_texts(instant, zone)
    return iso(instant), instant.astimezone(zone).isoformat()


@lru_cache(maxsize=16384)
def _utc_texts(instant: datetime, zone: ZoneInfo) -> tuple[str, str]:
    return iso(instant), instant.astimezone(zone).isoformat()


USER_OUT = Object(
    {
        "id": Integer(),
        "email": Email(),
        "handle": String(),
        "name": String(),
        "timezone": String(),
        "created_at": DateTime(),
    },
    name="User",
)


def user_out(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "email": user.email,
        "handle": user.handle,
        "name": user.name,
        "timezone": user.timezone,
        "created_at": iso(user.created_at),
    }


API_KEY_OUT = Object(
    {
        "id": Integer(),
        "name": String(),
        "scope": Choice(*SCOPES),
        "prefix": String(description="First characters of the key, to recognise it"),
        "status": Choice("active", "expired", "revoked"),
        "created_at": DateTime(),
        "last_used_at": DateTime(nullable=True),
        "expires_at": DateTime(nullable=True),
        "revoked_at": DateTime(nullable=True),
    },
    name="ApiKey",
)


def api_key_out(row: ApiKey) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "scope": row.scope,
        "prefix": row.prefix,
        "status": row.status,
        "created_at": iso(row.created_at),
        "last_used_at": iso(row.last_used_at),
        "expires_at": iso(row.expires_at),
        "revoked_at": iso(row.revoked_at),
    }


NEW_API_KEY_OUT = Object(
    {
        **API_KEY_OUT.fields,
        "key": String(description="The key itself. Shown this once; store it now."),
    },
    name="NewApiKey",
)
