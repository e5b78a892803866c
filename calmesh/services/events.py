"""Domain events (``booking.created`` ...) raised by the services that cause them.

``emit`` is called inside the transaction of the change, like the outbox, so
an event exists exactly when its change does. Today its listeners are the
owner's webhooks.
"""

from __future__ import annotations

from typing import Any

from calmesh.effects import webhook as sending
from calmesh.models.webhooks import EVENTS, Webhook, WebhookDelivery
from calmesh.services.webhooks import body_for


def emit(
    user_id: int, event: str, data: dict[str, Any], subject: str = "", webhooks: bool = True
) -> int:
    """Queue ``event`` for each of the user's active webhooks that subscribed to it.

    ``subject`` (e.g. a booking's uid) orders deliveries: one webhook receives
    the events of one subject in the order they happened. ``webhooks=False``: the
    caller read in this request that the user has no active webhook, so none is
    looked up (a webhook made since is like one made just after the change).
    """
    if event not in EVENTS:
        raise ValueError(f"unknown event {event!r}")
    if not webhooks:
        return 0
    body = body_for(event, data)
    count = 0
    for webhook in Webhook.select().where((Webhook.user == user_id) & Webhook.active):
        if event not in webhook.events:
            continue
        delivery = WebhookDelivery.create(webhook=webhook, event=event, body=body)
        sending.queue(delivery, f"webhook:{webhook.id}:{subject or delivery.delivery_id}")
        count += 1
    return count
