"""calmesh.effects.delivery: one item through its kind's module; what the module
raises decides the item's retry state (done, retried, failed, deferred)."""

from __future__ import annotations

from datetime import timedelta

from calmesh.auth import crypto
from calmesh.db import utcnow
from calmesh.effects import delivery, outbox
from calmesh.models import OutboxItem
from tests.conftest import queue_probe as queue


def row(item) -> OutboxItem:
    return OutboxItem.get_by_id(item.id)


def test_a_delivered_item_is_done_and_counted(app, probe, context):
    item = queue("fine")
    assert delivery.deliver(item.id, context()) == "done"
    assert (row(item).status, row(item).attempts, row(item).leased_until) == ("done", 1, None)
    assert delivery.deliver(item.id, context()) == "busy", "a done item is never run again"
    assert len(probe[0]) == 1


def test_an_item_another_worker_holds_is_busy_and_not_run(app, probe, context):
    item = queue("held")
    outbox.claim(item.id)
    OutboxItem.update(lease_holder="other:1").where(OutboxItem.id == item.id).execute()
    assert delivery.deliver(item.id, context()) == "busy"
    assert probe[0] == []


def test_give_up_fails_the_item_at_once_and_tells_the_kind(app, probe, context):
    _runs, behaviour = probe
    behaviour["raise"] = outbox.GiveUp("the event is gone")
    item = queue("gone")
    assert delivery.deliver(item.id, context()) == "failed"
    assert row(item).last_error == "the event is gone"
    assert behaviour["given_up"] == [("gone", "the event is gone")]


def test_a_bug_in_a_kind_is_kept_and_retried_with_what_happened(app, probe, context, caplog):
    _runs, behaviour = probe
    behaviour["raise"] = KeyError("booking")
    item = queue("buggy")
    assert delivery.deliver(item.id, context()) == "pending"
    assert row(item).last_error == "unexpected error: KeyError: 'booking'"
    assert row(item).next_attempt_at > utcnow()
    assert "outbox item" in caplog.text and "failed" in caplog.text


def test_an_unknown_kind_fails_without_running_anything(app, context):
    item = outbox.add(outbox.Item("no.such.kind", {}))
    assert delivery.deliver(item.id, context()) == "failed"
    assert row(item).last_error == "no outbox kind 'no.such.kind'"


def test_what_this_host_cannot_decrypt_is_never_given_up(app, probe, deliver_due):
    _runs, behaviour = probe
    behaviour["raise"] = crypto.CredentialsUnreadable("encrypted with another secret key")
    item = queue("locked")
    now = utcnow()
    for _ in range(60):
        deliver_due(now=now)
        now = row(item).next_attempt_at
    assert now - utcnow() > timedelta(hours=48)
    assert row(item).status == "pending"
    assert "cannot read the stored credentials" in row(item).last_error
    assert behaviour["given_up"] == []


def test_process_due_counts_what_it_ran(app, probe, deliver_due):
    for n in range(3):
        queue(f"n{n}", key="same")
    queue("alone")
    assert deliver_due() == 2, "one per key per pass"
    assert deliver_due() == 1 and deliver_due() == 1 and deliver_due() == 0
    assert sorted(name for name, _, _ in probe[0]) == ["alone", "n0", "n1", "n2"]
