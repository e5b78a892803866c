"""Webhooks and the log of their deliveries."""

from __future__ import annotations

import secrets

import peewee as pw

from calmesh.db import BaseModel, JSONField, UTCDateTimeField, utcnow
from calmesh.models.outbox import OutboxItem
from calmesh.models.users import Owned, User

EVENTS = (
    "booking.created",
    "booking.requested",
    "booking.confirmed",
    "booking.declined",
    "booking.rescheduled",
    "booking.cancelled",
    "poll.voted",
    "poll.decided",
    "connection.error",
)


class Webhook(Owned, BaseModel):
    user = pw.ForeignKeyField(User, backref="webhooks", on_delete="CASCADE")
    url = pw.CharField(max_length=2000)
    events = JSONField()  # a list of EVENTS
    secret = pw.TextField()  # encrypted (calmesh.auth.crypto); shown once on creation
    active = pw.BooleanField(default=True)
    status = pw.CharField(max_length=10, default="ok")  # ok | failing
    last_error = pw.TextField(default="")
    created_at = UTCDateTimeField(default=utcnow)


def new_delivery_id() -> str:
    return "dlv_" + secrets.token_hex(12)


class WebhookDelivery(BaseModel):
    """One event for one webhook: its exact body, and how sending it went."""

    webhook = pw.ForeignKeyField(Webhook, backref="deliveries", on_delete="CASCADE")
    delivery_id = pw.CharField(max_length=40, unique=True, default=new_delivery_id)
    event = pw.CharField(max_length=40)
    body = pw.TextField()  # the raw JSON that is signed and sent, the same on every attempt
    # The outbox item that sends it (the newest, after a redelivery): its
    # status, attempts and retry schedule are the delivery's; it keeps none of its own.
    outbox_item = pw.ForeignKeyField(OutboxItem, null=True, on_delete="SET NULL")
    last_status_code = pw.IntegerField(null=True)
    response_excerpt = pw.TextField(default="")
    last_error = pw.TextField(default="")
    created_at = UTCDateTimeField(default=utcnow)
    last_attempt_at = UTCDateTimeField(null=True)
    delivered_at = UTCDateTimeField(null=True)

    @property
    def attempts(self) -> int:
        """Attempts of the current sending (the outbox item's count)."""
        return self.outbox_item.attempts if self.outbox_item_id else 0

    @property
    def status(self) -> str:
        """``delivered`` once a receiver took it; else its outbox item's state:
        ``pending`` while it is retried, ``failed`` once the outbox gave up."""
        if self.delivered_at is not None:
            return "delivered"
        if self.outbox_item_id is None:
            return "failed"  # nothing will send it until it is redelivered
        return {"done": "delivered"}.get(self.outbox_item.status, self.outbox_item.status)

    @classmethod
    def failed(cls) -> pw.Expression:
        """The condition that a delivery (joined with its outbox item) is ``failed``."""
        return cls.delivered_at.is_null() & (
            cls.outbox_item.is_null() | (OutboxItem.status == "failed")
        )
