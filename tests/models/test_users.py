"""calmesh.models.users: accounts, their sign-ins and API keys."""

from __future__ import annotations

from datetime import timedelta

import peewee as pw
import pytest

from calmesh.db import db, utcnow
from calmesh.models import ApiKey, User, UserSession
from calmesh.models.users import CLOCKS, SCOPES


def test_a_new_user_writes_24_hour_times_from_monday_and_keeps_its_profile_private(app):
    user = User.create(email="carol@example.org", handle="carol")

    again = User.get_by_id(user.id)
    assert (again.timezone, again.clock, again.week_start) == ("UTC", "24", 0)
    assert again.public_profile is False
    assert again.clock in CLOCKS and again.created_at.tzinfo is not None


@pytest.mark.parametrize("column", ["email", "handle"])
def test_email_and_handle_are_each_unique(alice, column):
    other = {"email": "other@example.org", "handle": "other"}
    other[column] = getattr(alice, column)

    with pytest.raises(pw.IntegrityError), db.atomic():
        User.create(**other)


def test_by_login_finds_the_email_in_any_case_or_the_handle(alice, bob):
    assert User.by_login("  ALICE@Example.ORG ") == alice
    assert User.by_login("bob") == bob
    assert User.by_login("Bob ") == bob  # handles are lowercase: the login is folded
    assert User.by_login("carol@example.org") is None
    assert User.by_login("") is None


def test_the_first_account_is_the_owner_of_the_instance(alice, bob):
    assert alice.is_owner is True
    assert bob.is_owner is False

    alice.delete_instance()
    assert User.get_by_id(bob.id).is_owner is True


def test_the_login_id_is_the_sign_ins_token_never_the_user_id(alice):
    with pytest.raises(RuntimeError, match=r"sessions\.sign_in"):
        alice.get_id()

    alice.session_token = "token-of-one-sign-in"
    assert alice.get_id() == "token-of-one-sign-in"
    assert (alice.is_authenticated, alice.is_active, alice.is_anonymous) == (True, True, False)


def key(user, name="key", **extra) -> ApiKey:
    return ApiKey.create(
        user=user, name=name, scope="read", prefix="cm_live_Ab", key_hash=name * 8, **extra
    )


def test_an_api_keys_status_is_revoked_before_expired_before_active(alice):
    now = utcnow()

    assert key(alice, "fresh").status == "active"
    assert key(alice, "later", expires_at=now + timedelta(days=1)).status == "active"
    assert key(alice, "past", expires_at=now - timedelta(seconds=1)).status == "expired"
    revoked = key(alice, "gone", expires_at=now - timedelta(days=1), revoked_at=now)
    assert revoked.status == "revoked"
    assert SCOPES == ("read", "book", "full")


def test_api_keys_are_listed_per_user_and_go_with_their_user(alice, bob):
    mine, theirs = key(alice, "mine"), key(bob, "theirs")

    assert list(ApiKey.for_user(alice)) == [mine]
    assert list(ApiKey.for_user(bob)) == [theirs]
    bob.delete_instance()
    assert not ApiKey.select().where(ApiKey.id == theirs.id).exists()


def test_a_key_hash_is_unique(alice, bob):
    key(alice, "same")
    with pytest.raises(pw.IntegrityError), db.atomic():
        key(bob, "same")


def sign_in(user, name: str, **times) -> UserSession:
    now = utcnow()
    fields = {"last_seen_at": now, "expires_at": now + timedelta(hours=1), **times}
    return UserSession.create(user=user, token_hash=name * 8, **fields)


def test_active_sign_ins_are_the_unended_unexpired_ones_latest_seen_first(alice, bob):
    now = utcnow()
    older = sign_in(alice, "older", last_seen_at=now - timedelta(hours=2))
    newer = sign_in(alice, "newer", last_seen_at=now - timedelta(minutes=1))
    sign_in(alice, "ended", ended_at=now)
    sign_in(alice, "expired", expires_at=now - timedelta(seconds=1))
    sign_in(bob, "bobs")

    assert list(UserSession.active_for(alice)) == [newer, older]
    assert [s.token_hash for s in UserSession.active_for(bob)] == ["bobs" * 8]


def test_a_new_sign_in_is_not_remembered_and_records_no_agent_or_address(alice):
    row = UserSession.get_by_id(sign_in(alice, "plain").id)

    assert (row.remember, row.user_agent, row.address, row.ended_at) == (False, "", "", None)
