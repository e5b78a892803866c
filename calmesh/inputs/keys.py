"""API keys: a name, a scope, an optional expiry."""

from __future__ import annotations

from calmesh.models import SCOPES
from calmesh.schema import Choice, DateTime, Object, String

NEW_KEY = Object(
    {
        "name": String(min_length=1, max_length=100, default="API key"),
        "scope": Choice(*SCOPES, description="read < book < full (each includes the one before)"),
        "expires_at": DateTime(
            default=None, nullable=True, description="Optional expiry (ISO 8601 with offset)"
        ),
    },
    name="NewApiKeyRequest",
)
