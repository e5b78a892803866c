"""The dashboard's webhooks: create with event checkboxes (the secret shown
once), the list with a failing webhook shown clearly, the delivery log with
redeliver buttons, ping, pause, a new secret, delete; and only the owner's."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from flask import current_app

from calmesh.db import utcnow
from calmesh.jobs.outbox import process_due
from calmesh.models import OutboxItem, Webhook, WebhookDelivery
from calmesh.services import webhooks as service
from tests.conftest import CSRF, signed_in_client
from tests.webhook_receiver import Receiver


@pytest.fixture
def client(app, alice):
    return signed_in_client(app, alice)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as server:
        yield server


def text_of(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def test_creating_a_webhook_shows_the_secret_once(client, receiver):
    page = client.get("/webhooks")
    assert page.status_code == 200
    assert 'name="events" value="booking.created"' in page.get_data(as_text=True)

    answer = client.post(
        "/webhooks",
        data={
            "url": receiver.url,
            "events": ["booking.created", "booking.cancelled"],
            "csrf_token": CSRF,
        },
    )

    assert answer.status_code == 200
    secret = re.search(r'id="webhook-secret">(whsec_\w+)<', text_of(answer)).group(1)
    webhook = Webhook.get()
    assert webhook.events == ["booking.created", "booking.cancelled"]
    assert service.secret_of(webhook) == secret
    assert secret not in text_of(client.get("/webhooks"))
    assert secret not in text_of(client.get(f"/webhooks/{webhook.id}"))


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"url": "https://example.org/hook"}, "Events needs at least 1 item(s)"),
        ({"url": "not a url", "events": ["booking.created"]}, "URL must be an http"),
        ({"url": "https://example.org/hook", "events": ["ping"]}, "Events must be one of"),
    ],
)
def test_form_errors_are_shown_and_nothing_is_saved(client, form, message):
    answer = client.post("/webhooks", data={**form, "csrf_token": CSRF})

    assert answer.status_code == 400
    assert message in text_of(answer)
    assert Webhook.select().count() == 0


def test_a_private_address_is_refused_on_the_form(app, client, monkeypatch):
    monkeypatch.setitem(app.config["CALMESH"]._values, "security.allow_private_addresses", False)
    answer = client.post(
        "/webhooks",
        data={"url": "http://169.254.169.254/", "events": ["booking.created"], "csrf_token": CSRF},
    )
    assert answer.status_code == 400
    assert "private or local address" in text_of(answer)


def give_up_on_what_fails() -> None:
    """Deliver, then once more with the clock past the retry window (injected)."""
    process_due(current_app)
    process_due(current_app, now=utcnow() + timedelta(hours=25))


def test_a_failing_webhook_is_shown_clearly_with_its_error(app, client, alice, receiver):
    healthy, _ = service.create(
        alice, receiver.url, ["booking.created"], settings=current_app.config["CALMESH"]
    )
    broken, receiver.secret = service.create(
        alice, receiver.url + "/broken", ["booking.created"], settings=current_app.config["CALMESH"]
    )
    receiver.status = 500
    service.ping(broken)
    give_up_on_what_fails()

    page = text_of(client.get("/webhooks"))

    broken_row = re.search(rf'<tr id="webhook-{broken.id}" class="failing">.*?</tr>', page, re.S)
    healthy_row = re.search(rf'<tr id="webhook-{healthy.id}">.*?</tr>', page, re.S)
    assert broken_row and healthy_row
    assert 'class="badge failing"' in broken_row.group(0)
    assert "the receiver answered 500" in broken_row.group(0)
    assert 'class="badge ok"' in healthy_row.group(0)
    detail = text_of(client.get(f"/webhooks/{broken.id}"))
    assert 'role="alert">Deliveries are failing' in detail


def test_the_delivery_log_shows_attempts_and_redelivers(
    client, alice, receiver, loopback_counts_as_public
):
    webhook, secret = service.create(
        alice, receiver.url, ["booking.created"], settings=current_app.config["CALMESH"]
    )
    receiver.secret = secret
    receiver.status, receiver.answer_body = 502, b"<h1>Bad gateway</h1>"
    delivery = service.ping(webhook)
    process_due(current_app)

    page = text_of(client.get(f"/webhooks/{webhook.id}"))
    row = re.search(rf'<tr id="delivery-{delivery.delivery_id}">.*?</tr>', page, re.S).group(0)
    assert "ping" in row and 'class="badge pending"' in row and "502" in row
    assert "<h1>Bad gateway</h1>" in row, "the answer's excerpt, as text"
    assert "Redeliver" not in row, "a pending delivery is already on its way"
    assert 'hx-trigger="every 5s"' in page, "the log refreshes while something is pending"

    receiver.status = 200
    OutboxItem.update(status="failed").where(OutboxItem.id == delivery.outbox_item_id).execute()
    page = text_of(client.get(f"/webhooks/{webhook.id}"))
    assert "Redeliver" in page
    answer = client.post(
        f"/webhooks/{webhook.id}/deliveries/{delivery.delivery_id}/redeliver",
        data={"csrf_token": CSRF},
        headers={"HX-Request": "true"},
    )
    assert answer.status_code == 200
    assert 'class="badge pending"' in text_of(answer) and "<html" not in text_of(answer)
    OutboxItem.update(next_attempt_at=delivery.created_at).where(
        OutboxItem.status == "pending"
    ).execute()
    process_due(current_app)
    assert WebhookDelivery.get_by_id(delivery.id).status == "delivered"
    assert receiver.accepted[-1].delivery_id == delivery.delivery_id


def test_ping_pause_and_new_secret_from_the_page(client, alice, receiver):
    webhook, secret = service.create(
        alice, receiver.url, ["booking.created"], settings=current_app.config["CALMESH"]
    )

    assert client.post(f"/webhooks/{webhook.id}/ping", data={"csrf_token": CSRF}).status_code == 302
    assert WebhookDelivery.get().event == "ping"
    assert "A ping is queued" in text_of(client.get(f"/webhooks/{webhook.id}"))

    client.post(f"/webhooks/{webhook.id}/active", data={"active": "0", "csrf_token": CSRF})
    assert not Webhook.get_by_id(webhook.id).active
    assert 'class="badge paused"' in text_of(client.get("/webhooks"))

    answer = client.post(f"/webhooks/{webhook.id}/rotate", data={"csrf_token": CSRF})
    new = re.search(r'id="webhook-secret">(whsec_\w+)<', text_of(answer)).group(1)
    assert new != secret and service.secret_of(Webhook.get_by_id(webhook.id)) == new


def test_editing_url_and_events(client, alice, receiver):
    webhook, _ = service.create(
        alice, receiver.url, ["booking.created"], settings=current_app.config["CALMESH"]
    )

    answer = client.post(
        f"/webhooks/{webhook.id}",
        data={"url": receiver.url + "/new", "events": ["booking.cancelled"], "csrf_token": CSRF},
    )

    assert answer.status_code == 302
    saved = Webhook.get_by_id(webhook.id)
    assert (saved.url, saved.events) == (receiver.url + "/new", ["booking.cancelled"])
    bad = client.post(f"/webhooks/{webhook.id}", data={"url": receiver.url, "csrf_token": CSRF})
    assert bad.status_code == 400 and "Events needs at least 1" in text_of(bad)


def test_delete_from_the_page(client, alice, receiver):
    webhook, _ = service.create(
        alice, receiver.url, ["booking.created"], settings=current_app.config["CALMESH"]
    )

    answer = client.post(f"/webhooks/{webhook.id}/delete", data={"csrf_token": CSRF})

    assert answer.status_code == 302 and answer.headers["Location"].endswith("/webhooks")
    assert Webhook.select().count() == 0


def test_another_owners_webhook_pages_are_404(app, alice, bob, receiver):
    webhook, _ = service.create(
        alice, receiver.url, ["booking.created"], settings=current_app.config["CALMESH"]
    )
    delivery = service.ping(webhook)
    bobs = signed_in_client(app, bob)

    assert receiver.url not in text_of(bobs.get("/webhooks"))
    for method, path in [
        ("GET", f"/webhooks/{webhook.id}"),
        ("POST", f"/webhooks/{webhook.id}"),
        ("GET", f"/webhooks/{webhook.id}/deliveries"),
        ("POST", f"/webhooks/{webhook.id}/deliveries/{delivery.delivery_id}/redeliver"),
        ("POST", f"/webhooks/{webhook.id}/ping"),
        ("POST", f"/webhooks/{webhook.id}/active"),
        ("POST", f"/webhooks/{webhook.id}/rotate"),
        ("POST", f"/webhooks/{webhook.id}/delete"),
    ]:
        answer = bobs.open(path, method=method, data={"csrf_token": CSRF})
        assert answer.status_code == 404, (method, path)
    assert Webhook.get_by_id(webhook.id).active


def test_signed_out_visitors_are_sent_to_sign_in(app):
    answer = app.test_client().get("/webhooks")
    assert answer.status_code == 302 and "/login" in answer.headers["Location"]


def test_redeliver_all_failed_queues_every_failed_delivery_in_order(client, alice, receiver):
    webhook, receiver.secret = service.create(
        alice, receiver.url, ["booking.created"], settings=current_app.config["CALMESH"]
    )
    receiver.status = 500
    first, second = service.ping(webhook), service.ping(webhook)
    give_up_on_what_fails()
    assert {fresh.status for fresh in WebhookDelivery.select()} == {"failed"}
    page = text_of(client.get(f"/webhooks/{webhook.id}"))
    assert "Redeliver all failed" in page

    receiver.status = 200
    answer = client.post(f"/webhooks/{webhook.id}/redeliver-failed", data={"csrf_token": CSRF})
    assert answer.status_code == 302
    process_due(current_app)

    assert [r.delivery_id for r in receiver.accepted] == [first.delivery_id, second.delivery_id]
    assert {d.status for d in WebhookDelivery.select()} == {"delivered"}
