"""Credentials at rest: encrypted per purpose, readable after a key rotation,
rewritten under the new key by reencrypt_all, and an unreadable value said so."""

from __future__ import annotations

import pytest

from calmesh.auth import crypto, keys
from calmesh.models import Connection
from tests.factories import make_connection

OLD, NEW = "old-secret-" + "o" * 40, "new-secret-" + "n" * 40
SECRET = {"username": "alice", "password": "pw-42"}


def test_a_value_round_trips_and_the_text_reveals_nothing():
    ring = keys.Keyring(OLD)
    token = crypto.encrypt(SECRET, keyring=ring)

    assert "pw-42" not in token and "alice" not in token
    assert crypto.decrypt(token, keyring=ring) == SECRET
    assert crypto.decrypt("", keyring=ring) == {}


def test_each_purpose_has_its_own_key():
    ring = keys.Keyring(OLD)
    token = crypto.encrypt(SECRET, crypto.CREDENTIALS, keyring=ring)
    with pytest.raises(crypto.CredentialsUnreadable):
        crypto.decrypt(token, "session", keyring=ring)


def test_webhook_secrets_written_under_the_credentials_key_are_still_read():
    ring = keys.Keyring(OLD)
    legacy = crypto.encrypt(SECRET, crypto.CREDENTIALS, keyring=ring)
    assert crypto.decrypt(legacy, crypto.WEBHOOK_SECRETS, keyring=ring) == SECRET


def test_after_a_rotation_old_values_are_read_and_rewritten_under_the_new_key():
    token = crypto.encrypt(SECRET, keyring=keys.Keyring(OLD))
    rotated = keys.Keyring(NEW, (OLD,))

    assert crypto.decrypt(token, keyring=rotated) == SECRET
    fresh = crypto.reencrypt(token, keyring=rotated)
    assert fresh != token
    assert crypto.decrypt(fresh, keyring=keys.Keyring(NEW)) == SECRET
    assert crypto.reencrypt(fresh, keyring=rotated) == fresh, "already current: unchanged"
    assert crypto.reencrypt("", keyring=rotated) == ""


def test_a_value_no_key_reads_is_reported_as_unreadable():
    token = crypto.encrypt(SECRET, keyring=keys.Keyring(OLD))
    with pytest.raises(crypto.CredentialsUnreadable, match="secret key changed"):
        crypto.decrypt(token, keyring=keys.Keyring(NEW))
    with pytest.raises(crypto.CredentialsUnreadable):
        crypto.reencrypt(token, keyring=keys.Keyring(NEW))
    with pytest.raises(crypto.CredentialsUnreadable):
        crypto.decrypt("not a token at all", keyring=keys.Keyring(NEW))


def test_reencrypt_all_counts_what_it_rewrote_and_leaves_the_unreadable(app, alice):
    current = keys.current()
    readable = make_connection(alice, name="Readable")
    already = make_connection(alice, name="Already")
    lost = make_connection(alice, name="Lost")
    old_ring = keys.Keyring(OLD)
    Connection.update(credentials=crypto.encrypt(SECRET, keyring=old_ring)).where(
        Connection.id == readable.id
    ).execute()
    lost_token = crypto.encrypt(SECRET, keyring=keys.Keyring("x" * 50))
    Connection.update(credentials=lost_token).where(Connection.id == lost.id).execute()
    rotated = keys.Keyring(current.secret, (OLD,))

    counts = crypto.reencrypt_all(rotated)

    assert counts == {"connections": 1, "webhooks": 0, "unreadable": 1}
    assert crypto.decrypt(Connection.get_by_id(readable.id).credentials, keyring=current) == SECRET
    assert Connection.get_by_id(lost.id).credentials == lost_token
    assert crypto.decrypt(Connection.get_by_id(already.id).credentials, keyring=current)
