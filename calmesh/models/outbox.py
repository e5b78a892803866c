"""The outbox: side effects (e-mail, calendar write-back, webhooks) written in
the same transaction as the change that causes them, delivered later by the
scheduler with retries. A provider or SMTP outage delays them; nothing is lost."""

from __future__ import annotations

import peewee as pw

from calmesh.db import BaseModel, JSONField, UTCDateTimeField, utcnow
from calmesh.models.users import User

OUTBOX_STATUSES = ("pending", "done", "failed")


class OutboxItem(BaseModel):
    user = pw.ForeignKeyField(User, null=True, on_delete="CASCADE")
    kind = pw.CharField(max_length=40)  # a kind of calmesh.effects.kinds.KINDS
    payload = JSONField()
    # Items with the same key run in creation order, one at a time (e.g. all
    # side effects of one booking), so a cancel never overtakes its create.
    ordering_key = pw.CharField(max_length=100, default="", index=True)
    status = pw.CharField(max_length=10, default="pending", index=True)
    attempts = pw.IntegerField(default=0)
    next_attempt_at = UTCDateTimeField(default=utcnow, index=True)
    # A short lease, renewed while the item is worked on (calmesh.jobs.drain):
    # a crashed worker's item is free again within seconds, a slow one is
    # never taken twice.
    leased_until = UTCDateTimeField(null=True)
    lease_holder = pw.CharField(max_length=200, default="")
    # Set at the first failure: retries stop (status failed) once it has passed.
    retry_until = UTCDateTimeField(null=True)
    last_error = pw.TextField(default="")
    created_at = UTCDateTimeField(default=utcnow)
    done_at = UTCDateTimeField(null=True)
