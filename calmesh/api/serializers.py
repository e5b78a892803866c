"""Output declarations and the functions that fill them (one per resource)."""

from __future__ import annotations

from typing import Any

from calmesh.models import SCOPES, ApiKey, User
from calmesh.schema import Choice, DateTime, Email, Integer, Object, String, iso

__all__ = ["iso"]  # the output form of an instant, declared with the fields


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
