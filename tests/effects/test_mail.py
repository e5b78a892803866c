"""calmesh.effects.mail (kind ``mail``): a mail rendered when queued, sent at
delivery with the Message-ID fixed when it was queued; a refusal that retrying
cannot fix fails it, a busy server retries it."""

from __future__ import annotations

from datetime import timedelta

from calmesh.db import utcnow
from calmesh.effects import mail
from calmesh.models import MailMessage, OutboxItem
from calmesh.services.mail import Mail
from tests.settings import configure


def test_a_queued_mail_is_the_whole_mail_with_a_key_for_its_message_id(app, alice):
    mail.queue(
        Mail(to="vera@example.net", subject="Hi", body="Hello", user_id=alice.id),
        ordering_key="k" * 150,
    )
    (item,) = OutboxItem.select()
    assert (item.kind, item.user_id, item.ordering_key) == ("mail", alice.id, "k" * 100)
    assert item.payload["subject"] == "Hi" and item.payload["to"] == "vera@example.net"
    assert item.payload["message_key"]


def test_a_retried_mail_keeps_its_message_id(app, smtp_server, monkeypatch, deliver_due):
    configure(monkeypatch, app, smtp_server.settings())
    mail.queue(Mail(to="vera@example.net", subject="Confirmed", body="Hi"))
    smtp_server.data_reply = "451 4.3.0 try again later"
    deliver_due()
    assert OutboxItem.get().status == "pending"
    smtp_server.data_reply = None
    deliver_due(now=utcnow() + timedelta(minutes=1))

    (received,) = smtp_server.messages
    stable = received.message["Message-ID"]
    assert stable.startswith("<") and stable.endswith(">")
    assert [m.message_id for m in MailMessage.select().order_by(MailMessage.id)] == [stable] * 2
    assert OutboxItem.get().status == "done"


def test_a_refused_address_fails_the_mail_for_good(app, smtp_server, monkeypatch, deliver_due):
    configure(monkeypatch, app, smtp_server.settings())
    smtp_server.refuse("gone@example.net", "550 5.1.1 no such user")
    mail.queue(Mail(to="gone@example.net", subject="Hi", body="Hello"))
    deliver_due()
    item = OutboxItem.get()
    assert item.status == "failed" and "550" in item.last_error
    assert smtp_server.messages == []


def test_a_mail_that_cannot_be_composed_is_given_up(app, smtp_server, monkeypatch, deliver_due):
    configure(monkeypatch, app, smtp_server.settings())
    mail.queue(Mail(to="not an address", subject="Hi", body="Hello"))
    deliver_due()
    assert OutboxItem.get().status == "failed" and smtp_server.messages == []
