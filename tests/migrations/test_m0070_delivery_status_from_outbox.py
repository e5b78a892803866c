"""m0070: a webhook delivery's status column gives way to its outbox item's."""

from __future__ import annotations

import peewee as pw
from playhouse.migrate import migrate as run_ops

from calmesh import db
from calmesh.models import OutboxItem, WebhookDelivery
from calmesh.services import webhooks

NAME = "m0070_delivery_status_from_outbox"


def _as_before() -> None:
    """The schema of a database from before m0070 (deliveries kept a status)."""
    migrator = db.migrator_for(db.db.obj)
    run_ops(
        migrator.add_column(
            "webhook_delivery", "status", pw.CharField(max_length=10, default="pending")
        )
    )
    db.SchemaVersion.delete().where(db.SchemaVersion.name == NAME).execute()


def test_each_delivery_shows_its_outbox_items_state(app, alice):
    webhook, _ = webhooks.create(
        alice, "http://127.0.0.1:9/hook", ["booking.created"], settings=app.config["CALMESH"]
    )
    sent, failed, waiting = (webhooks.ping(webhook) for _ in range(3))
    OutboxItem.update(status="done").where(OutboxItem.id == sent.outbox_item_id).execute()
    OutboxItem.update(status="failed").where(OutboxItem.id == failed.outbox_item_id).execute()
    _as_before()
    # Delivered before delivered_at was always written: the old column says so.
    table = pw.Table("webhook_delivery", ("id", "status")).bind(db.db.obj)
    table.update(status="delivered").where(table.id == sent.id).execute()

    assert db.migrate() == [NAME]

    after = {d.id: d for d in WebhookDelivery.select()}
    assert after[sent.id].delivered_at is not None
    assert [after[d.id].status for d in (sent, failed, waiting)] == [
        "delivered",
        "failed",
        "pending",
    ]
    assert "status" not in {c.name for c in db.db.get_columns("webhook_delivery")}
    assert db.migrate() == []
