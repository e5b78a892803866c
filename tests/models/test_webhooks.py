"""calmesh.models.webhooks: webhooks, and how each delivery went."""

from __future__ import annotations

import peewee as pw

from calmesh.db import utcnow
from calmesh.models import OutboxItem, Webhook, WebhookDelivery
from calmesh.models.webhooks import EVENTS, new_delivery_id


def webhook(user) -> Webhook:
    return Webhook.create(
        user=user, url="https://hooks.example.org/", events=["booking.created"], secret="x"
    )


def delivery(hook: Webhook, item: OutboxItem | None = None, **extra) -> WebhookDelivery:
    return WebhookDelivery.create(
        webhook=hook, event="booking.created", body="{}", outbox_item=item, **extra
    )


def item(status: str, attempts: int = 0) -> OutboxItem:
    return OutboxItem.create(kind="webhook.deliver", payload={}, status=status, attempts=attempts)


def test_a_new_webhook_is_active_and_ok(alice, bob):
    hook = Webhook.get_by_id(webhook(alice).id)

    assert (hook.active, hook.status, hook.last_error) == (True, "ok", "")
    assert hook.events == ["booking.created"] and set(hook.events) <= set(EVENTS)
    assert list(Webhook.for_user(alice)) == [hook]
    assert not Webhook.for_user(bob).exists()


def test_delivery_ids_are_prefixed_and_random(alice):
    row = delivery(webhook(alice))

    assert row.delivery_id.startswith("dlv_") and len(row.delivery_id) == 28
    assert row.delivery_id != new_delivery_id()


def test_a_deliverys_status_and_attempts_are_its_outbox_items(alice):
    hook = webhook(alice)
    waiting = delivery(hook, item("pending", attempts=2))
    sent = delivery(hook, item("done", attempts=1))
    given_up = delivery(hook, item("failed", attempts=9))
    orphan = delivery(hook)  # its item was deleted: nothing will send it
    received = delivery(hook, delivered_at=utcnow())

    assert [(d.status, d.attempts) for d in (waiting, sent, given_up, orphan, received)] == [
        ("pending", 2),
        ("delivered", 1),
        ("failed", 9),
        ("failed", 0),
        ("delivered", 0),
    ]


def test_failed_selects_exactly_the_deliveries_whose_status_is_failed(alice):
    hook = webhook(alice)
    rows = [
        delivery(hook, item("pending")),
        delivery(hook, item("failed")),
        delivery(hook),
        delivery(hook, item("failed"), delivered_at=utcnow()),
    ]

    found = (
        WebhookDelivery.select()
        .join(OutboxItem, pw.JOIN.LEFT_OUTER)
        .where(WebhookDelivery.failed())
    )

    assert {d.id for d in found} == {d.id for d in rows if d.status == "failed"}
    assert {d.id for d in found} == {rows[1].id, rows[2].id}


def test_deleting_the_outbox_item_keeps_the_delivery_as_failed(alice):
    hook = webhook(alice)
    sending = item("pending")
    row = delivery(hook, sending)

    sending.delete_instance()

    assert WebhookDelivery.get_by_id(row.id).status == "failed"
    hook.delete_instance()
    assert not WebhookDelivery.select().exists()
