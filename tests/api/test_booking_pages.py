"""calmesh.api.booking_pages: a page's settings, its public slots, and booking a
slot (answers, hours, conflicts, idempotency keys); slugs per owner, reached by
slug with a key and by /public/{handle}/{slug} without."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from calmesh.models import Booking, OutboxItem
from tests.api.conftest import BERLIN, book, next_weekday_at
from tests.conftest import Api
from tests.factories import add_event


def mondays_only(hours: list[list[str]]) -> dict[str, list]:
    return {"mon": hours, **{day: [] for day in ("tue", "wed", "thu", "fri", "sat", "sun")}}


def test_page_defaults_and_settings_round_trip(page, full):
    body = page["body"]
    assert body["weekly_hours"]["mon"] == [["09:00", "17:00"]] and body["weekly_hours"]["sat"] == []
    assert body["durations"] == [30] and body["url"].endswith("/alice/intro")
    assert 'data-calmesh-slug="intro"' in body["embed_snippet"]
    patched = full.patch(
        "/api/v1/booking-pages/intro",
        json={
            "weekly_hours": mondays_only([["09:00", "12:00"], ["13:00", "17:00"]]),
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
    assert response.status_code == 201  # more below, in "two owners, one slug"


@pytest.mark.parametrize(
    "bad",
    [
        {"calendar": "nope"},
        {"timezone": "Europe/Nowhere"},
        {"weekly_hours": mondays_only([["17:00", "09:00"]])},
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
        {"start": start + timedelta(minutes=30)},
    ]
    for extra in tries:
        when = extra.pop("start", start)
        response = book(attacker, when, headers={"Idempotency-Key": "key-of-a"}, **extra)
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


# --- two owners, one slug ---------------------------------------------------------------


def body(start) -> dict:
    return {
        "start": start.isoformat(),
        "attendee": {"name": "Vera", "email": "vera@example.net", "timezone": "Asia/Tokyo"},
    }


def test_two_owners_both_have_intro_and_see_their_own(pages):
    keys, made = pages
    assert made["alice"]["url"].endswith("/alice/intro")
    assert made["bob"]["url"].endswith("/bob/intro")
    for handle, api in keys.items():
        got = api.get("/api/v1/booking-pages/intro").get_json()
        assert got["title"] == f"{handle}'s intro"
        slots = api.get("/api/v1/booking-pages/intro/slots").get_json()
        assert slots["host"]["handle"] == handle
    again = keys["bob"].post(
        "/api/v1/booking-pages",
        json={"slug": "intro", "title": "Twice", "calendar": "work", "timezone": "UTC"},
    )
    assert again.status_code == 409
    assert "you already have a booking page with the slug 'intro'" in str(again.get_json())


def test_bobs_key_never_books_alices_page_by_slug_alone(pages, api_as, alice, bob):
    keys, _ = pages
    keys["bob"].delete("/api/v1/booking-pages/intro")
    start = next_weekday_at(10)

    refused = keys["bob"].post("/api/v1/booking-pages/intro/book", json=body(start))
    assert refused.status_code == 404
    assert "/api/v1/public/{handle}/intro" in refused.get_json()["error"]["message"]
    assert keys["bob"].get("/api/v1/booking-pages/intro/slots").status_code == 404
    assert Booking.select().count() == 0


def test_bob_books_alices_public_page_explicitly_and_the_answer_names_alice(pages, api_as, alice):
    keys, _ = pages
    start = next_weekday_at(10)
    slots = keys["bob"].get("/api/v1/public/alice/intro/slots").get_json()
    assert slots["host"] == {"handle": "alice", "name": "Alice"}
    assert slots["url"].endswith("/alice/intro")

    booked = keys["bob"].post("/api/v1/public/alice/intro/book", json=body(start))
    assert booked.status_code == 201, booked.get_json()
    booking = booked.get_json()
    assert booking["host"] == {"handle": "alice", "name": "Alice"}
    assert booking["manage_url"]  # the attendee's link to cancel or move it
    row = Booking.get(Booking.uid == booking["uid"])
    assert row.user_id == alice.id and row.page.user_id == alice.id
    assert keys["bob"].get(f"/api/v1/bookings/{booking['uid']}").status_code == 404
    assert keys["alice"].get(f"/api/v1/bookings/{booking['uid']}").status_code == 200


def test_without_a_key_an_ambiguous_slug_lists_each_owner(pages, stranger):
    answer = stranger.get("/api/v1/booking-pages/intro/slots")
    assert answer.status_code == 409
    error = answer.get_json()["error"]
    assert error["code"] == "ambiguous_slug"
    assert [d["handle"] for d in error["details"]] == ["alice", "bob"]
    assert error["details"][0]["slots"] == "/api/v1/public/alice/intro/slots"
    assert error["details"][1]["book"] == "/api/v1/public/bob/intro/book"
    assert error["details"][1]["url"].endswith("/bob/intro")
    booked = stranger.post("/api/v1/booking-pages/intro/book", json=body(next_weekday_at(10)))
    assert booked.status_code == 409 and Booking.select().count() == 0

    assert stranger.get("/api/v1/public/bob/intro/slots").get_json()["host"]["handle"] == "bob"


def test_without_a_key_an_unambiguous_slug_still_works(pages, stranger):
    keys, _ = pages
    keys["bob"].patch("/api/v1/booking-pages/intro", json={"slug": "hello"})
    answer = stranger.get("/api/v1/booking-pages/hello/slots")
    assert answer.status_code == 200 and answer.get_json()["host"]["handle"] == "bob"
    assert stranger.get("/api/v1/booking-pages/intro/slots").get_json()["host"]["handle"] == (
        "alice"
    )
    assert stranger.get("/api/v1/public/alice/hello/slots").status_code == 404
    assert stranger.get("/api/v1/booking-pages/nope/slots").status_code == 404


def test_public_slots_are_rate_limited_per_address_but_not_per_key(app, pages, stranger):
    keys, _ = pages
    app.config["CALMESH"]._values["api.public_slots_per_minute"] = 3
    for _ in range(3):
        assert stranger.get("/api/v1/public/alice/intro/slots").status_code == 200
    limited = stranger.get("/api/v1/booking-pages/intro/slots")
    assert limited.status_code == 429 and limited.headers["Retry-After"]
    assert limited.get_json()["error"]["code"] == "rate_limited"
    other = stranger.client.get(
        "/api/v1/public/alice/intro/slots", environ_base={"REMOTE_ADDR": "198.51.100.7"}
    )
    assert other.status_code == 200
    for _ in range(5):  # a key counts against its own limit instead
        assert keys["alice"].get("/api/v1/public/alice/intro/slots").status_code == 200
