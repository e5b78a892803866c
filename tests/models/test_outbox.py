"""calmesh.models.outbox: one side effect waiting to be delivered."""

from __future__ import annotations

from calmesh.db import utcnow
from calmesh.models import OutboxItem


def test_a_new_item_is_due_at_once_unordered_and_unleased(alice):
    before = utcnow()
    row = OutboxItem.get_by_id(
        OutboxItem.create(user=alice, kind="mail.send", payload={"booking": 7}).id
    )

    assert (row.status, row.attempts, row.ordering_key, row.lease_holder) == ("pending", 0, "", "")
    assert before <= row.next_attempt_at <= utcnow()
    assert row.leased_until is None and row.retry_until is None and row.done_at is None
    assert row.payload == {"booking": 7}


def test_items_go_with_their_user_and_system_items_stay(alice):
    OutboxItem.create(user=alice, kind="mail.send", payload={})
    system = OutboxItem.create(user=None, kind="webhook.deliver", payload={"delivery": 1})

    alice.delete_instance()

    assert [i.id for i in OutboxItem.select()] == [system.id]
