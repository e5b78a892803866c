"""The mail log: every e-mail CalMesh sent, or would have sent, for an owner."""

from __future__ import annotations

import peewee as pw

from calmesh.db import BaseModel, UTCDateTimeField, utcnow
from calmesh.models.users import User

MAIL_STATUSES = ("sent", "logged", "failed")


class MailMessage(BaseModel):
    """One e-mail. ``logged``: no SMTP server is configured, so the owner reads it
    here instead; ``sent``: the SMTP server accepted it; ``failed``: given up on."""

    user = pw.ForeignKeyField(User, backref="mail_messages", null=True, on_delete="CASCADE")
    to_address = pw.CharField(max_length=254)
    subject = pw.TextField()
    body = pw.TextField()
    ics = pw.TextField(null=True)
    ics_method = pw.CharField(max_length=10, default="")  # REQUEST | CANCEL | PUBLISH | ""
    message_id = pw.CharField(max_length=255, default="")
    status = pw.CharField(max_length=10, choices=[(s, s) for s in MAIL_STATUSES])
    error = pw.TextField(default="")
    created_at = UTCDateTimeField(default=utcnow)
    sent_at = UTCDateTimeField(null=True)

    class Meta:
        indexes = ((("user", "created_at"), False),)

    @classmethod
    def recent_for(cls, user: User | int, limit: int = 50) -> pw.ModelSelect:
        """The owner's newest mails first, for the dashboard's mail log."""
        return (
            cls.select()
            .where(cls.user == user)
            .order_by(cls.created_at.desc(), cls.id.desc())
            .limit(limit)
        )
