"""calmesh.effects.webhook (kind ``webhook.deliver``): one signed POST of the
stored body to a real receiver on loopback; each attempt's answer is recorded
on the delivery, a refusal is retried, a redirect is not followed, a paused
webhook sends nothing, and giving up marks the webhook failing."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator

import pytest

from calmesh.auth import crypto
from calmesh.effects import webhook
from calmesh.effects.outbox import Defer, GiveUp, Retry
from calmesh.models import Webhook, WebhookDelivery
from calmesh.services import events
from calmesh.services import webhooks as service
from tests.settings import cfg
from tests.webhook_receiver import Receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as server:
        yield server


def subscribed(user, receiver: Receiver) -> tuple[Webhook, WebhookDelivery]:
    hook, receiver.secret = service.create(user, receiver.url, ["booking.created"], settings=cfg())
    events.emit(user.id, "booking.created", {"uid": "b1"}, subject="b1")
    return hook, WebhookDelivery.get(WebhookDelivery.webhook == hook)


def fresh(row):
    return type(row).get_by_id(row.id)


def test_the_signature_is_an_hmac_of_the_time_and_the_body():
    expected = hmac.new(b"s3cret", b"1700000000.{}", hashlib.sha256).hexdigest()
    assert webhook.signature("s3cret", 1700000000, "{}") == f"t=1700000000,v1={expected}"
    assert webhook.signature("s3cret", 1700000001, "{}") != webhook.signature(
        "s3cret", 1700000000, "{}"
    )


def test_the_stored_body_is_sent_signed_and_recorded_delivered(
    app, alice, receiver, context, loopback_counts_as_public
):
    _hook, delivery = subscribed(alice, receiver)
    webhook.deliver({"delivery": delivery.id}, context())
    (got,) = receiver.accepted  # the receiver checked the signature with the README's code
    assert got.body == delivery.body.encode()
    assert got.headers["x-calmesh-event"] == "booking.created"
    assert got.delivery_id == delivery.delivery_id
    row = fresh(delivery)
    assert (row.last_status_code, row.response_excerpt) == (200, '{"ok": true}')
    assert row.delivered_at is not None and row.last_error == ""

    webhook.deliver({"delivery": delivery.id}, context())
    assert len(receiver.log) == 1, "a delivered delivery is not sent again"


def test_a_refusal_is_recorded_and_retried(app, alice, receiver, context):
    _hook, delivery = subscribed(alice, receiver)
    receiver.status = 503
    with pytest.raises(Retry, match="the receiver answered 503"):
        webhook.deliver({"delivery": delivery.id}, context())
    row = fresh(delivery)
    assert (row.last_status_code, row.delivered_at) == (503, None)
    assert row.response_excerpt == "", "a private address's answer is not kept"


def test_a_redirect_is_not_followed(app, alice, receiver, context):
    _hook, delivery = subscribed(alice, receiver)
    receiver.status = 302
    with pytest.raises(Retry, match="redirects are not followed"):
        webhook.deliver({"delivery": delivery.id}, context())


def test_a_paused_webhook_sends_nothing(app, alice, receiver, context):
    hook, delivery = subscribed(alice, receiver)
    Webhook.update(active=False).where(Webhook.id == hook.id).execute()
    with pytest.raises(GiveUp, match="paused"):
        webhook.deliver({"delivery": delivery.id}, context())
    assert receiver.log == []


def test_a_secret_this_host_cannot_read_is_deferred_to_another(app, alice, receiver, context):
    hook, delivery = subscribed(alice, receiver)
    unreadable = crypto.encrypt({"secret": "x"})[::-1]
    Webhook.update(secret=unreadable).where(Webhook.id == hook.id).execute()
    with pytest.raises(Defer):
        webhook.deliver({"delivery": delivery.id}, context())
    assert "cannot read the signing secret" in fresh(delivery).last_error
    assert receiver.log == []


def test_giving_up_marks_the_webhook_failing_until_a_delivery_succeeds(
    app, alice, receiver, context
):
    hook, delivery = subscribed(alice, receiver)
    webhook.gave_up({"delivery": delivery.id}, "gave up after 9 attempts in 24 h: down", context())
    assert fresh(hook).status == "failing"
    assert fresh(hook).last_error == (
        f"booking.created {delivery.delivery_id}: gave up after 9 attempts in 24 h: down"
    )
    assert fresh(delivery).last_error.startswith("gave up")

    events.emit(alice.id, "booking.created", {"uid": "b2"}, subject="b2")
    later = WebhookDelivery.select().order_by(WebhookDelivery.id.desc()).first()
    webhook.deliver({"delivery": later.id}, context())
    assert (fresh(hook).status, fresh(hook).last_error) == ("ok", "")


def test_a_deleted_webhooks_delivery_is_nothing_to_do(app, alice, receiver, context):
    hook, delivery = subscribed(alice, receiver)
    Webhook.delete().where(Webhook.id == hook.id).execute()
    webhook.deliver({"delivery": delivery.id}, context())
    webhook.gave_up({"delivery": delivery.id}, "gone", context())
    assert receiver.log == [] and WebhookDelivery.select().count() == 0
