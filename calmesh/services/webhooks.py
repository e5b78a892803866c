"""Webhooks: subscriptions, their signed deliveries, and the log of every attempt.

Events are queued by :func:`calmesh.services.events.emit` in the transaction
of the change that causes them: one :class:`WebhookDelivery` (the exact body)
and one outbox item each. :mod:`calmesh.effects.webhook` sends them, only ever
from the scheduler: a POST of the stored body, signed with the webhook's
secret as ``X-CalMesh-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>">``.

A receiver that is down loses nothing: each failure is recorded on the
delivery and retried by the outbox (one retry state: its back-off and its
``outbox.retry_hours``). When the outbox gives up, the delivery is ``failed``
and the webhook ``failing`` (shown in the dashboard) until a later delivery
succeeds; the owner can redeliver one or all failed ones by hand. Deliveries
of one subject (a booking) to one webhook go one at a time, oldest first (the
outbox's ordering key), so a receiver that comes back gets them in order.
"""

from __future__ import annotations

import json
import secrets
from typing import Any
from urllib.parse import urlsplit

from peewee import JOIN

from calmesh.auth import crypto
from calmesh.config import Config
from calmesh.db import utcnow, write_transaction
from calmesh.effects import outbox
from calmesh.effects import webhook as sending
from calmesh.effects.webhook import (  # noqa: F401  (read here by the API, pages and tests)
    EXCERPT_CHARS,
    secret_of,
    signature,
)
from calmesh.models import OutboxItem, User, Webhook, WebhookDelivery
from calmesh.providers import net
from calmesh.providers.base import ProviderError
from calmesh.services.errors import ServiceError

SECRET_PREFIX = "whsec_"  # noqa: S105  (a prefix, not a secret)
# Not a domain event: only POST /webhooks/:id/ping queues it, so emit() keeps
# refusing it and nobody can subscribe to it.
PING = "ping"


class WebhookError(ServiceError):
    """A webhook change that is refused (422 for a URL that may not be called)."""


# --- subscriptions ------------------------------------------------------------------------


def get_for(user: User, webhook_id: int) -> Webhook | None:
    """The user's webhook, or None (another user's answers 404 to the caller)."""
    return Webhook.get_or_none((Webhook.id == webhook_id) & (Webhook.user == user))


def check_target(url: str, settings: Config) -> None:
    """Refuse a URL on loopback or a private network unless ``settings`` allow it,
    and one that carries a user name or password: it would be stored and shown
    in clear, and the signature already authenticates every request."""
    if "@" in urlsplit(url).netloc:
        raise WebhookError(
            "put no user name or password in a webhook URL: verify X-CalMesh-Signature instead",
            422,
            "url_refused",
        )
    try:
        net.check_url(url, settings["security.allow_private_addresses"])
    except ProviderError as exc:
        raise WebhookError(str(exc), 422, "url_refused") from None


def _new_secret() -> tuple[str, str]:
    """A new signing secret: (shown once, stored encrypted)."""
    secret = SECRET_PREFIX + secrets.token_hex(24)
    return secret, crypto.encrypt({"secret": secret}, crypto.WEBHOOK_SECRETS)


def create(
    user: User, url: str, events: list[str], active: bool = True, *, settings: Config
) -> tuple[Webhook, str]:
    """A new webhook and its secret, which is never shown again."""
    check_target(url, settings)
    secret, stored = _new_secret()
    with write_transaction():
        webhook = Webhook.create(
            user=user, url=url, events=_unique(events), active=active, secret=stored
        )
    return webhook, secret


def update(
    webhook: Webhook,
    *,
    url: str | None = None,
    events: list[str] | None = None,
    active: bool | None = None,
    rotate_secret: bool = False,
    settings: Config,
) -> tuple[Webhook, str | None]:
    """Change what is given; with ``rotate_secret`` the new secret is returned (once).

    Deliveries still queued are signed with the secret current when they are sent.
    """
    if url is not None:
        check_target(url, settings)
        webhook.url = url
    if events is not None:
        webhook.events = _unique(events)
    if active is not None:
        webhook.active = active
    secret = None
    if rotate_secret:
        secret, webhook.secret = _new_secret()
    with write_transaction():
        webhook.save()
    return webhook, secret


def delete(webhook: Webhook) -> None:
    """Remove the webhook and its delivery log; queued deliveries are dropped when due."""
    with write_transaction():
        webhook.delete_instance(recursive=True)


def _unique(events: list[str]) -> list[str]:
    return list(dict.fromkeys(events))


# --- deliveries ---------------------------------------------------------------------------


def deliveries_of(webhook: Webhook):
    # With its outbox item, which holds the attempts (no query per row).
    return (
        WebhookDelivery.select(WebhookDelivery, OutboxItem)
        .join(OutboxItem, JOIN.LEFT_OUTER)
        .where(WebhookDelivery.webhook == webhook)
    )


def get_delivery(webhook: Webhook, delivery_id: str) -> WebhookDelivery | None:
    return WebhookDelivery.get_or_none(
        (WebhookDelivery.webhook == webhook) & (WebhookDelivery.delivery_id == delivery_id)
    )


def body_for(event: str, data: dict[str, Any]) -> str:
    """The JSON that is signed and sent: ``{"event", "created_at", "data"}``."""
    created = utcnow().isoformat().replace("+00:00", "Z")
    return json.dumps({"event": event, "created_at": created, "data": data}, separators=(",", ":"))


def ping(webhook: Webhook) -> WebhookDelivery:
    """Queue a ``ping`` delivery, to try the receiver and its signature check."""
    if not webhook.active:
        raise WebhookError("the webhook is paused; activate it first", 409, "paused")
    with write_transaction():
        delivery = WebhookDelivery.create(
            webhook=webhook,
            event=PING,
            body=body_for(PING, {"webhook_id": webhook.id, "url": webhook.url}),
        )
        sending.queue(delivery, f"webhook:{webhook.id}:{delivery.delivery_id}")
    return delivery


def redeliver(delivery: WebhookDelivery) -> WebhookDelivery:
    """Send a delivery again, by hand: back to pending, with a fresh retry budget.

    It keeps its place among its subject's deliveries: one still queued is only
    made due now; otherwise it is queued anew behind the subject's others.
    """
    webhook = delivery.webhook
    if not webhook.active:
        raise WebhookError("the webhook is paused; activate it first", 409, "paused")
    with write_transaction():
        _redeliver(delivery)
    return WebhookDelivery.get_by_id(delivery.id)


def redeliver_failed(webhook: Webhook) -> int:
    """Send every failed delivery of ``webhook`` again, oldest first (so each
    subject's events arrive in the order they happened); how many were queued."""
    if not webhook.active:
        raise WebhookError("the webhook is paused; activate it first", 409, "paused")
    with write_transaction():
        failed = list(
            deliveries_of(webhook).where(WebhookDelivery.failed()).order_by(WebhookDelivery.id)
        )
        for delivery in failed:
            _redeliver(delivery)
    return len(failed)


def _redeliver(delivery: WebhookDelivery) -> None:
    queued = OutboxItem.get_or_none(OutboxItem.id == delivery.outbox_item_id)
    WebhookDelivery.update(delivered_at=None, last_error="").where(
        WebhookDelivery.id == delivery.id
    ).execute()
    if queued is not None and queued.status == "pending":
        outbox.requeue(queued.id)
    else:
        sending.queue(
            delivery,
            queued.ordering_key
            if queued is not None
            else f"webhook:{delivery.webhook_id}:{delivery.delivery_id}",
        )
