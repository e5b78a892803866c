"""Booking pages and bookings over REST: settings, slots, booking, lifecycle, tokens."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from calmesh.jobs.outbox import process_due
from calmesh.models import Booking, MailMessage, OutboxItem
from tests.conftest import Api
from tests.factories import add_event, make_connection

BERLIN = ZoneInfo("Europe/Berlin")


def next_weekday_at(hour: int, zone=BERLIN, days_ahead: int = 2) -> datetime:
    """A weekday at ``hour`` local, at least ``days_ahead`` days from now (beyond min notice)."""
    day = datetime.now(zone).date() + timedelta(days=days_ahead)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return datetime(day.year, day.month, day.day, hour, tzinfo=zone)


@pytest.fixture
def full(api_as, alice):
    return api_as(alice, "full")


@pytest.fixture
def page(full, alice):
    """alice's page "intro" on calendar "work" (Berlin), 30 min, Mon-Fri 09-17."""
    conn = make_connection(alice, name="Work")
    full.post(
        "/api/v1/calendars", json={"slug": "work", "name": "Work", "timezone": "Europe/Berlin"}
    )
    full.post("/api/v1/calendars/work/sources", json={"connection_id": conn.id})
    response = full.post(
        "/api/v1/booking-pages",
        json={
            "slug": "intro",
            "title": "Intro call",
            "calendar": "work",
            "timezone": "Europe/Berlin",
            "duration": 30,
            "min_notice": 60,
            "location": "Video call",
            "questions": [
                {"id": "topic", "label": "Topic", "type": "short_text", "required": True}
            ],
        },
    )
    assert response.status_code == 201, response.get_json()
    return {"body": response.get_json(), "remote": conn.calendars[0]}


def book(
    stranger, start: datetime, headers: dict | None = None, path="booking-pages/intro", **extra
):
    body = {
        "start": start.isoformat(),
        "attendee": {
            "name": "Vera Visitor",
            "email": "vera@example.net",
            "timezone": "America/New_York",
        },
        "answers": {"topic": "Pricing"},
        **extra,
    }
    return stranger.post(f"/api/v1/{path}/book", json=body, headers=headers or {})


def test_page_defaults_and_settings_round_trip(page, full):
    body = page["body"]
    assert body["weekly_hours"]["mon"] == [["09:00", "17:00"]] and body["weekly_hours"]["sat"] == []
    assert body["durations"] == [30] and body["url"].endswith("/alice/intro")
    assert 'data-calmesh-slug="intro"' in body["embed_snippet"]
    patched = full.patch(
        "/api/v1/booking-pages/intro",
        json={
            "weekly_hours": {
                "mon": [["09:00", "12:00"], ["13:00", "17:00"]],
                "tue": [],
                "wed": [],
                "thu": [],
                "fri": [],
                "sat": [],
                "sun": [],
            },
            "date_overrides": [{"date": "2026-12-24", "hours": []}],
            "durations": [30, 60],
            "buffer_before": 10,
            "daily_limit": 3,
        },
    )
    assert patched.status_code == 200, patched.get_json()
    got = full.get("/api/v1/booking-pages/intro").get_json()
    assert got["weekly_hours"]["mon"] == [["09:00", "12:00"], ["13:00", "17:00"]]
    assert got["date_overrides"] == [{"date": "2026-12-24", "hours": []}]
    assert got["durations"] == [30, 60] and got["buffer_before"] == 10 and got["daily_limit"] == 3


def test_page_slugs_are_unique_per_owner_only(page, api_as, bob):
    other = api_as(bob, "full")
    other.post("/api/v1/calendars", json={"slug": "work", "name": "W", "timezone": "UTC"})
    response = other.post(
        "/api/v1/booking-pages",
        json={"slug": "intro", "title": "Mine", "calendar": "work", "timezone": "UTC"},
    )
    assert response.status_code == 201  # more in tests/api/test_page_owners.py


@pytest.mark.parametrize(
    "bad",
    [
        {"calendar": "nope"},
        {"timezone": "Europe/Nowhere"},
        {
            "weekly_hours": {
                "mon": [["17:00", "09:00"]],
                "tue": [],
                "wed": [],
                "thu": [],
                "fri": [],
                "sat": [],
                "sun": [],
            }
        },
        {"weekly_hours": {"mon": [["9am", "5pm"]]}},
        {"window_start": "2027-01-10", "window_end": "2027-01-01"},
        {"questions": [{"id": "a", "label": "A", "type": "select"}]},
        {"duration": 0},
    ],
)
def test_bad_page_settings_are_clear_4xx(page, full, bad):
    response = full.patch("/api/v1/booking-pages/intro", json=bad)
    assert response.status_code in (400, 422), bad
    assert response.get_json()["error"]["message"]


def test_slots_grouped_by_the_visitors_date(page, stranger):
    start = next_weekday_at(0).astimezone(UTC)
    response = stranger.get(
        f"/api/v1/booking-pages/intro/slots?start={start.isoformat().replace('+', '%2B')}"
        f"&end={(start + timedelta(days=1)).isoformat().replace('+', '%2B')}&tz=Asia/Kolkata"
    )
    assert response.status_code == 200
    body = response.get_json()
    assert body["timezone"] == "Asia/Kolkata" and body["duration"] == 30
    slots = [s for day in body["dates"].values() for s in day]
    assert len(slots) == 16  # 09:00-17:00 Berlin in 30-minute steps
    first = datetime.fromisoformat(slots[0]["start_local"])
    assert first.utcoffset() == timedelta(hours=5, minutes=30)
    assert datetime.fromisoformat(slots[0]["start"]).astimezone(BERLIN).hour == 9


def test_busy_time_and_bookings_remove_slots(page, stranger):
    ten = next_weekday_at(10)
    add_event(page["remote"], ten, ten + timedelta(hours=1), "Busy")
    day = ten.replace(hour=0)
    url = (
        f"/api/v1/booking-pages/intro/slots?start={day.isoformat().replace('+', '%2B')}"
        f"&end={(day + timedelta(days=1)).isoformat().replace('+', '%2B')}"
    )
    starts = {s["start"] for d in stranger.get(url).get_json()["dates"].values() for s in d}
    assert ten.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") not in starts
    assert len(starts) == 14
    eleven = ten + timedelta(hours=1)
    assert book(stranger, eleven).status_code == 201
    starts = {s["start"] for d in stranger.get(url).get_json()["dates"].values() for s in d}
    assert len(starts) == 13


def test_booking_stores_the_attendee_and_queues_mail_and_writeback(page, stranger, alice):
    start = next_weekday_at(14)
    response = book(stranger, start, notes="See you")
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["status"] == "accepted" and body["id"] == body["uid"]
    assert body["start"] == start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert body["attendee"] == {
        "name": "Vera Visitor",
        "email": "vera@example.net",
        "timezone": "America/New_York",
    }
    assert "/b/" in body["manage_url"] and "token=" in body["manage_url"]
    kinds = sorted(i.kind for i in OutboxItem.select())
    assert kinds == ["booking.mail", "booking.mail", "booking.writeback"]


def test_naive_start_is_refused(page, stranger):
    response = stranger.post(
        "/api/v1/booking-pages/intro/book",
        json={
            "start": "2030-01-07T10:00:00",
            "attendee": {"name": "A", "email": "a@example.net"},
            "answers": {"topic": "x"},
        },
    )
    assert response.status_code == 400
    assert "offset" in response.get_json()["error"]["details"][0]["message"]


def test_required_answers_are_enforced(page, stranger):
    response = book(stranger, next_weekday_at(10), answers={})
    assert response.status_code == 400
    assert response.get_json()["error"]["details"][0]["field"] == "answers.topic"


@pytest.mark.parametrize(("hour", "code"), [(8, "slot_unavailable"), (10, None)])
def test_outside_hours_is_refused_and_inside_is_booked(page, stranger, hour, code):
    response = book(stranger, next_weekday_at(hour))
    if code:
        assert response.status_code == 422 and response.get_json()["error"]["code"] == code
    else:
        assert response.status_code == 201


def test_the_same_slot_twice_is_a_conflict(page, stranger):
    start = next_weekday_at(11)
    assert book(stranger, start).status_code == 201
    second = book(stranger, start)
    assert second.status_code == 409 and second.get_json()["error"]["code"] == "slot_taken"


def test_idempotency_key_makes_a_retry_return_the_same_booking(page, stranger):
    start = next_weekday_at(15)
    first = book(stranger, start, headers={"Idempotency-Key": "abc-123"})
    # The same request again, written differently: the same instant in another
    # offset, the default duration spelled out, keys in another order.
    again = stranger.post(
        "/api/v1/booking-pages/intro/book",
        json={
            "answers": {"topic": "Pricing"},
            "duration": 30,
            "attendee": {
                "timezone": "America/New_York",
                "email": "vera@example.net",
                "name": "Vera Visitor",
            },
            "start": start.astimezone(UTC).isoformat(),
        },
        headers={"Idempotency-Key": "abc-123"},
    )
    assert first.status_code == 201 and again.status_code == 200
    assert first.get_json()["uid"] == again.get_json()["uid"]
    assert Booking.select().count() == 1


def test_a_reused_idempotency_key_with_another_body_reveals_nothing(app, page, stranger):
    """The attack: visitor B learns visitor A's key (a shared script, a log) and
    sends it with B's own details, hoping to get A's booking and manage link."""
    start = next_weekday_at(14)
    victim = book(stranger, start, headers={"Idempotency-Key": "key-of-a"})
    assert victim.status_code == 201
    mine = victim.get_json()
    attacker = Api(app.test_client())
    tries = [
        {"attendee": {"name": "Mallory", "email": "mallory@example.net"}},
        {"notes": "hello"},
        {"answers": {"topic": "Other"}},
        {"attendee": {"name": "Vera Visitor", "email": "vera@example.net"}},  # zone UTC
        {"start": (start + timedelta(minutes=30)).isoformat()},
    ]
    for extra in tries:
        body = {
            "start": start.isoformat(),
            "attendee": {
                "name": "Vera Visitor",
                "email": "vera@example.net",
                "timezone": "America/New_York",
            },
            "answers": {"topic": "Pricing"},
            **extra,
        }
        response = attacker.post(
            "/api/v1/booking-pages/intro/book", json=body, headers={"Idempotency-Key": "key-of-a"}
        )
        assert response.status_code == 422, extra
        assert response.get_json()["error"]["code"] == "idempotency_key_reused"
        text = response.get_data(as_text=True)
        assert mine["uid"] not in text and "manage" not in text and "vera@" not in text
    assert Booking.select().count() == 1
    assert Booking.get().attendee_name == "Vera Visitor"


def test_an_idempotency_key_is_bound_to_its_caller(page, api_as, alice, bob, stranger):
    """The same body under the same key from another caller is another request:
    an owner's key is not answered to a visitor, nor to another owner."""
    start = next_weekday_at(13)
    as_alice = api_as(alice, "book")
    first = book(as_alice, start, headers={"Idempotency-Key": "owner-key"})
    assert first.status_code == 201
    assert book(as_alice, start, headers={"Idempotency-Key": "owner-key"}).status_code == 200
    # bob names alice's page by its public address (by slug alone, his key means his own).
    for other in (stranger, api_as(bob, "book")):
        response = book(
            other, start, headers={"Idempotency-Key": "owner-key"}, path="public/alice/intro"
        )
        assert response.status_code == 422
        assert first.get_json()["uid"] not in response.get_data(as_text=True)


def test_a_key_stored_before_fingerprints_is_not_trusted(page, stranger):
    start = next_weekday_at(12)
    assert book(stranger, start, headers={"Idempotency-Key": "old"}).status_code == 201
    Booking.update(idempotency_fingerprint=None).execute()  # as the migration leaves old rows
    response = book(stranger, start, headers={"Idempotency-Key": "old"})
    assert response.status_code == 422
    assert response.get_json()["error"]["code"] == "idempotency_key_reused"


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
    process_due(app)
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

    process_due(app)
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
    process_due(app)  # rendered at delivery, in the scheduler: no request there either
    mail = MailMessage.get(MailMessage.to_address == "script@example.net")
    assert "/b/" + created.uid in mail.body
