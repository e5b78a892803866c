"""Kind ``mail``: an e-mail rendered when it is queued (poll notices and
invitations), sent by :func:`calmesh.services.mail.send` at delivery."""

from __future__ import annotations

from dataclasses import asdict, fields
from typing import Any

from calmesh.effects.outbox import Context, GiveUp, Item, Retry, add
from calmesh.services.mail import Mail, MailError, message_id, message_key, send

KIND = "mail"
LANE = "mail"
_FIELDS = {f.name for f in fields(Mail)}


def queue(mail: Mail, *, ordering_key: str = "") -> None:
    """Queue ``mail`` (inside the caller's transaction). Its Message-ID is fixed
    now, so every retry carries the same one."""
    payload = asdict(mail)
    if not mail.message_id:
        payload["message_key"] = message_key()
    add(Item(KIND, payload, mail.user_id, ordering_key[:100]))


def deliver(payload: dict[str, Any], context: Context) -> None:
    mail = Mail(**{k: v for k, v in payload.items() if k in _FIELDS})
    if not mail.message_id and payload.get("message_key"):
        mail.message_id = message_id(context.settings, payload["message_key"])
    send_now(mail, context)


def send_now(mail: Mail, context: Context) -> None:
    """Send (or log) ``mail``, turning what went wrong into Retry or GiveUp."""
    try:
        send(mail, context.settings)
    except MailError as exc:
        raise (Retry if exc.retry else GiveUp)(str(exc)) from None
    except ValueError as exc:  # compose refused it: it can never be sent
        raise GiveUp(str(exc)) from None


def gave_up(payload: dict[str, Any], error: str, context: Context) -> None:
    """Nothing else to mark: the failed item is what the mail page shows."""
