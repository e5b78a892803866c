"""Webhook delivery (SPEC §5) against a real HTTP receiver on loopback: events
raised by the real services, the signature checked with the README's own
function, the receiver down then up (every delivery arrives, none twice, each
booking's events in order), retries, giving up and the webhook turning
failing, redelivery, ping, timeouts, redirects and the SSRF guard.

Time is moved forward by making the outbox's waiting items due at once.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from flask import current_app

from calmesh.db import utcnow
from calmesh.jobs.outbox import process_due
from calmesh.models import Connection, OutboxItem, Webhook, WebhookDelivery
from calmesh.services import booking_pages, bookings, calendars, events, sync
from calmesh.services import webhooks as service
from calmesh.services.bookings import Attendee
from tests.conftest import free_port
from tests.factories import make_connection
from tests.providers.feeds import FeedServer
from tests.settings import cfg
from tests.webhook_receiver import Receiver, verify_signature

BERLIN = ZoneInfo("Europe/Berlin")
ALL = [
    "booking.created",
    "booking.requested",
    "booking.confirmed",
    "booking.declined",
    "booking.rescheduled",
    "booking.cancelled",
    "connection.error",
]
VERA = Attendee("Vera Visitor", "vera@example.net", "America/New_York")


@pytest.fixture(autouse=True)
def request_context(app):
    """The booking services build the visitor's manage link, as in a request."""
    with app.test_request_context():
        yield


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as server:
        yield server


def slot(n: int) -> datetime:
    """The n-th bookable half hour: weekdays from 09:00 Berlin, two days ahead or more."""
    day = datetime.now(BERLIN).date() + timedelta(days=2)
    found = []
    while len(found) <= n:
        if day.weekday() < 5:
            found += [datetime(day.year, day.month, day.day, 9, tzinfo=BERLIN) + timedelta(
                minutes=30 * i) for i in range(16)]  # fmt: skip
        day += timedelta(days=1)
    return found[n]


def make_page(user, slug: str = "intro", **settings):
    """A page on a calendar without sources: nothing to write back, only mail and webhooks."""
    if calendars.get_for(user, "work") is None:
        calendars.create(user, "work", "Work", "Europe/Berlin")
    return booking_pages.create(
        user,
        {"slug": slug, "title": "Intro call", "calendar": "work", "timezone": "Europe/Berlin",
         "duration": 30, "min_notice": 0, **settings},
    )  # fmt: skip


def book(page, n: int):
    booking, created = bookings.book(page, start=slot(n), duration=None, attendee=VERA)
    assert created
    return booking


def subscribe(user, receiver: Receiver, events_: list[str] | None = None, url: str = "") -> Webhook:
    webhook, secret = service.create(
        user, url or receiver.url, events_ or ALL, settings=current_app.config["CALMESH"]
    )
    receiver.secret = secret
    return webhook


def run_outbox(rounds: int = 1) -> None:
    """Deliver what is due, then move time on: every waiting item is due again."""
    for _ in range(rounds):
        process_due(current_app)
        OutboxItem.update(next_attempt_at=utcnow() - timedelta(seconds=1)).where(
            OutboxItem.status == "pending"
        ).execute()


def drain(rounds: int = 10) -> None:
    """Run the outbox until no webhook delivery waits (one per booking per round)."""
    for _ in range(rounds):
        run_outbox()
        if not pending_webhook_items():
            return


def pending_webhook_items() -> int:
    return (
        OutboxItem.select()
        .where((OutboxItem.kind == "webhook.deliver") & (OutboxItem.status == "pending"))
        .count()
    )


def fresh(row):
    return type(row).get_by_id(row.id)


# --- events from the services that cause them ---------------------------------------------


def test_booking_and_cancelling_arrive_signed_with_the_stored_body(
    alice, receiver, loopback_counts_as_public
):
    webhook = subscribe(alice, receiver)
    booking = book(make_page(alice), 0)
    bookings.cancel(booking, "sorry")

    drain()

    assert receiver.events() == ["booking.created", "booking.cancelled"]
    created, cancelled = receiver.accepted
    stored = {d.delivery_id: d for d in WebhookDelivery.select()}
    for got in receiver.accepted:
        delivery = stored[got.delivery_id]
        assert got.body == delivery.body.encode(), "the exact stored body is sent"
        assert got.headers["content-type"] == "application/json"
        assert got.headers["x-calmesh-event"] == delivery.event
        assert got.headers["user-agent"].startswith("CalMesh/")
        assert got.headers["x-calmesh-signature"].startswith("t=")
        assert (delivery.status, delivery.attempts, delivery.last_status_code) == (
            "delivered", 1, 200,
        )  # fmt: skip
        assert delivery.delivered_at is not None and delivery.response_excerpt == '{"ok": true}'
    assert (
        created.json["data"]["uid"] == booking.uid and created.json["data"]["status"] == "accepted"
    )
    assert cancelled.json["data"]["status"] == "cancelled"
    assert cancelled.json["data"]["reason"] == "sorry"
    assert set(created.json) == {"event", "created_at", "data"}
    assert fresh(webhook).status == "ok"


def test_the_signature_verifies_with_the_secret_and_nothing_else(alice, receiver):
    subscribe(alice, receiver)
    book(make_page(alice), 0)
    drain()
    (got,) = receiver.accepted
    header, body = got.headers["x-calmesh-signature"], got.body
    t = int(header.split(",")[0].removeprefix("t="))

    assert abs(time.time() - t) < 60
    assert verify_signature(receiver.secret, header, body)
    assert header == service.signature(receiver.secret, t, body.decode())
    assert not verify_signature("whsec_wrong", header, body)
    assert not verify_signature(receiver.secret, header, body.replace(b"Vera", b"Mallory"))
    assert not verify_signature(receiver.secret, header, body, now=t + 301), "a replay is refused"
    assert not verify_signature(receiver.secret, "", body)
    assert not verify_signature(receiver.secret, "t=abc,v1=00", body)


def test_a_page_that_requires_confirmation_sends_requested_then_confirmed(alice, receiver):
    subscribe(alice, receiver)
    page = make_page(alice, requires_confirmation=True)
    first, second = book(page, 0), book(page, 1)
    bookings.confirm(first)
    bookings.decline(second, "busy")

    drain()

    by_booking: dict[str, list[str]] = {}
    for got in receiver.accepted:
        by_booking.setdefault(got.json["data"]["uid"], []).append(got.json["event"])
    assert by_booking == {
        first.uid: ["booking.requested", "booking.confirmed"],
        second.uid: ["booking.requested", "booking.declined"],
    }


def test_rescheduling_sends_booking_rescheduled_with_the_new_time(alice, receiver):
    subscribe(alice, receiver)
    booking = book(make_page(alice), 0)
    bookings.reschedule(booking, slot(3), "moved")

    drain()

    assert receiver.events() == ["booking.created", "booking.rescheduled"]
    moved = receiver.accepted[1].json["data"]
    assert moved["start"] == slot(3).astimezone(ZoneInfo("UTC")).isoformat().replace("+00:00", "Z")
    assert moved["sequence"] == 1


def test_only_subscribed_events_of_the_owner_are_queued(alice, bob, receiver):
    subscribe(alice, receiver, ["booking.cancelled"])
    with Receiver() as bobs:
        subscribe(bob, bobs)
        booking = book(make_page(alice), 0)
        bookings.cancel(booking)
        drain()
        assert bobs.log == [], "bob's webhook hears nothing of alice's bookings"
    assert receiver.events() == ["booking.cancelled"]


def test_a_failing_connection_sends_connection_error_once_per_outage(alice, receiver):
    subscribe(alice, receiver, ["connection.error"])
    with FeedServer() as feeds:
        feeds.set("team.ics", "not today", status=500)
        connection = make_connection(alice, provider="ics", name="Team")
        Connection.update(endpoint=feeds.url_for("team.ics")).where(
            Connection.id == connection.id
        ).execute()

        assert sync.sync_connection(connection.id, cfg()).status == "error"
        assert sync.sync_connection(connection.id, cfg()).status == "error"  # still down: no news
        feeds.set("team.ics", "who are you?", status=401)
        assert sync.sync_connection(connection.id, cfg()).status == "auth_required"

    drain()

    assert receiver.events() == ["connection.error", "connection.error"]
    first, second = (r.json["data"] for r in receiver.accepted)
    assert (first["id"], first["name"], first["provider"]) == (connection.id, "Team", "ics")
    assert (first["status"], first["failures"]) == ("error", 1)
    assert "500" in first["error"]
    assert (second["status"], second["failures"]) == ("auth_required", 3)


def test_emit_refuses_the_ping_and_unknown_events(alice, receiver):
    subscribe(alice, receiver)
    for name in ("ping", "booking.exploded"):
        with pytest.raises(ValueError, match="unknown event"):
            events.emit(alice.id, name, {})


# --- a receiver that is down, then back ---------------------------------------------------


def test_receiver_down_then_up_gets_every_delivery_once_and_each_booking_in_order(alice):
    port = free_port()
    receiver = Receiver(port=port)
    webhook = subscribe(alice, receiver)
    page = make_page(alice)
    one, two = book(page, 0), book(page, 1)
    bookings.reschedule(one, slot(5))
    bookings.cancel(two)
    three = book(page, 2)
    bookings.cancel(one)

    run_outbox(3)  # nobody listens on the port

    deliveries = list(WebhookDelivery.select().order_by(WebhookDelivery.id))
    assert len(deliveries) == 6
    assert all(d.status == "pending" for d in deliveries)
    heads = [d for d in deliveries if d.attempts]
    # Only the oldest delivery of each booking was tried; the others wait behind it.
    assert sorted(d.event for d in heads) == ["booking.created"] * 3
    assert all(d.attempts == 3 and d.last_status_code is None for d in heads)
    assert all("could not connect" in d.last_error for d in heads)
    assert fresh(webhook).status == "ok", "not failing before max_attempts"

    receiver.status = 503  # up, but not ready: answered, refused, retried
    with receiver:
        run_outbox(1)
        assert {r.answered for r in receiver.log} == {503}
        receiver.status = 200
        run_outbox(6)
        run_outbox(3)  # and nothing more comes

    assert pending_webhook_items() == 0
    assert all(fresh(d).status == "delivered" for d in deliveries)
    assert receiver.duplicates == [], "no delivery arrives again after it succeeded"
    ids = [r.delivery_id for r in receiver.accepted]
    assert sorted(ids) == sorted(d.delivery_id for d in deliveries), "each one, exactly once"
    order = {}
    for got in receiver.accepted:
        order.setdefault(got.json["data"]["uid"], []).append(got.json["event"])
    assert order == {
        one.uid: ["booking.created", "booking.rescheduled", "booking.cancelled"],
        two.uid: ["booking.created", "booking.cancelled"],
        three.uid: ["booking.created"],
    }
    sequences = [
        r.json["data"]["sequence"] for r in receiver.accepted if r.json["data"]["uid"] == one.uid
    ]
    assert sequences == sorted(sequences)


def test_after_the_retry_window_the_delivery_fails_and_the_webhook_is_failing(
    app, alice, receiver, loopback_counts_as_public
):
    webhook = subscribe(alice, receiver)
    receiver.status = 500
    receiver.answer_body = b"database on fire " * 100
    booking = book(make_page(alice), 0)
    bookings.cancel(booking)

    run_outbox(2)
    assert fresh(webhook).status == "ok"
    later = utcnow() + timedelta(hours=app.config["CALMESH"]["outbox.retry_hours"], seconds=1)
    process_due(app, now=later)  # the injected clock: a day of failures later

    created, cancelled = WebhookDelivery.select().order_by(WebhookDelivery.id)
    assert (created.status, created.attempts, created.last_status_code) == ("failed", 3, 500)
    assert created.last_error == "the receiver answered 500"
    assert created.response_excerpt.startswith("database on fire")
    assert len(created.response_excerpt) == 500
    failing = fresh(webhook)
    assert failing.status == "failing"
    assert created.delivery_id in failing.last_error and "gave up after 3" in failing.last_error
    item = OutboxItem.get(OutboxItem.payload == {"delivery": created.id})
    assert item.status == "failed"
    # Given up on, the booking's next event is no longer held back.
    assert cancelled.attempts == 0 and pending_webhook_items() == 1

    receiver.status = 200
    run_outbox(1)
    assert fresh(cancelled).status == "delivered"
    assert fresh(webhook).status == "ok" and fresh(webhook).last_error == "", "a success heals"


def test_redelivery_sends_the_same_delivery_again_signed_anew(alice, receiver):
    subscribe(alice, receiver)
    book(make_page(alice), 0)
    drain()
    (delivery,) = WebhookDelivery.select()
    first = receiver.accepted[0]

    again = service.redeliver(delivery)
    assert (again.status, again.attempts) == ("pending", 0)
    receiver._seen.clear()  # a receiver that lost its memory, to see the second arrival
    time.sleep(1.05)  # a new second: a new signature
    drain()

    second = receiver.accepted[-1]
    assert len(receiver.log) == 2
    assert second.delivery_id == first.delivery_id and second.body == first.body
    assert second.headers["x-calmesh-signature"] != first.headers["x-calmesh-signature"]
    assert second.verified
    assert (fresh(delivery).status, fresh(delivery).attempts) == ("delivered", 1)


def test_redelivering_a_queued_delivery_makes_it_due_without_a_second_copy(alice):
    receiver = Receiver(port=free_port())
    subscribe(alice, receiver)
    book(make_page(alice), 0)
    process_due(current_app)  # refused: waits for its back-off
    (delivery,) = WebhookDelivery.select()
    assert fresh(delivery).attempts == 1

    service.redeliver(delivery)

    assert pending_webhook_items() == 1
    with receiver:
        process_due(current_app)  # due now, without moving time
    assert [r.delivery_id for r in receiver.accepted] == [delivery.delivery_id]


def test_a_duplicate_arrival_is_told_apart_by_the_delivery_id(alice, receiver):
    """A receiver's 2xx that got lost looks like a failure: the delivery comes again."""
    subscribe(alice, receiver)
    book(make_page(alice), 0)
    receiver.delay = 1.5  # processes it, but answers after the sender gave up
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(current_app.config["CALMESH"]._values, "webhooks.timeout_seconds", 1)
        run_outbox()
    (delivery,) = WebhookDelivery.select()
    assert fresh(delivery).status == "pending"
    assert "no answer in time" in fresh(delivery).last_error
    receiver.delay = 0
    drain()

    assert fresh(delivery).status == "delivered"
    assert receiver.duplicates == [delivery.delivery_id], "the receiver skipped the repeat"
    assert len(receiver.accepted) == 1


def test_redirects_are_not_followed(alice, receiver):
    subscribe(alice, receiver)
    receiver.status = 302
    book(make_page(alice), 0)

    run_outbox()

    (delivery,) = WebhookDelivery.select()
    assert len(receiver.log) == 1 and fresh(delivery).last_status_code == 302
    assert "redirects are not followed" in fresh(delivery).last_error


# --- ping, pause, delete -------------------------------------------------------------------


def test_ping_is_delivered_signed(alice, receiver):
    webhook = subscribe(alice, receiver, ["booking.created"])

    delivery = service.ping(webhook)
    assert delivery.event == "ping" and receiver.log == [], "queued, not sent on the spot"
    drain()

    (got,) = receiver.accepted
    assert got.headers["x-calmesh-event"] == "ping"
    assert got.json["event"] == "ping" and got.json["data"]["webhook_id"] == webhook.id
    assert got.delivery_id == delivery.delivery_id


def test_a_paused_webhook_is_sent_nothing(app, alice, receiver):
    webhook = subscribe(alice, receiver)
    page = make_page(alice)
    book(page, 0)  # queued while active
    service.update(webhook, active=False, settings=app.config["CALMESH"])
    book(page, 1)  # not even queued

    drain()

    assert receiver.log == []
    (delivery,) = WebhookDelivery.select()
    assert fresh(delivery).status == "failed" and "paused" in fresh(delivery).last_error
    assert fresh(webhook).status == "ok", "pausing is not the receiver's fault"
    with pytest.raises(service.WebhookError, match="paused"):
        service.ping(webhook)


def test_deleting_a_webhook_drops_its_queued_deliveries(alice):
    receiver = Receiver(port=free_port())
    webhook = subscribe(alice, receiver)
    book(make_page(alice), 0)

    service.delete(webhook)
    drain()

    assert WebhookDelivery.select().count() == 0 and pending_webhook_items() == 0


def test_rotating_the_secret_signs_the_next_delivery_with_the_new_one(app, alice, receiver):
    webhook = subscribe(alice, receiver)
    old = receiver.secret
    _, new = service.update(webhook, rotate_secret=True, settings=app.config["CALMESH"])
    assert new.startswith("whsec_") and new != old
    receiver.secret = new
    book(make_page(alice), 0)

    drain()

    assert receiver.accepted and receiver.accepted[0].verified


def test_the_secret_is_stored_encrypted(alice, receiver):
    webhook = subscribe(alice, receiver)
    raw = Webhook.select(Webhook.secret).where(Webhook.id == webhook.id).tuples().get()[0]
    assert receiver.secret not in raw
    assert service.secret_of(fresh(webhook)) == receiver.secret


# --- the SSRF guard ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://10.1.2.3/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://127.0.0.1:9/hook",
        "http://[::1]/hook",
        "http://192.168.0.10/hook",
    ],
)
def test_private_targets_are_refused_unless_allowed(app, alice, monkeypatch, url):
    monkeypatch.setitem(app.config["CALMESH"]._values, "security.allow_private_addresses", False)
    with pytest.raises(service.WebhookError) as refused:
        service.create(alice, url, ["booking.created"], settings=current_app.config["CALMESH"])
    assert refused.value.status == 422 and "private or local address" in str(refused.value)
    assert Webhook.select().count() == 0


def test_a_target_turned_private_is_given_up_on_when_sending(app, alice, receiver, monkeypatch):
    webhook = subscribe(alice, receiver)  # allowed when created (the tests allow loopback)
    book(make_page(alice), 0)
    monkeypatch.setitem(app.config["CALMESH"]._values, "security.allow_private_addresses", False)

    drain()

    assert receiver.log == [], "no request leaves for a private address"
    (delivery,) = WebhookDelivery.select()
    assert fresh(delivery).status == "failed" and fresh(delivery).attempts == 1
    assert fresh(webhook).status == "failing"
    assert "private or local address" in fresh(webhook).last_error


def test_delivery_never_happens_on_the_request_path(alice, receiver):
    subscribe(alice, receiver)
    book(make_page(alice), 0)
    assert receiver.log == []
    item = OutboxItem.get(OutboxItem.kind == "webhook.deliver")
    assert json.loads(json.dumps(item.payload)) == {"delivery": WebhookDelivery.get().id}
    assert item.ordering_key.startswith(f"webhook:{Webhook.get().id}:")


# --- not a port scanner ---------------------------------------------------------------------


def test_an_answer_from_a_private_address_is_not_kept(alice, receiver):
    # Private addresses are allowed here (a LAN receiver): the status is logged,
    # but not what the service there answered, which another user could read.
    webhook = subscribe(alice, receiver)
    receiver.status, receiver.answer_body = 500, b"<title>router admin</title> internal"
    service.ping(webhook)
    run_outbox()

    (delivery,) = WebhookDelivery.select()
    assert (delivery.last_status_code, delivery.response_excerpt) == (500, "")
    assert delivery.last_error == "the receiver answered 500"


def test_a_closed_port_and_a_silent_receiver_read_the_same(app, alice, receiver, monkeypatch):
    monkeypatch.setitem(app.config["CALMESH"]._values, "webhooks.timeout_seconds", 1)
    closed = subscribe(alice, receiver, url=f"http://127.0.0.1:{free_port()}/hook")
    silent = subscribe(alice, receiver)
    receiver.delay = 1.5
    service.ping(closed)
    service.ping(silent)
    run_outbox()

    errors = {d.webhook_id: d.last_error for d in WebhookDelivery.select()}
    assert (
        errors[closed.id]
        == errors[silent.id]
        == "127.0.0.1: could not connect (or got no answer in time); retrying later"
    )


def test_a_webhook_on_a_name_rebound_to_loopback_is_never_delivered(
    app, alice, receiver, network, monkeypatch
):
    monkeypatch.setitem(app.config["CALMESH"]._values, "security.allow_private_addresses", False)
    port = int(receiver.url.split(":")[2].split("/")[0])
    network.answer("hooks.rebind.test", ["93.184.215.14"], ["127.0.0.1"])
    webhook = subscribe(
        alice, receiver, url=f"http://hooks.rebind.test:{port}/hook"
    )  # checked: public
    service.ping(webhook)
    run_outbox(2)

    assert receiver.log == []
    (delivery,) = WebhookDelivery.select()
    assert delivery.status == "failed" and "private or local address" in delivery.last_error
