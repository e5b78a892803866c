"""``/api/v1/webhooks``: create (the secret answered once), list, get, change,
rotate the secret, delete; the delivery log, redeliver and ping against a real
receiver; scopes, ownership, validation and the SSRF guard."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import current_app

from calmesh.jobs.outbox import process_due
from calmesh.models import Webhook, WebhookDelivery
from tests.webhook_receiver import Receiver


@pytest.fixture
def full(api_as, alice):
    return api_as(alice, "full")


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as server:
        yield server


def create(full, receiver: Receiver, **body) -> dict:
    answer = full.post(
        "/api/v1/webhooks",
        json={"url": receiver.url, "events": ["booking.created", "booking.cancelled"], **body},
    )
    assert answer.status_code == 201, answer.get_json()
    created = answer.get_json()
    receiver.secret = created["secret"]
    return created


def error_of(answer) -> dict:
    return answer.get_json()["error"]


# --- the subscription -----------------------------------------------------------------------


def test_create_answers_the_secret_once_and_never_again(full, receiver):
    created = create(full, receiver)

    assert created["secret"].startswith("whsec_") and len(created["secret"]) > 30
    assert created["url"] == receiver.url
    assert created["events"] == ["booking.created", "booking.cancelled"]
    assert (created["active"], created["status"], created["last_error"]) == (True, "ok", "")
    hook = f"/api/v1/webhooks/{created['id']}"
    for answer in (
        full.get(hook),
        full.get("/api/v1/webhooks"),
        full.patch(hook, json={"events": ["booking.created"]}),
    ):
        assert answer.status_code == 200
        assert created["secret"] not in answer.get_data(as_text=True)
        assert "secret" not in answer.get_json()
    assert full.get("/api/v1/webhooks").get_json()["data"][0]["id"] == created["id"]


def test_patch_changes_url_events_and_active(full, receiver):
    created = create(full, receiver)
    hook = f"/api/v1/webhooks/{created['id']}"

    answer = full.patch(
        hook,
        json={"url": receiver.url + "/v2", "events": ["booking.requested"], "active": False},
    )

    assert answer.status_code == 200, answer.get_json()
    got = full.get(hook).get_json()
    assert (got["url"], got["events"], got["active"]) == (
        receiver.url + "/v2", ["booking.requested"], False,
    )  # fmt: skip
    assert full.patch(hook, json={}).get_json()["active"] is False, "absent fields stay"


def test_rotate_secret_answers_a_new_secret_once(full, receiver):
    created = create(full, receiver)
    hook = f"/api/v1/webhooks/{created['id']}"

    rotated = full.patch(hook, json={"rotate_secret": True}).get_json()

    assert rotated["secret"].startswith("whsec_") and rotated["secret"] != created["secret"]
    assert "secret" not in full.get(hook).get_json()


def test_delete_removes_the_webhook_and_its_log(full, receiver):
    created = create(full, receiver)
    hook = f"/api/v1/webhooks/{created['id']}"
    full.post(f"{hook}/ping")

    answer = full.delete(hook)

    assert answer.status_code == 200 and answer.get_json() == {"id": created["id"], "deleted": True}
    assert full.get(hook).status_code == 404
    assert WebhookDelivery.select().count() == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"events": ["booking.created"]}, "url"),
        ({"url": "ftp://example.org/x", "events": ["booking.created"]}, "url"),
        ({"url": "https://example.org/hook", "events": []}, "events"),
        ({"url": "https://example.org/hook", "events": ["booking.exploded"]}, "events[0]"),
        ({"url": "https://example.org/hook", "events": ["ping"]}, "events[0]"),
        ({"url": "https://example.org/hook", "events": "booking.created"}, "events"),
        (
            {"url": "https://example.org/hook", "events": ["booking.created"], "secret": "x"},
            "secret",
        ),
    ],
)
def test_invalid_bodies_are_refused_field_by_field(full, body, field):
    answer = full.post("/api/v1/webhooks", json=body)

    assert answer.status_code == 400
    assert field in [d["field"] for d in error_of(answer)["details"]]
    assert Webhook.select().count() == 0


def test_repeated_events_are_kept_once(full, receiver):
    created = create(full, receiver, events=["booking.created", "booking.created"])
    assert created["events"] == ["booking.created"]


@pytest.mark.parametrize(
    "url", ["http://10.0.0.7/hook", "http://169.254.169.254/latest/meta-data/", "http://localhost/"]
)
def test_private_and_metadata_addresses_are_refused_with_422(app, full, monkeypatch, url):
    monkeypatch.setitem(app.config["CALMESH"]._values, "security.allow_private_addresses", False)

    answer = full.post("/api/v1/webhooks", json={"url": url, "events": ["booking.created"]})

    assert answer.status_code == 422
    assert error_of(answer)["code"] == "url_refused"
    assert "allow_private_addresses" in error_of(answer)["message"]
    assert Webhook.select().count() == 0


@pytest.mark.parametrize(
    "url", ["https://user:pass@hooks.example.org/in", "https://tok@example.org/"]
)
def test_a_url_with_credentials_is_refused_and_not_echoed(full, receiver, url):
    answer = full.post("/api/v1/webhooks", json={"url": url, "events": ["booking.created"]})
    assert answer.status_code == 422 and error_of(answer)["code"] == "url_refused"
    text = answer.get_data(as_text=True)
    assert "user:pass" not in text and "tok@" not in text
    created = create(full, receiver)
    patched = full.patch(f"/api/v1/webhooks/{created['id']}", json={"url": url})
    assert patched.status_code == 422
    assert Webhook.get_by_id(created["id"]).url == receiver.url


def test_patching_to_a_private_address_is_refused_too(app, full, receiver, monkeypatch):
    created = create(full, receiver)
    monkeypatch.setitem(app.config["CALMESH"]._values, "security.allow_private_addresses", False)

    answer = full.patch(f"/api/v1/webhooks/{created['id']}", json={"url": "http://10.9.9.9/"})

    assert answer.status_code == 422
    assert Webhook.get_by_id(created["id"]).url == receiver.url


# --- deliveries, redeliver, ping ------------------------------------------------------------


def test_ping_is_queued_then_delivered_and_logged(full, receiver, loopback_counts_as_public):
    created = create(full, receiver)
    hook = f"/api/v1/webhooks/{created['id']}"

    answer = full.post(f"{hook}/ping")

    assert answer.status_code == 202
    queued = answer.get_json()
    assert (queued["event"], queued["status"], queued["attempts"]) == ("ping", "pending", 0)
    assert receiver.log == [], "sent by the scheduler, not on the request"
    process_due(current_app)
    (got,) = receiver.accepted
    assert got.delivery_id == queued["delivery_id"] == queued["id"]
    log = full.get(f"{hook}/deliveries").get_json()
    (entry,) = log["data"]
    assert (entry["status"], entry["attempts"], entry["last_status_code"]) == ("delivered", 1, 200)
    assert entry["response_excerpt"] == '{"ok": true}' and entry["last_error"] == ""
    assert entry["delivered_at"] and entry["created_at"] and entry["last_attempt_at"]


def test_the_delivery_log_is_paginated_newest_first_with_excerpts(
    full, receiver, loopback_counts_as_public
):
    created = create(full, receiver)
    hook = f"/api/v1/webhooks/{created['id']}"
    receiver.status, receiver.answer_body = 500, b"x" * 2000
    ids = [full.post(f"{hook}/ping").get_json()["delivery_id"] for _ in range(3)]
    process_due(current_app)

    first = full.get(f"{hook}/deliveries?limit=2").get_json()
    second = full.get(f"{hook}/deliveries?limit=2&cursor={first['next_cursor']}").get_json()

    assert first["has_more"] and not second["has_more"]
    assert [d["delivery_id"] for d in first["data"] + second["data"]] == ids[::-1]
    for entry in first["data"]:
        assert (entry["status"], entry["last_status_code"]) == ("pending", 500)
        assert entry["response_excerpt"] == "x" * 500
        assert entry["last_error"] == "the receiver answered 500"


def test_redeliver_resends_by_hand(full, receiver):
    created = create(full, receiver)
    hook = f"/api/v1/webhooks/{created['id']}"
    delivery_id = full.post(f"{hook}/ping").get_json()["delivery_id"]
    process_due(current_app)

    answer = full.post(f"{hook}/deliveries/{delivery_id}/redeliver")

    assert answer.status_code == 202
    assert (answer.get_json()["status"], answer.get_json()["attempts"]) == ("pending", 0)
    process_due(current_app)
    assert [r.delivery_id for r in receiver.log] == [delivery_id, delivery_id]
    assert receiver.duplicates == [delivery_id], "the receiver knew it already"
    assert full.get(f"{hook}/deliveries").get_json()["data"][0]["status"] == "delivered"
    assert full.post(f"{hook}/deliveries/dlv_nope/redeliver").status_code == 404


def test_redeliver_failed_queues_every_failed_delivery_oldest_first(full, receiver):
    from datetime import timedelta

    from calmesh.db import utcnow

    created = create(full, receiver)
    hook = f"/api/v1/webhooks/{created['id']}"
    receiver.status = 500
    ids = [full.post(f"{hook}/ping").get_json()["delivery_id"] for _ in range(3)]
    process_due(current_app)
    process_due(current_app, now=utcnow() + timedelta(hours=25))  # past the retry window
    listed = full.get(f"{hook}/deliveries").get_json()["data"]
    assert {d["status"] for d in listed} == {"failed"}

    receiver.status = 200
    answer = full.post(f"{hook}/redeliver-failed")

    assert (answer.status_code, answer.get_json()) == (202, {"queued": 3})
    process_due(current_app)
    assert [r.delivery_id for r in receiver.accepted] == ids
    listed = full.get(f"{hook}/deliveries").get_json()["data"]
    assert {d["status"] for d in listed} == {"delivered"}
    assert full.post("/api/v1/webhooks/999999/redeliver-failed").status_code == 404


def test_paused_webhooks_cannot_be_pinged_or_redelivered(full, receiver):
    created = create(full, receiver)
    hook = f"/api/v1/webhooks/{created['id']}"
    delivery_id = full.post(f"{hook}/ping").get_json()["delivery_id"]
    full.patch(hook, json={"active": False})

    assert full.post(f"{hook}/ping").status_code == 409
    answer = full.post(f"{hook}/deliveries/{delivery_id}/redeliver")
    assert answer.status_code == 409 and error_of(answer)["code"] == "paused"


# --- who may --------------------------------------------------------------------------------


def test_read_and_book_keys_are_refused_everywhere(api_as, alice, full, receiver):
    created = create(full, receiver)
    hook = f"/api/v1/webhooks/{created['id']}"
    delivery_id = full.post(f"{hook}/ping").get_json()["delivery_id"]
    calls = [
        ("POST", "/api/v1/webhooks", {"url": receiver.url, "events": ["booking.created"]}),
        ("GET", "/api/v1/webhooks", None),
        ("GET", hook, None),
        ("PATCH", hook, {"active": False}),
        ("DELETE", hook, None),
        ("GET", f"{hook}/deliveries", None),
        ("POST", f"{hook}/deliveries/{delivery_id}/redeliver", None),
        ("POST", f"{hook}/ping", None),
    ]
    for scope in ("read", "book"):
        client = api_as(alice, scope)
        for method, path, body in calls:
            answer = client.request(method, path, json=body)
            assert answer.status_code == 403, (scope, method, path)
            assert error_of(answer)["code"] == "forbidden"
    assert Webhook.get_by_id(created["id"]).active, "nothing changed"


def test_strangers_get_401(stranger):
    assert stranger.get("/api/v1/webhooks").status_code == 401
    assert stranger.post("/api/v1/webhooks", json={}).status_code == 401


def test_another_owners_webhook_is_404_and_not_listed(api_as, bob, full, receiver):
    created = create(full, receiver)
    hook = f"/api/v1/webhooks/{created['id']}"
    delivery_id = full.post(f"{hook}/ping").get_json()["delivery_id"]
    bobs = api_as(bob, "full")

    assert bobs.get("/api/v1/webhooks").get_json()["data"] == []
    for method, path in [
        ("GET", hook),
        ("PATCH", hook),
        ("DELETE", hook),
        ("GET", f"{hook}/deliveries"),
        ("POST", f"{hook}/deliveries/{delivery_id}/redeliver"),
        ("POST", f"{hook}/ping"),
    ]:
        answer = bobs.request(method, path, json={} if method == "PATCH" else None)
        assert answer.status_code == 404, (method, path)
    assert Webhook.get_by_id(created["id"]) is not None


def test_a_signed_in_session_manages_webhooks_with_the_csrf_header(alice_session, receiver):
    answer = alice_session.post(
        "/api/v1/webhooks", json={"url": receiver.url, "events": ["booking.created"]}
    )
    assert answer.status_code == 201
    refused = alice_session.post(
        "/api/v1/webhooks",
        json={"url": receiver.url, "events": ["booking.created"]},
        headers={"X-CSRF-Token": "wrong"},
    )
    assert refused.status_code == 403


def test_the_openapi_document_describes_the_webhook_endpoints(full):
    paths = full.get("/api/v1/openapi.json").get_json()["paths"]
    assert set(paths["/api/v1/webhooks"]) == {"get", "post"}
    assert set(paths["/api/v1/webhooks/{webhook_id}"]) == {"get", "patch", "delete"}
    assert "get" in paths["/api/v1/webhooks/{webhook_id}/deliveries"]
    assert "post" in paths["/api/v1/webhooks/{webhook_id}/ping"]
    assert "post" in paths["/api/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver"]
