"""API keys: shown once, stored as a hash, nested scopes, refused when revoked,
expired, foreign or malformed, and last use written at most once a minute."""

from __future__ import annotations

from datetime import timedelta

import pytest

from calmesh.auth import apikeys
from calmesh.db import utcnow
from calmesh.models import SCOPES, ApiKey


def test_a_new_key_is_returned_once_and_only_its_hash_is_stored(alice):
    row, key = apikeys.create(alice, "laptop", "book")

    assert key.startswith(apikeys.PREFIX) and len(key) > 40
    stored = ApiKey.get_by_id(row.id)
    assert stored.key_hash == apikeys.hash_key(key) != key
    assert key not in {str(value) for value in stored.__data__.values()}
    assert stored.prefix == key[: len(apikeys.PREFIX) + 4], "enough to recognise it in a list"
    assert apikeys.verify(key).id == row.id


@pytest.mark.parametrize(
    ("granted", "needed", "allowed"),
    [(g, n, SCOPES.index(g) >= SCOPES.index(n)) for g in SCOPES for n in SCOPES],
)
def test_scopes_nest_full_over_book_over_read(granted, needed, allowed):
    assert apikeys.scope_allows(granted, needed) is allowed


@pytest.mark.parametrize(
    ("scope", "expires_in", "message"),
    [("admin", None, "scope must be one of"), ("read", timedelta(seconds=-1), "in the future")],
)
def test_an_unknown_scope_or_a_past_expiry_is_refused(alice, scope, expires_in, message):
    expires_at = utcnow() + expires_in if expires_in else None
    with pytest.raises(ValueError, match=message):
        apikeys.create(alice, "x", scope, expires_at)
    assert ApiKey.select().count() == 0


@pytest.mark.parametrize(
    "key",
    ["", "cm_live_", "cm_live_unknown", "sk_live_abc", "cm_live_" + "a" * 300, "CM_LIVE_abc"],
)
def test_unknown_or_malformed_keys_are_refused(alice, key):
    apikeys.create(alice, "laptop", "full")
    assert apikeys.verify(key) is None


def test_revoked_and_expired_keys_are_refused(alice):
    row, key = apikeys.create(alice, "laptop", "read")
    apikeys.revoke(alice, row.id)
    assert apikeys.verify(key) is None

    later, other = apikeys.create(alice, "ci", "read", utcnow() + timedelta(hours=1))
    ApiKey.update(expires_at=utcnow() - timedelta(seconds=1)).where(ApiKey.id == later.id).execute()
    assert apikeys.verify(other) is None


def test_only_the_owner_revokes_a_key_and_revoking_twice_keeps_the_first_time(alice, bob):
    row, key = apikeys.create(alice, "laptop", "read")

    assert apikeys.revoke(bob, row.id) is None
    assert apikeys.verify(key) is not None

    first = apikeys.revoke(alice, row.id).revoked_at
    assert apikeys.revoke(alice, row.id).revoked_at == first


def test_last_use_is_written_at_most_once_per_resolution(alice):
    row, key = apikeys.create(alice, "laptop", "read")
    apikeys.verify(key)
    first = ApiKey.get_by_id(row.id).last_used_at
    assert first is not None

    apikeys.verify(key)
    assert ApiKey.get_by_id(row.id).last_used_at == first, "no write within the resolution"

    long_ago = first - apikeys.LAST_USED_RESOLUTION - timedelta(seconds=1)
    ApiKey.update(last_used_at=long_ago).where(ApiKey.id == row.id).execute()
    apikeys.verify(key)
    assert ApiKey.get_by_id(row.id).last_used_at > long_ago
