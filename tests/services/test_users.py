"""calmesh.services.users: accounts from raw input, sign-in throttled per
account and per address, the profile, password and e-mail changes that need
the current password and end the other sign-ins, and deleting an account with
everything that is theirs."""

from __future__ import annotations

import pytest

from calmesh.auth import sessions
from calmesh.models import BookingPage, User, UserSession
from calmesh.schema import Invalid
from calmesh.services import users
from tests.services.test_webhooks import make_page

PASSWORD = "alice-password-123"


def fields_of(exc: pytest.ExceptionInfo) -> set[str]:
    return {d["field"] for d in exc.value.details}


def login(who: str, password: str, address: str = "198.51.100.7", **limits):
    values = {"max_failures": 3, "window": 900, "max_per_address": 5, **limits}
    return users.authenticate(who, password, address, **values)


def test_an_account_is_made_from_checked_input(app):
    user = users.create_user(
        email="Vera@Example.org", handle="vera", password="long enough pw", timezone="Asia/Tokyo"
    )
    assert (user.handle, user.timezone) == ("vera", "Asia/Tokyo")
    assert user.password_hash and "long enough" not in user.password_hash
    for bad in ({"handle": "Vera!"}, {"handle": "x"}, {"password": "short"}, {"email": "nope"}):
        with pytest.raises(Invalid) as refused:
            users.create_user(**{"email": "o@example.org", "handle": "otto",
                                 "password": "long enough pw", **bad})  # fmt: skip
        assert fields_of(refused) == set(bad)


def test_a_reserved_or_taken_handle_or_email_is_refused(app, alice):
    new = {"email": "x@example.org", "password": "long enough pw"}
    with pytest.raises(Invalid, match="reserved"):
        users.create_user(handle="api", **new)
    with pytest.raises(users.UserExists) as taken:
        users.create_user(handle="alice", **new)
    assert taken.value.field == "handle"
    with pytest.raises(users.UserExists) as taken:
        users.create_user(handle="other", email="alice@example.org", password="long enough pw")
    assert taken.value.field == "email"


def test_sign_in_by_email_or_handle_with_the_right_password(app, alice):
    assert login("alice", PASSWORD).user.id == alice.id
    assert login(" ALICE@example.org ", PASSWORD).user.id == alice.id
    assert login("alice", "wrong").user is None
    assert login("nobody", PASSWORD).user is None


def test_failures_lock_the_account_from_that_address_only(app, alice):
    for _ in range(3):
        assert login("alice", "wrong").user is None
    locked = login("alice", PASSWORD)
    assert locked.throttled and locked.user is None and locked.retry_after > 0
    assert login("alice", PASSWORD, address="203.0.113.9").user.id == alice.id, "elsewhere"


def test_one_address_trying_many_accounts_is_stopped(app, alice):
    for n in range(5):
        login(f"guess{n}", "wrong")
    assert login("alice", PASSWORD).throttled


def test_the_profile_keeps_the_owners_habits(app, alice):
    users.update_profile(alice, name="Alice A.", timezone="Asia/Tokyo", clock="12", week_start="6")
    fresh = User.get_by_id(alice.id)
    assert (fresh.name, fresh.timezone, fresh.clock, fresh.week_start) == (
        "Alice A.", "Asia/Tokyo", "12", 6,
    )  # fmt: skip
    with pytest.raises(Invalid):
        users.update_profile(alice, timezone="Mars/Olympus")
    assert users.set_public_profile(alice, True).public_profile is True


def test_a_password_change_needs_the_current_one_and_ends_the_other_sign_ins(app, alice):
    kept, _ = sessions.create(alice, remember=False, user_agent="this browser")
    sessions.create(alice, remember=False, user_agent="another browser")
    with pytest.raises(Invalid) as refused:
        users.change_password(alice, kept, current_password="wrong", password="a new password")
    assert fields_of(refused) == {"current_password"}

    ended = users.change_password(alice, kept, current_password=PASSWORD, password="a new password")
    assert ended == 1
    assert [s.id for s in UserSession.select().where(UserSession.ended_at.is_null())] == [kept.id]
    assert login("alice", "a new password").user.id == alice.id


def test_wrong_current_passwords_are_throttled(app, alice):
    for _ in range(users.REAUTH_MAX_FAILURES):
        with pytest.raises(Invalid):
            users.change_email(alice, email="new@example.org", current_password="wrong")
    with pytest.raises(Invalid, match="too often"):
        users.change_email(alice, email="new@example.org", current_password=PASSWORD)


def test_an_email_change_refuses_another_accounts_address(app, alice, bob):
    with pytest.raises(users.UserExists):
        users.change_email(alice, email="bob@example.org", current_password=PASSWORD)
    users.change_email(alice, email="alice@new.example", current_password=PASSWORD)
    assert User.get_by_id(alice.id).email == "alice@new.example"


def test_deleting_an_account_takes_everything_of_theirs_and_only_that(app, alice, bob):
    make_page(alice)
    theirs = make_page(bob)
    with pytest.raises(Invalid) as refused:
        users.delete_account(alice, current_password="wrong", confirm="bob")
    assert fields_of(refused) == {"confirm", "current_password"}

    users.delete_account(alice, current_password=PASSWORD, confirm=" alice ")
    assert User.get_or_none(User.id == alice.id) is None
    assert [p.id for p in BookingPage.select()] == [theirs.id]
