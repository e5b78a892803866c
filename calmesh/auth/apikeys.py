"""API keys: ``cm_live_`` + random, shown once, stored as a SHA-256 hash.

A key has 256 random bits, so a fast hash is enough (no password stretching);
lookups go by hash and are confirmed with a constant-time comparison.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from calmesh.db import utcnow
from calmesh.models import SCOPES, ApiKey, User

PREFIX = "cm_live_"
# last_used_at is a write; refresh it at most this often per key.
LAST_USED_RESOLUTION = timedelta(seconds=60)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def scope_allows(granted: str, needed: str) -> bool:
    """Scopes nest: full ⊃ book ⊃ read."""
    return SCOPES.index(granted) >= SCOPES.index(needed)


def create(
    user: User, name: str, scope: str, expires_at: datetime | None = None
) -> tuple[ApiKey, str]:
    """Make a key; returns the row and the key itself, which is never stored."""
    if scope not in SCOPES:
        raise ValueError(f"scope must be one of {', '.join(SCOPES)}")
    if expires_at is not None and expires_at <= utcnow():
        raise ValueError("expires_at must be in the future")
    key = PREFIX + secrets.token_urlsafe(32)
    row = ApiKey.create(
        user=user,
        name=name,
        scope=scope,
        prefix=key[: len(PREFIX) + 4],
        key_hash=hash_key(key),
        expires_at=expires_at,
    )
    return row, key


def verify(key: str) -> ApiKey | None:
    """The active key row for ``key``, or None (unknown, revoked or expired)."""
    if not key.startswith(PREFIX) or len(key) > 200:
        return None
    digest = hash_key(key)
    row = ApiKey.select(ApiKey, User).join(User).where(ApiKey.key_hash == digest).first()
    if row is None or not hmac.compare_digest(row.key_hash, digest) or row.status != "active":
        return None
    now = utcnow()
    if row.last_used_at is None or now - row.last_used_at > LAST_USED_RESOLUTION:
        ApiKey.update(last_used_at=now).where(ApiKey.id == row.id).execute()
        row.last_used_at = now
    return row


def revoke(user: User, key_id: int) -> ApiKey | None:
    """Revoke the user's key; None when it is not theirs (callers answer 404)."""
    row = ApiKey.get_or_none((ApiKey.id == key_id) & (ApiKey.user == user))
    if row is not None and row.revoked_at is None:
        row.revoked_at = utcnow()
        row.save()
    return row
