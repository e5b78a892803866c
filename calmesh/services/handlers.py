"""Every outbox handler, registered by importing the modules that define them."""

from __future__ import annotations

from typing import Any

from flask import current_app

# Imported for the handlers they register: booking.writeback, poll.writeback,
# webhook.deliver.
from calmesh.services import bookings, outbox, polls, webhooks  # noqa: F401
from calmesh.services.mail import Mail, MailError, send


@outbox.handler("mail", lane="mail")
def send_mail(payload: dict[str, Any]) -> None:
    try:
        send(Mail(**payload), current_app.config["CALMESH"])
    except MailError as exc:
        raise (outbox.Retry if exc.retry else outbox.GiveUp)(str(exc)) from None
