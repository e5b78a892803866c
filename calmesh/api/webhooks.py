"""Webhooks: subscribe a URL to events, its secret shown once, the delivery log,
redeliver by hand, ping. Everything here needs the ``full`` scope: a webhook
sends the owner's bookings to another server."""

from __future__ import annotations

from flask import current_app

from calmesh.api.framework import current_principal as who
from calmesh.api.framework import endpoint, not_found
from calmesh.api.pagination import PAGE_QUERY, page_of, paginate
from calmesh.api.serializers import iso
from calmesh.inputs import webhooks as inputs
from calmesh.models import Webhook, WebhookDelivery
from calmesh.models.webhooks import EVENTS
from calmesh.schema import Boolean, Choice, DateTime, Integer, List, Object, String, Url
from calmesh.services import webhooks as service

TAG = "Webhooks"
WEBHOOK_OUT = Object(
    {
        "id": Integer(),
        "url": Url(),
        "events": List(Choice(*EVENTS)),
        "active": Boolean(),
        "status": Choice("ok", "failing"),
        "last_error": String(
            max_length=2000, description="While failing: the delivery given up on, and why"
        ),
        "created_at": DateTime(),
    },
    name="Webhook",
)
SECRET = String(description="Signs every delivery (X-CalMesh-Signature). Shown this once.")
NEW_WEBHOOK_OUT = Object({**WEBHOOK_OUT.fields, "secret": SECRET}, name="WebhookWithSecret")
UPDATED_WEBHOOK_OUT = Object(
    {**WEBHOOK_OUT.fields, "secret": String(default=None, description="With rotate_secret only")},
    name="UpdatedWebhook",
)
DELIVERY_OUT = Object(
    {
        "id": String(description="The delivery id, also sent as X-CalMesh-Delivery"),
        "delivery_id": String(),
        "event": String(description="One of the webhook events, or ping"),
        "status": Choice("pending", "delivered", "failed"),
        "attempts": Integer(),
        "last_status_code": Integer(nullable=True),
        "response_excerpt": String(max_length=service.EXCERPT_CHARS),
        "last_error": String(max_length=2000),
        "created_at": DateTime(),
        "last_attempt_at": DateTime(nullable=True),
        "delivered_at": DateTime(nullable=True),
    },
    name="WebhookDelivery",
)


def webhook_out(webhook: Webhook) -> dict:
    return {
        "id": webhook.id,
        "url": webhook.url,
        "events": list(webhook.events),
        "active": webhook.active,
        "status": webhook.status,
        "last_error": webhook.last_error,
        "created_at": iso(webhook.created_at),
    }


def delivery_out(delivery: WebhookDelivery) -> dict:
    return {
        "id": delivery.delivery_id,
        "delivery_id": delivery.delivery_id,
        "event": delivery.event,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "last_status_code": delivery.last_status_code,
        "response_excerpt": delivery.response_excerpt[: service.EXCERPT_CHARS],
        "last_error": delivery.last_error,
        "created_at": iso(delivery.created_at),
        "last_attempt_at": iso(delivery.last_attempt_at),
        "delivered_at": iso(delivery.delivered_at),
    }


def _settings():
    return current_app.config["CALMESH"]


def owned(webhook_id: int) -> Webhook:
    webhook = service.get_for(who().user, webhook_id)
    if webhook is None:
        raise not_found("webhook")
    return webhook


@endpoint(
    "/webhooks",
    "POST",
    auth="full",
    body=inputs.NEW_WEBHOOK,
    response=NEW_WEBHOOK_OUT,
    status=201,
    errors=(422,),
    summary="Create a webhook (the signing secret is returned once)",
    tag=TAG,
)
def create_webhook(body):
    webhook, secret = service.create(
        who().user, body["url"], body["events"], body["active"], settings=_settings()
    )
    return {**webhook_out(webhook), "secret": secret}


@endpoint(
    "/webhooks",
    "GET",
    auth="full",
    query=Object(PAGE_QUERY),
    response=page_of(WEBHOOK_OUT, "WebhookPage"),
    summary="List webhooks with their status",
    tag=TAG,
)
def list_webhooks(query):
    return paginate(
        Webhook.for_user(who().user), order=[Webhook.id], serialize=webhook_out, **query
    )


@endpoint(
    "/webhooks/<int:webhook_id>",
    "GET",
    auth="full",
    response=WEBHOOK_OUT,
    summary="A webhook (never its secret)",
    tag=TAG,
)
def get_webhook(webhook_id):
    return webhook_out(owned(webhook_id))


@endpoint(
    "/webhooks/<int:webhook_id>",
    "PATCH",
    auth="full",
    body=inputs.WEBHOOK_PATCH,
    response=UPDATED_WEBHOOK_OUT,
    errors=(422,),
    summary="Change the URL, events or active; rotate_secret answers a new secret once",
    tag=TAG,
)
def update_webhook(webhook_id, body):
    webhook = owned(webhook_id)
    webhook, secret = service.update(
        webhook,
        url=body.get("url"),
        events=body.get("events"),
        active=body.get("active"),
        rotate_secret=body["rotate_secret"],
        settings=_settings(),
    )
    answer = webhook_out(webhook)
    if secret is not None:
        answer["secret"] = secret
    return answer


@endpoint(
    "/webhooks/<int:webhook_id>",
    "DELETE",
    auth="full",
    response=Object({"id": Integer(), "deleted": Boolean()}, name="Deleted"),
    summary="Delete a webhook and its delivery log",
    tag=TAG,
)
def delete_webhook(webhook_id):
    service.delete(owned(webhook_id))
    return {"id": webhook_id, "deleted": True}


@endpoint(
    "/webhooks/<int:webhook_id>/deliveries",
    "GET",
    auth="full",
    query=Object(PAGE_QUERY),
    response=page_of(DELIVERY_OUT, "WebhookDeliveryPage"),
    summary="The delivery log, newest first: attempts, status code, an excerpt of the answer",
    tag=TAG,
)
def list_deliveries(webhook_id, query):
    return paginate(
        service.deliveries_of(owned(webhook_id)),
        order=[WebhookDelivery.id],
        descending=True,
        serialize=delivery_out,
        **query,
    )


@endpoint(
    "/webhooks/<int:webhook_id>/deliveries/<delivery_id>/redeliver",
    "POST",
    auth="full",
    response=DELIVERY_OUT,
    status=202,
    errors=(409,),
    summary="Send a delivery again (queued; the scheduler sends it within seconds)",
    tag=TAG,
)
def redeliver(webhook_id, delivery_id):
    delivery = service.get_delivery(owned(webhook_id), delivery_id)
    if delivery is None:
        raise not_found("delivery")
    return delivery_out(service.redeliver(delivery))


REDELIVERED_OUT = Object(
    {"queued": Integer(description="How many failed deliveries were queued again")},
    name="Redelivered",
)


@endpoint(
    "/webhooks/<int:webhook_id>/redeliver-failed",
    "POST",
    auth="full",
    response=REDELIVERED_OUT,
    status=202,
    errors=(409,),
    summary="Send every failed delivery again, oldest first (in order per booking)",
    tag=TAG,
)
def redeliver_failed(webhook_id):
    return {"queued": service.redeliver_failed(owned(webhook_id))}


@endpoint(
    "/webhooks/<int:webhook_id>/ping",
    "POST",
    auth="full",
    response=DELIVERY_OUT,
    status=202,
    errors=(409,),
    summary="Queue a signed ping event, to test the receiver",
    tag=TAG,
)
def ping_webhook(webhook_id):
    return delivery_out(service.ping(owned(webhook_id)))
