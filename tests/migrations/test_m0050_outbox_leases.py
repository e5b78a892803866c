"""m0050: outbox items get a lease holder and a retry deadline; a webhook
delivery's own attempt count gives way to a link to its outbox item."""

from __future__ import annotations

import peewee as pw
from playhouse.migrate import migrate as run_ops

from calmesh import db
from calmesh.models import OutboxItem, WebhookDelivery
from calmesh.services import webhooks

NAME = "m0050_outbox_leases"


def _as_before() -> None:
    """The schema of a database from before m0050 (deliveries counted attempts)."""
    migrator = db.migrator_for(db.db.obj)
    # SQLite's own DROP COLUMN refuses a foreign key column: rebuild the table.
    legacy = {"legacy": True} if db.is_sqlite() else {}
    run_ops(
        migrator.drop_column("webhook_delivery", "outbox_item_id", **legacy),
        migrator.drop_column("outbox_item", "lease_holder"),
        migrator.drop_column("outbox_item", "retry_until"),
        migrator.add_column("webhook_delivery", "attempts", pw.IntegerField(default=0)),
    )
    db.SchemaVersion.delete().where(db.SchemaVersion.name == NAME).execute()


def test_each_delivery_is_linked_to_its_newest_outbox_item(app, alice):
    webhook, _ = webhooks.create(
        alice, "http://127.0.0.1:9/hook", ["booking.created"], settings=app.config["CALMESH"]
    )
    first, second = webhooks.ping(webhook), webhooks.ping(webhook)
    items = {d.id: d.outbox_item_id for d in WebhookDelivery.select()}
    OutboxItem.update(attempts=3).where(OutboxItem.id == items[first.id]).execute()
    _as_before()

    assert db.migrate() == [NAME]

    after = {d.id: d for d in WebhookDelivery.select()}
    assert {i: d.outbox_item_id for i, d in after.items()} == items
    assert (after[first.id].attempts, after[second.id].attempts) == (3, 0)
    columns = {c.name for c in db.db.get_columns("webhook_delivery")}
    assert "attempts" not in columns
    assert db.migrate() == []
