"""Outbox items get a renewable lease holder and a retry deadline; a webhook
delivery points at the outbox item that sends it instead of counting its
attempts a second time."""

from __future__ import annotations

import peewee as pw
from playhouse.migrate import migrate

from calmesh.db import UTCDateTimeField


class _Outbox(pw.Model):
    """The outbox table as this migration knows it (only its key is referenced)."""

    class Meta:
        table_name = "outbox_item"


def up(migrator, db):
    _Outbox._meta.set_database(db)
    migrate(
        migrator.add_column(
            "outbox_item", "lease_holder", pw.CharField(max_length=200, default="")
        ),
        migrator.add_column("outbox_item", "retry_until", UTCDateTimeField(null=True)),
        migrator.add_column(
            "webhook_delivery",
            "outbox_item_id",
            pw.ForeignKeyField(_Outbox, field=_Outbox.id, null=True, on_delete="SET NULL"),
        ),
    )
    # Each delivery's newest outbox item (payloads are stored as compact JSON).
    db.execute_sql(
        "UPDATE webhook_delivery SET outbox_item_id = (SELECT MAX(o.id) FROM outbox_item o "
        "WHERE o.kind = 'webhook.deliver' "
        "AND o.payload = '{\"delivery\":' || webhook_delivery.id || '}')"
    )
    migrate(migrator.drop_column("webhook_delivery", "attempts"))
