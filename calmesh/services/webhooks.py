"""Webhooks: subscriptions, their signed deliveries, and the log of every attempt.

Events are queued by :func:`calmesh.services.events.emit` in the transaction
of the change that causes them: one :class:`WebhookDelivery` (the exact body)
and one outbox item each. The outbox handler here sends them, only ever from
the scheduler: a POST of the stored body, signed with the webhook's secret as
``X-CalMesh-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>">``.

A receiver that is down loses nothing: each failure is recorded on the
delivery and retried by the outbox (one retry state: its back-off and its
``outbox.retry_hours``). When the outbox gives up, the delivery is ``failed``
and the webhook ``failing`` (shown in the dashboard) until a later delivery
succeeds; the owner can redeliver one or all failed ones by hand. Deliveries
of one subject (a booking) to one webhook go one at a time, oldest first (the
outbox's ordering key), so a receiver that comes back gets them in order.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from typing import Any
from urllib.parse import urlsplit

from flask import current_app
from peewee import JOIN

from calmesh.auth import crypto
from calmesh.db import utcnow, write_transaction
from calmesh.models import OutboxItem, User, Webhook, WebhookDelivery
from calmesh.providers import net
from calmesh.providers.base import HttpSettings, ProviderError
from calmesh.services import events, outbox
from calmesh.services.errors import ServiceError

SECRET_PREFIX = "whsec_"  # noqa: S105  (a prefix, not a secret)
# Not a domain event: only POST /webhooks/:id/ping queues it, so emit() keeps
# refusing it and nobody can subscribe to it.
PING = "ping"
EXCERPT_CHARS = 500
# Enough of an answer for the excerpt; the rest is not read.
READ_AT_MOST = 4096


class WebhookError(ServiceError):
    """A webhook change that is refused (422 for a URL that may not be called)."""


# --- subscriptions ------------------------------------------------------------------------


def get_for(user: User, webhook_id: int) -> Webhook | None:
    """The user's webhook, or None (another user's answers 404 to the caller)."""
    return Webhook.get_or_none((Webhook.id == webhook_id) & (Webhook.user == user))


def _allow_private() -> bool:
    return current_app.config["CALMESH"]["security.allow_private_addresses"]


def check_target(url: str) -> None:
    """Refuse a URL on loopback or a private network unless the config allows it,
    and one that carries a user name or password: it would be stored and shown
    in clear, and the signature already authenticates every request."""
    if "@" in urlsplit(url).netloc:
        raise WebhookError(
            "put no user name or password in a webhook URL: verify X-CalMesh-Signature instead",
            422,
            "url_refused",
        )
    try:
        net.check_url(url, _allow_private())
    except ProviderError as exc:
        raise WebhookError(str(exc), 422, "url_refused") from None


def _new_secret() -> tuple[str, str]:
    """A new signing secret: (shown once, stored encrypted)."""
    secret = SECRET_PREFIX + secrets.token_hex(24)
    return secret, crypto.encrypt({"secret": secret}, crypto.WEBHOOK_SECRETS)


def secret_of(webhook: Webhook) -> str:
    return crypto.decrypt(webhook.secret, crypto.WEBHOOK_SECRETS)["secret"]


def create(user: User, url: str, events: list[str], active: bool = True) -> tuple[Webhook, str]:
    """A new webhook and its secret, which is never shown again."""
    check_target(url)
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
) -> tuple[Webhook, str | None]:
    """Change what is given; with ``rotate_secret`` the new secret is returned (once).

    Deliveries still queued are signed with the secret current when they are sent.
    """
    if url is not None:
        check_target(url)
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
        events.queue_delivery(delivery, f"webhook:{webhook.id}:{delivery.delivery_id}")
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
            deliveries_of(webhook)
            .where(WebhookDelivery.status == "failed")
            .order_by(WebhookDelivery.id)
        )
        for delivery in failed:
            _redeliver(delivery)
    return len(failed)


def _redeliver(delivery: WebhookDelivery) -> None:
    queued = OutboxItem.get_or_none(OutboxItem.id == delivery.outbox_item_id)
    WebhookDelivery.update(status="pending", last_error="").where(
        WebhookDelivery.id == delivery.id
    ).execute()
    if queued is not None and queued.status == "pending":
        outbox.requeue(queued.id)
    else:
        events.queue_delivery(
            delivery,
            queued.ordering_key
            if queued is not None
            else f"webhook:{delivery.webhook_id}:{delivery.delivery_id}",
        )


# --- sending, from the outbox ---------------------------------------------------------------


def signature(secret: str, timestamp: int, body: str) -> str:
    """The ``X-CalMesh-Signature`` value for ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.{body}".encode(), hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def _settings() -> HttpSettings:
    config = current_app.config["CALMESH"]
    return HttpSettings(
        timeout=config["webhooks.timeout_seconds"],
        allow_private=config["security.allow_private_addresses"],
    )


def _post(url: str, body: str, headers: dict[str, str], settings: HttpSettings) -> tuple[int, str]:
    """POST ``body`` (redirects are not followed); the status and the answer's start.

    The start is kept only from a public address: with private addresses
    allowed, it would let a user of the instance read the local network's
    services through the delivery log.
    """
    net.check_url(url, settings.allow_private, resolve_host=False)  # the transport resolves
    where = urlsplit(url).hostname or url
    # A receiver sending a byte now and then must not hold the worker: the
    # status is known already, so reading simply stops at the deadline.
    deadline = time.monotonic() + settings.timeout * net.WHOLE_ANSWER_TIMEOUTS
    head = b""
    with (
        net.client(settings) as http,
        net.translated_errors(where),
        http.stream(
            "POST", url, content=body.encode(), headers=headers, follow_redirects=False
        ) as response,
    ):
        if not net.peer_is_public(response):
            return response.status_code, ""
        for chunk in response.iter_bytes():
            head += chunk
            if len(head) >= READ_AT_MOST or time.monotonic() > deadline:
                break
    return response.status_code, head.decode("utf-8", "replace")[:EXCERPT_CHARS]


def _gave_up(payload: dict[str, Any], item: OutboxItem, error: str) -> None:
    """The outbox stopped retrying: the delivery is failed, and the webhook
    failing unless it was only paused."""
    delivery = WebhookDelivery.get_or_none(WebhookDelivery.id == payload["delivery"])
    if delivery is None:
        return
    # The last attempt's own error stays (it says what the receiver did).
    WebhookDelivery.update(status="failed", last_error=(delivery.last_error or error)[:2000]).where(
        WebhookDelivery.id == delivery.id
    ).execute()
    webhook = delivery.webhook
    if webhook.active:
        message = f"{delivery.event} {delivery.delivery_id}: {error}"
        if not error.startswith("gave up"):
            message = f"{delivery.event} {delivery.delivery_id}: gave up: {error}"
        Webhook.update(status="failing", last_error=message[:2000]).where(
            Webhook.id == webhook.id
        ).execute()


@outbox.handler("webhook.deliver", lane="webhooks", on_give_up=_gave_up)
def deliver(payload: dict[str, Any]) -> None:
    """Send one delivery: 2xx is delivered; anything else is recorded and retried
    (the outbox keeps the count and decides when to give up)."""
    delivery = (
        WebhookDelivery.select(WebhookDelivery, Webhook)
        .join(Webhook)
        .where(WebhookDelivery.id == payload["delivery"])
        .first()
    )
    if delivery is None or delivery.status != "pending":
        return  # the webhook was deleted, or this delivery was sent already
    webhook = delivery.webhook
    if not webhook.active:
        raise outbox.GiveUp("not sent: the webhook is paused")
    status_code, excerpt, error, permanent = None, "", "", False
    try:
        timestamp = int(time.time())
        headers = {
            "Content-Type": "application/json",
            "X-CalMesh-Event": delivery.event,
            "X-CalMesh-Delivery": delivery.delivery_id,
            "X-CalMesh-Signature": signature(secret_of(webhook), timestamp, delivery.body),
        }
        status_code, excerpt = _post(webhook.url, delivery.body, headers, _settings())
    except crypto.CredentialsUnreadable as exc:
        # Another host (with the right key) can sign it: never given up for this.
        error = f"not sent: this host cannot read the signing secret ({exc})"
        _record(delivery, None, "", error)
        raise outbox.Defer(error) from None
    except ProviderError as exc:
        error, permanent = str(exc), exc.permanent
    if status_code is not None and 200 <= status_code < 300:
        _record(delivery, status_code, excerpt, "", delivered=True)
        return
    if status_code is not None:
        error = f"the receiver answered {status_code}"
        if 300 <= status_code < 400:
            error += " (redirects are not followed: use the final URL)"
    _record(delivery, status_code, excerpt, error)
    if permanent:
        raise outbox.GiveUp(error)
    raise outbox.Retry(error)


def _record(
    delivery: WebhookDelivery,
    status_code: int | None,
    excerpt: str,
    error: str,
    *,
    delivered: bool = False,
) -> None:
    """Log one attempt on the delivery; a success also clears the webhook's failing."""
    now = utcnow()
    with write_transaction():
        WebhookDelivery.update(
            status="delivered" if delivered else "pending",
            last_status_code=status_code,
            response_excerpt=excerpt,
            last_error=error[:2000],
            last_attempt_at=now,
            delivered_at=now if delivered else None,
        ).where(WebhookDelivery.id == delivery.id).execute()
        if delivered:
            Webhook.update(status="ok", last_error="").where(
                (Webhook.id == delivery.webhook_id) & (Webhook.status != "ok")
            ).execute()
