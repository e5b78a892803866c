"""calmesh.services.events: a domain event is queued, inside the change's
transaction, once for each of the owner's active webhooks that subscribed to
it, and one subject's events go to one webhook in order."""

from __future__ import annotations

import json

import pytest

from calmesh.db import write_transaction
from calmesh.models import OutboxItem, WebhookDelivery
from calmesh.services import events
from calmesh.services import webhooks as service
from tests.settings import cfg

URL = "http://127.0.0.1:9/calmesh"  # never called: nothing is delivered here


def test_an_event_reaches_only_the_owners_active_subscribed_webhooks(app, alice, bob):
    wanted, _ = service.create(alice, URL, ["booking.created", "booking.cancelled"], settings=cfg())
    service.create(alice, URL + "/other", ["poll.decided"], settings=cfg())
    service.create(alice, URL + "/paused", ["booking.created"], active=False, settings=cfg())
    service.create(bob, URL, ["booking.created"], settings=cfg())

    assert events.emit(alice.id, "booking.created", {"uid": "b1"}, subject="b1") == 1

    (delivery,) = WebhookDelivery.select()
    assert delivery.webhook_id == wanted.id and delivery.event == "booking.created"
    body = json.loads(delivery.body)
    assert (body["event"], body["data"]) == ("booking.created", {"uid": "b1"})
    item = OutboxItem.get_by_id(delivery.outbox_item_id)
    assert (item.kind, item.ordering_key) == ("webhook.deliver", f"webhook:{wanted.id}:b1")


def test_without_a_subject_each_delivery_is_ordered_on_its_own(app, alice):
    service.create(alice, URL, ["connection.error"], settings=cfg())
    events.emit(alice.id, "connection.error", {"n": 1})
    events.emit(alice.id, "connection.error", {"n": 2})
    keys = [i.ordering_key for i in OutboxItem.select().order_by(OutboxItem.id)]
    ids = [d.delivery_id for d in WebhookDelivery.select().order_by(WebhookDelivery.id)]
    assert keys == [f"webhook:{key.split(':')[1]}:{d}" for key, d in zip(keys, ids, strict=True)]
    assert len(set(keys)) == 2


def test_an_unknown_event_is_a_bug_and_queues_nothing(app, alice):
    service.create(alice, URL, ["booking.created"], settings=cfg())
    with pytest.raises(ValueError, match=r"unknown event 'booking\.exploded'"):
        events.emit(alice.id, "booking.exploded", {})
    assert WebhookDelivery.select().count() == 0


def test_an_event_exists_exactly_when_its_change_does(app, alice):
    service.create(alice, URL, ["booking.created"], settings=cfg())

    class Refused(Exception):
        pass

    with pytest.raises(Refused), write_transaction():
        events.emit(alice.id, "booking.created", {"uid": "b1"})
        raise Refused
    assert WebhookDelivery.select().count() == OutboxItem.select().count() == 0
