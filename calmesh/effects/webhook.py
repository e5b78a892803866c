"""Kind ``webhook.deliver``: one signed POST of a stored webhook delivery.

:func:`calmesh.services.events.emit` writes a :class:`WebhookDelivery` (the
exact body) and calls :func:`queue`. Delivery POSTs the stored body, signed
with the webhook's secret as ``X-CalMesh-Signature: t=<unix>,v1=<hex
HMAC-SHA256 of "<t>.<body>">``. Each attempt's answer (status, excerpt, error)
is recorded on the delivery; how many attempts there were, and whether more
will come, is the outbox item's (the delivery points at it). When the outbox
gives up, the delivery is ``failed`` and the webhook ``failing`` until a
later delivery succeeds.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any
from urllib.parse import urlsplit

from calmesh.auth import crypto
from calmesh.db import utcnow, write_transaction
from calmesh.effects.outbox import Context, Defer, GiveUp, Item, Retry, add
from calmesh.models import Webhook, WebhookDelivery
from calmesh.providers import net
from calmesh.providers.base import HttpSettings, ProviderError

KIND = "webhook.deliver"
LANE = "webhooks"
EXCERPT_CHARS = 500
# Enough of an answer for the excerpt; the rest is not read.
READ_AT_MOST = 4096


def queue(delivery: WebhookDelivery, ordering_key: str) -> None:
    """Queue the item that sends ``delivery`` (inside the caller's transaction)."""
    item = add(Item(KIND, {"delivery": delivery.id}, delivery.webhook.user_id, ordering_key))
    WebhookDelivery.update(outbox_item=item).where(WebhookDelivery.id == delivery.id).execute()
    delivery.outbox_item = item


def secret_of(webhook: Webhook) -> str:
    return crypto.decrypt(webhook.secret, crypto.WEBHOOK_SECRETS)["secret"]


def signature(secret: str, timestamp: int, body: str) -> str:
    """The ``X-CalMesh-Signature`` value for ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.{body}".encode(), hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def _settings(config) -> HttpSettings:
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


def gave_up(payload: dict[str, Any], error: str, context: Context) -> None:
    """The outbox stopped retrying (so the delivery shows ``failed``): the
    webhook is failing unless it was only paused."""
    delivery = WebhookDelivery.get_or_none(WebhookDelivery.id == payload["delivery"])
    if delivery is None:
        return
    if not delivery.last_error:  # else the last attempt's own error stays: what the receiver did
        WebhookDelivery.update(last_error=error[:2000]).where(
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


def deliver(payload: dict[str, Any], context: Context) -> None:
    """Send one delivery: 2xx is delivered; anything else is recorded and retried
    (the outbox keeps the count and decides when to give up)."""
    delivery = (
        WebhookDelivery.select(WebhookDelivery, Webhook)
        .join(Webhook)
        .where(WebhookDelivery.id == payload["delivery"])
        .first()
    )
    if delivery is None or delivery.delivered_at is not None:
        return  # the webhook was deleted, or this delivery was sent already
    webhook = delivery.webhook
    if not webhook.active:
        raise GiveUp("not sent: the webhook is paused")
    status_code, excerpt, error, permanent = None, "", "", False
    try:
        timestamp = int(time.time())
        headers = {
            "Content-Type": "application/json",
            "X-CalMesh-Event": delivery.event,
            "X-CalMesh-Delivery": delivery.delivery_id,
            "X-CalMesh-Signature": signature(secret_of(webhook), timestamp, delivery.body),
        }
        settings = _settings(context.settings)
        status_code, excerpt = _post(webhook.url, delivery.body, headers, settings)
    except crypto.CredentialsUnreadable as exc:
        # Another host (with the right key) can sign it: never given up for this.
        error = f"not sent: this host cannot read the signing secret ({exc})"
        _record(delivery, None, "", error)
        raise Defer(error) from None
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
        raise GiveUp(error)
    raise Retry(error)


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
