"""Booking-page slugs are unique per owner: alice and bob both have `intro`. A key acts
on its owner's own pages; another owner's page is reached only by its public address
/{handle}/{slug}, and every answer names the page's owner."""

from __future__ import annotations

import peewee as pw
import pytest

from calmesh.db import db, migrator_for
from calmesh.migrations import m0040_booking_page_slug_per_owner as migration
from calmesh.models import Booking, BookingPage
from tests.api.test_bookings import next_weekday_at
from tests.factories import make_connection


def make_page(api, user, slug: str = "intro", **settings) -> dict:
    conn = make_connection(user, name=f"Work {user.handle}")
    api.post("/api/v1/calendars", json={"slug": "work", "name": "Work", "timezone": "UTC"})
    api.post("/api/v1/calendars/work/sources", json={"connection_id": conn.id})
    made = api.post(
        "/api/v1/booking-pages",
        json={
            "slug": slug,
            "title": f"{user.handle}'s intro",
            "calendar": "work",
            "timezone": "Europe/Berlin",
            "min_notice": 0,
            **settings,
        },
    )
    assert made.status_code == 201, made.get_json()
    return made.get_json()


@pytest.fixture
def pages(api_as, alice, bob):
    keys = {"alice": api_as(alice, "full"), "bob": api_as(bob, "full")}
    return keys, {h: make_page(keys[h], u) for h, u in (("alice", alice), ("bob", bob))}


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


def test_the_public_web_page_is_per_owner(pages, stranger):
    for handle in ("alice", "bob"):
        html = stranger.client.get(f"/{handle}/intro").get_data(as_text=True)
        assert f"{handle}&#39;s intro" in html


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


def test_the_migration_turns_the_instance_wide_index_into_a_per_owner_one(app, alice, bob):
    with db.atomic():
        db.execute_sql('DROP INDEX "booking_page_user_id_slug"')
        db.execute_sql('CREATE UNIQUE INDEX "booking_page_slug" ON "booking_page" ("slug")')
    migration.up(migrator_for(db.obj), db.obj)
    indexes = {i.name: (i.columns, i.unique) for i in db.get_indexes("booking_page")}
    assert "booking_page_slug" not in indexes
    assert indexes["booking_page_user_id_slug"] == (["user_id", "slug"], True)
    from calmesh.services import calendars

    for user in (alice, bob):
        calendar = calendars.create(user, "work", "Work", "UTC")
        BookingPage.create(
            user=user, slug="intro", title="t", calendar=calendar, timezone="UTC", weekly_hours={}
        )
    with pytest.raises(pw.IntegrityError), db.atomic():
        BookingPage.create(
            user=alice, slug="intro", title="t", calendar=calendar, timezone="UTC", weekly_hours={}
        )
