"""calmesh.prepared: a query built once, its SQL reused, each call's values
filled in and converted by their fields; rows as peewee would give them."""

from __future__ import annotations

from datetime import timedelta

from calmesh.db import utcnow
from calmesh.models import OutboxItem, User
from calmesh.prepared import Arg, prepared
from tests.conftest import make_user


def test_the_query_is_built_once_and_answers_each_calls_values(app, alice, bob):
    builds: list[int] = []

    @prepared
    def by_handle(handle):
        builds.append(1)
        return User.select().where(User.handle == handle).limit(1)

    assert by_handle.first("alice").id == alice.id
    assert by_handle.first("bob").email == "bob@example.org"
    assert by_handle.first("nobody") is None
    assert len(builds) == 1


def test_values_are_converted_by_the_field_they_are_compared_to(app, alice):
    now = utcnow()
    old = OutboxItem.create(kind="k", payload={}, user=alice, next_attempt_at=now - timedelta(1))
    OutboxItem.create(kind="k", payload={}, user=alice, next_attempt_at=now + timedelta(1))

    @prepared
    def due_before(moment, user):
        return OutboxItem.select(OutboxItem.id).where(
            (OutboxItem.next_attempt_at <= moment) & (OutboxItem.user == user)
        )

    # An aware datetime and a model instance, as peewee's own query would take them.
    assert [row.id for row in due_before.all(now, alice)] == [old.id]
    expected = OutboxItem.select(OutboxItem.id).where(
        (OutboxItem.next_attempt_at <= now) & (OutboxItem.user == alice)
    )
    assert [r.id for r in due_before.all(now, alice)] == [r.id for r in expected]


def test_joined_models_and_tuples_come_back_as_peewee_gives_them(app, alice):
    item = OutboxItem.create(kind="joined", payload={"n": 1}, user=alice)

    @prepared
    def with_owner(kind):
        return OutboxItem.select(OutboxItem, User).join(User).where(OutboxItem.kind == kind)

    @prepared
    def pairs(kind):
        return (
            OutboxItem.select(OutboxItem.id, OutboxItem.payload)
            .where(OutboxItem.kind == kind)
            .tuples()
        )

    (row,) = with_owner.all("joined")
    assert row.id == item.id and row.payload == {"n": 1}
    assert row.user.handle == "alice", "the joined model is filled in, no second query"
    assert pairs.all("joined") == [(item.id, {"n": 1})]
    assert list(pairs.cursor("other")) == []


def test_a_placeholder_with_its_own_converter(app):
    make_user("carol")

    @prepared
    def by_lowered(handle):
        return User.select().where(User.handle == Arg(0, str.lower))

    assert by_lowered.first("CAROL").handle == "carol"
