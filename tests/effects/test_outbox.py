"""calmesh.effects.outbox: items written with the change that causes them,
picked oldest first and one at a time per ordering key, held by a short lease
(a crashed worker's item is free again after it), retried with capped
back-off for outbox.retry_hours (an injected clock), then failed; a failed
item can be put back by hand."""

from __future__ import annotations

from datetime import timedelta

import pytest

from calmesh.db import utcnow, write_transaction
from calmesh.effects import outbox
from calmesh.models import OutboxItem
from tests.conftest import queue_probe as queue


def test_an_item_exists_exactly_when_its_change_commits(app, alice):
    class Refused(Exception):
        pass

    with pytest.raises(Refused), write_transaction():
        outbox.add(outbox.Item("test.probe", {"name": "rolled back"}, alice.id))
        raise Refused
    with write_transaction():
        outbox.add_many(outbox.Item("test.probe", {"name": n}, alice.id, "k") for n in ("a", "b"))
    outbox.add_many([])
    rows = list(OutboxItem.select().order_by(OutboxItem.id))
    assert [(r.payload["name"], r.user_id, r.status) for r in rows] == [
        ("a", alice.id, "pending"),
        ("b", alice.id, "pending"),
    ]


def test_due_items_are_oldest_first_and_one_per_key_at_a_time(app):
    first, second = queue("1", key="booking:a"), queue("2", key="booking:a")
    other, loose = queue("3", key="booking:b"), queue("4")
    assert outbox.due(now=utcnow()) == [
        (first.id, "booking:a"),
        (other.id, "booking:b"),
        (loose.id, ""),
    ]
    assert outbox.due_items(now=utcnow()) == [first.id, other.id, loose.id]
    assert outbox.due(kinds=["mail"]) == [], "only the lane's kinds"
    assert [i for i, _ in outbox.due(exclude=[first.id])] == [other.id, loose.id]
    assert outbox.due(limit=1) == [(first.id, "booking:a")]
    OutboxItem.update(status="done").where(OutboxItem.id == first.id).execute()
    assert second.id in outbox.due_items(), "the next of the key once the first is done"


def test_an_item_waits_for_its_next_attempt(app):
    item = queue("later")
    later = utcnow() + timedelta(minutes=5)
    OutboxItem.update(next_attempt_at=later).where(OutboxItem.id == item.id).execute()
    assert outbox.due_items(now=utcnow()) == []
    assert outbox.due_items(now=later) == [item.id]


def test_a_crashed_workers_item_is_free_again_after_the_short_lease(app, probe, deliver_due):
    first = queue("first", key="booking:1")
    queue("second", key="booking:1")
    assert outbox.claim(first.id)  # ... and the worker died here, before finishing
    assert not outbox.claim(first.id), "exactly one claimer"
    now = utcnow()
    assert outbox.due_items(now=now) == [], "held by its lease; the next waits behind it"

    later = now + outbox.LEASE + timedelta(seconds=1)
    assert outbox.due_items(now=later) == [first.id]
    deliver_due(now=later)
    deliver_due(now=later)
    runs, _ = probe
    assert [name for name, _, _ in runs] == ["first", "second"]


def test_a_worker_that_lost_its_lease_records_nothing(app, alice):
    item = queue("taken over")
    now = utcnow()
    assert outbox.claim(item.id, now)
    later = now + outbox.LEASE * 2
    OutboxItem.update(lease_holder="other-host:1", leased_until=later + outbox.LEASE).where(
        OutboxItem.id == item.id
    ).execute()  # another host took the lapsed item over
    assert outbox.finish(item, "done", "", later) == "done"
    row = OutboxItem.get_by_id(item.id)
    assert (row.status, row.attempts, row.lease_holder) == ("pending", 0, "other-host:1")
    assert outbox.renew([item.id], later) == 0, "nor renews the other's lease"


def test_retries_go_on_for_a_day_with_capped_back_off_then_fail(app, probe, deliver_due):
    runs, behaviour = probe
    behaviour["raise"] = outbox.Retry("receiver down")
    item = queue("down")
    config = app.config["CALMESH"]
    now = utcnow()
    waits = []
    while OutboxItem.get_by_id(item.id).status == "pending":
        deliver_due(now=now)
        row = OutboxItem.get_by_id(item.id)
        if row.status == "pending":
            waits.append((row.next_attempt_at - now).total_seconds())
            now = row.next_attempt_at
    row = OutboxItem.get_by_id(item.id)
    assert row.status == "failed" and "gave up" in row.last_error
    assert waits[:4] == [30, 60, 120, 240], "exponential back-off"
    assert max(waits) == config["outbox.max_backoff_seconds"], "capped"
    tried_for = timedelta(seconds=sum(waits))
    assert tried_for >= timedelta(hours=config["outbox.retry_hours"])
    assert len(runs) == row.attempts == len(waits) + 1
    assert behaviour["given_up"] == [("down", row.last_error)]


def test_a_receiver_back_after_twenty_hours_gets_everything_in_order(app, probe, deliver_due):
    runs, behaviour = probe
    behaviour["raise"] = outbox.Retry("down")
    for step in ("created", "rescheduled", "cancelled"):
        queue(step, key="webhook:1:booking-a")
    now = utcnow()
    end = now + timedelta(hours=20)
    while now < end:
        deliver_due(now=now)
        now += timedelta(minutes=30)
    assert {name for name, _, _ in runs} == {"created"}, "the later ones wait behind the first"
    runs.clear()
    behaviour["raise"] = None  # back up
    for _ in range(3):
        now += timedelta(hours=1)
        deliver_due(now=now)
    assert [name for name, _, _ in runs] == ["created", "rescheduled", "cancelled"]


def test_a_failed_item_is_put_back_with_a_fresh_budget(app, probe, deliver_due):
    _runs, behaviour = probe
    behaviour["raise"] = outbox.GiveUp("address refused")
    item = queue("refused")
    deliver_due()
    assert OutboxItem.get_by_id(item.id).status == "failed"

    outbox.retry_now(OutboxItem.get_by_id(item.id))
    row = OutboxItem.get_by_id(item.id)
    assert (row.status, row.attempts, row.retry_until) == ("pending", 0, None)
    behaviour["raise"] = None
    deliver_due()
    assert OutboxItem.get_by_id(item.id).status == "done"


def test_an_item_a_worker_holds_is_not_requeued_under_it(app):
    item = queue("running")
    now = utcnow()
    assert outbox.claim(item.id, now)
    assert outbox.requeue(item.id, now) == 0
    assert outbox.requeue(item.id, now + outbox.LEASE * 2) == 1
