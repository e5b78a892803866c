"""calmesh.api.bookings: a booking's lifecycle over REST, the visitor's signed
links, the owner's list, and the mails and links the outbox sends."""

from __future__ import annotations

from datetime import timedelta

from calmesh.jobs.outbox import process_due
from calmesh.models import MailMessage
from tests.api.conftest import book, next_weekday_at


def test_lifecycle_confirm_reschedule_cancel(page, full, stranger):
    full.patch("/api/v1/booking-pages/intro", json={"requires_confirmation": True})
    start = next_weekday_at(9)
    uid = book(stranger, start).get_json()["uid"]
    assert full.get(f"/api/v1/bookings/{uid}").get_json()["status"] == "pending"
    assert full.post(f"/api/v1/bookings/{uid}/confirm").get_json()["status"] == "accepted"
    assert full.post(f"/api/v1/bookings/{uid}/confirm").status_code == 409
    moved = full.post(
        f"/api/v1/bookings/{uid}/reschedule",
        json={"start": (start + timedelta(minutes=30)).isoformat(), "reason": "clash"},
    )
    assert moved.status_code == 200 and moved.get_json()["uid"] == uid
    assert moved.get_json()["sequence"] == 2
    # Moving onto a taken time is a conflict; moving within its own old time is fine.
    other = book(stranger, start + timedelta(hours=2)).get_json()["uid"]
    clash = full.post(
        f"/api/v1/bookings/{uid}/reschedule",
        json={"start": (start + timedelta(hours=2)).isoformat()},
    )
    assert clash.status_code == 409
    cancelled = full.patch(f"/api/v1/bookings/{uid}/cancel", json={"reason": "ill"})
    assert cancelled.get_json()["status"] == "cancelled" and cancelled.get_json()["reason"] == "ill"
    assert (
        full.post(
            f"/api/v1/bookings/{uid}/reschedule", json={"start": start.isoformat()}
        ).status_code
        == 409
    )
    assert full.post(f"/api/v1/bookings/{other}/decline").status_code == 200


def test_visitor_cancels_with_the_signed_token_only(page, stranger, full):
    created = book(stranger, next_weekday_at(13)).get_json()
    token = created["manage_url"].split("token=")[1]
    other = book(stranger, next_weekday_at(16)).get_json()
    assert stranger.patch(f"/api/v1/bookings/{created['uid']}/cancel", json={}).status_code == 401
    assert (
        stranger.patch(
            f"/api/v1/bookings/{created['uid']}/cancel", json={"token": token[:-2] + "xx"}
        ).status_code
        == 403
    )
    assert (
        stranger.patch(f"/api/v1/bookings/{other['uid']}/cancel", json={"token": token}).status_code
        == 403
    )
    done = stranger.patch(
        f"/api/v1/bookings/{created['uid']}/cancel", json={"token": token, "reason": "sorry"}
    )
    assert done.status_code == 200 and done.get_json()["status"] == "cancelled"


def test_token_for_another_purpose_is_refused(app, page, stranger):
    from calmesh.auth import signing

    uid = book(stranger, next_weekday_at(12)).get_json()["uid"]
    with app.test_request_context():
        foreign = signing.sign("poll-vote", {"b": uid})
    assert (
        stranger.patch(f"/api/v1/bookings/{uid}/cancel", json={"token": foreign}).status_code == 403
    )


def test_list_filters_and_scopes(page, full, api_as, alice, bob, stranger):
    a = book(stranger, next_weekday_at(10)).get_json()["uid"]
    b = book(
        stranger, next_weekday_at(11), attendee={"name": "Otto", "email": "otto@example.net"}
    ).get_json()["uid"]
    full.patch(f"/api/v1/bookings/{b}/cancel", json={})
    # A read key sees calendars, not who booked: listing bookings needs 'book'.
    nosy = api_as(alice, "read")
    for path in ("/api/v1/bookings", f"/api/v1/bookings/{a}"):
        refused = nosy.get(path)
        assert refused.status_code == 403, path
        assert "this needs the 'book' scope; the key has 'read'" in str(refused.get_json())
        assert "vera@example.net" not in refused.get_data(as_text=True)
    reader = api_as(alice, "book")
    assert [
        x["uid"] for x in reader.get("/api/v1/bookings?status=accepted").get_json()["data"]
    ] == [a]
    assert [x["uid"] for x in reader.get("/api/v1/bookings?attendee=OTTO").get_json()["data"]] == [
        b
    ]
    assert [
        x["uid"] for x in reader.get("/api/v1/bookings?booking_page=intro").get_json()["data"]
    ] == [a, b]
    assert nosy.post(f"/api/v1/bookings/{a}/confirm").status_code == 403
    assert nosy.patch(f"/api/v1/bookings/{a}/cancel", json={}).status_code == 403
    assert api_as(bob, "full").get(f"/api/v1/bookings/{a}").status_code == 404
    assert all(x["manage_url"] is None for x in reader.get("/api/v1/bookings").get_json()["data"])


def test_outbox_delivers_mail_to_the_log_without_smtp(app, page, stranger):
    from calmesh.models.mail import MailMessage

    book(stranger, next_weekday_at(10))
    process_due()
    mails = list(MailMessage.select().order_by(MailMessage.id))
    assert {m.to_address for m in mails} == {"vera@example.net", "alice@example.org"}
    visitor = next(m for m in mails if m.to_address == "vera@example.net")
    assert visitor.status == "logged" and visitor.ics_method == "REQUEST"
    assert "/b/" in visitor.body and "BEGIN:VEVENT" in visitor.ics


def test_links_use_the_configured_public_url(app, page, stranger):
    app.config["CALMESH"]._values["server.base_url"] = "https://cal.example.org"
    body = book(stranger, next_weekday_at(10)).get_json()
    assert body["manage_url"].startswith("https://cal.example.org/b/")
    from calmesh.models.mail import MailMessage

    process_due()
    visitor = MailMessage.get(MailMessage.to_address == "vera@example.net")
    assert "https://cal.example.org/b/" in visitor.body


def test_a_booking_made_outside_any_request_still_gets_its_links(app, page):
    from calmesh.models import BookingPage
    from calmesh.services import bookings

    created, _ = bookings.book(
        BookingPage.get(BookingPage.slug == "intro"),
        start=next_weekday_at(15),
        duration=None,
        attendee=bookings.Attendee("Script", "script@example.net", "UTC"),
        answers={"topic": "from a job"},
    )
    assert created.status == "accepted"
    process_due()  # rendered at delivery, in the scheduler: no request there either
    mail = MailMessage.get(MailMessage.to_address == "script@example.net")
    assert "/b/" + created.uid in mail.body
