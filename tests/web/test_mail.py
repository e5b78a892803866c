"""The mail log: mails kept without SMTP, their .ics, and retrying failed deliveries."""

from __future__ import annotations

import pytest

from calmesh.effects import outbox
from calmesh.jobs.outbox import process_due
from calmesh.models import OutboxItem
from tests.conftest import CSRF, signed_in_client
from tests.web.test_booking_pages import XSS
from tests.web.test_bookings import at, book, make_page, text

HTMX = {"HX-Request": "true"}


@pytest.fixture
def client(app, alice):
    return signed_in_client(app, alice)


@pytest.fixture
def page(alice):
    """Accepted at once; its calendar has no source, so the write-back fails for good."""
    return make_page(alice)


def test_without_smtp_a_banner_says_mail_is_kept_here(client):
    html = text(client.get("/mail"))
    assert "No SMTP server is configured" in html and "No mail yet" in html


def test_with_smtp_there_is_no_banner(app, client, monkeypatch):
    monkeypatch.setitem(app.config["CALMESH"]._values, "mail.host", "smtp.example.org")
    assert "No SMTP server is configured" not in text(client.get("/mail"))


def test_mails_of_a_booking_are_logged_with_their_invitation(app, client, page):
    book(app, page, at(10))
    assert "Confirmed: Intro call" not in text(client.get("/mail"))  # not delivered yet
    process_due(app)
    html = text(client.get("/mail"))
    assert html.count('class="badge logged"') == 2
    assert "vera@example.net" in html and "Confirmed: Intro call" in html
    assert "alice@example.org" in html and "[CalMesh] Booking accepted: Vera Visitor" in html
    assert "Hello Vera Visitor," in html and "/b/" in html  # the body, with the manage link
    assert "BEGIN:VCALENDAR" in html and "METHOD:REQUEST" in html and "(REQUEST)" in html


def test_bob_sees_none_of_alices_mail(app, page, bob):
    book(app, page, at(10))
    process_due(app)
    html = text(signed_in_client(app, bob).get("/mail"))
    assert "Vera Visitor" not in html and "booking.writeback" not in html


def test_a_failed_delivery_is_listed_and_can_be_retried(app, client, page):
    book(app, page, at(10))
    process_due(app)
    item = OutboxItem.get(OutboxItem.kind == "booking.writeback")
    assert item.status == "failed"
    html = text(client.get("/mail"))
    assert "Failed deliveries" in html and "booking.writeback" in html
    assert "the calendar has no sources to write to" in html

    response = client.post(f"/mail/outbox/{item.id}/retry", data={"csrf_token": CSRF}, headers=HTMX)
    assert response.status_code == 200 and "<html" not in text(response)
    assert "Queued again" in text(response) and "booking.writeback" not in text(response)
    retried = OutboxItem.get_by_id(item.id)
    assert (retried.status, retried.attempts) == ("pending", 0)  # a fresh set of tries
    assert outbox.due_items() == [item.id]


def test_retry_without_javascript_redirects_back(app, client, page):
    book(app, page, at(10))
    process_due(app)
    item = OutboxItem.get(OutboxItem.kind == "booking.writeback")
    response = client.post(f"/mail/outbox/{item.id}/retry", data={"csrf_token": CSRF})
    assert response.status_code == 302 and response.headers["Location"].endswith("/mail")
    assert OutboxItem.get_by_id(item.id).status == "pending"
    assert "Queued again" in text(client.get("/mail"))
    # A second click finds nothing to retry and changes nothing.
    assert (
        client.post(f"/mail/outbox/{item.id}/retry", data={"csrf_token": CSRF}).status_code == 302
    )
    assert OutboxItem.get_by_id(item.id).status == "pending"


def test_bob_cannot_retry_alices_items(app, page, bob):
    book(app, page, at(10))
    process_due(app)
    item = OutboxItem.get(OutboxItem.kind == "booking.writeback")
    bobs = signed_in_client(app, bob)
    assert bobs.post(f"/mail/outbox/{item.id}/retry", data={"csrf_token": CSRF}).status_code == 404
    assert OutboxItem.get_by_id(item.id).status == "failed"


def test_subjects_and_bodies_are_escaped(app, client, page):
    book(app, page, at(10), name=XSS)
    process_due(app)
    html = text(client.get("/mail"))
    assert XSS not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_signed_out_visitors_are_sent_to_sign_in(app):
    response = app.test_client().get("/mail")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
