"""CalMesh's own bookings count as busy in availability, conflicts and poll overlap:
pending and accepted ones, each exactly once (also once written back to a source),
and a moved booking is never blocked by its old self."""

from __future__ import annotations

from datetime import UTC, timedelta

import pytest

from calmesh.effects.drafts import booking_draft
from calmesh.models import Booking
from calmesh.services import calendars as calendar_service
from tests.api.conftest import book, next_weekday_at
from tests.factories import add_event
from tests.settings import cfg


@pytest.fixture
def full(api_as, alice):
    return api_as(alice, "full")


def q(value) -> str:
    return value.isoformat().replace("+", "%2B")


def busy_of(full, start, end) -> list[tuple[str, str]]:
    answer = full.get(f"/api/v1/calendars/work/availability?start={q(start)}&end={q(end)}")
    assert answer.status_code == 200, answer.get_json()
    return [(b["start"], b["end"]) for b in answer.get_json()["busy"]]


def z(moment) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def write_back(booking_uid: str, remote) -> None:
    """What the outbox's write-back leaves behind, without a provider: the event in
    the source's cache under the booking's UID, and the booking pointing at it."""
    booking = Booking.get(Booking.uid == booking_uid)
    draft = booking_draft(booking)
    href = f"{remote.remote_id}{booking_uid}.ics"
    calendar_service.store_written(remote, href, draft, "Europe/Berlin", cfg())
    Booking.update(remote_calendar=remote, remote_href=href).where(
        Booking.id == booking.id
    ).execute()


def test_pending_and_accepted_bookings_are_busy_in_availability(page, full, stranger):
    ten = next_weekday_at(10)
    window = (ten - timedelta(hours=1), ten + timedelta(hours=4))
    assert busy_of(full, *window) == []

    assert book(stranger, ten).status_code == 201
    full.patch("/api/v1/booking-pages/intro", json={"requires_confirmation": True})
    assert book(stranger, ten + timedelta(hours=2)).get_json()["status"] == "pending"

    assert busy_of(full, *window) == [
        (z(ten), z(ten + timedelta(minutes=30))),
        (z(ten + timedelta(hours=2)), z(ten + timedelta(hours=2, minutes=30))),
    ]
    day = ten.date().isoformat()
    by_date = full.get(f"/api/v1/calendars/work/availability?date={day}").get_json()
    assert len(by_date["busy"]) == 2


def test_cancelled_and_declined_bookings_free_their_time(page, full, stranger):
    ten = next_weekday_at(10)
    uid = book(stranger, ten).get_json()["uid"]
    full.patch(f"/api/v1/bookings/{uid}/cancel", json={})
    assert busy_of(full, ten, ten + timedelta(hours=1)) == []


def test_a_written_back_booking_counts_once_and_does_not_block_its_move(page, full, stranger):
    full.patch("/api/v1/booking-pages/intro", json={"slot_interval": 15})
    ten = next_weekday_at(10)
    uid = book(stranger, ten).get_json()["uid"]
    write_back(uid, page["remote"])
    window = (ten - timedelta(hours=1), ten + timedelta(hours=2))

    events = full.get(f"/api/v1/calendars/work/events?start={q(window[0])}&end={q(window[1])}")
    (event,) = events.get_json()["data"]
    assert event["booking_id"] == uid  # the provider's copy is recognised as the booking
    assert busy_of(full, *window) == [(z(ten), z(ten + timedelta(minutes=30)))]
    conflicts = full.get(
        f"/api/v1/calendars/work/conflicts?start={q(window[0])}&end={q(window[1])}"
    ).get_json()
    assert conflicts["data"] == []  # not a conflict with itself

    # A move by 15 minutes overlaps the booking's old self (row and written event).
    moved = full.post(
        f"/api/v1/bookings/{uid}/reschedule",
        json={"start": (ten + timedelta(minutes=15)).isoformat()},
    )
    assert moved.status_code == 200, moved.get_json()


def test_an_event_with_a_foreign_booking_uid_still_blocks(page, full):
    """Another CalMesh instance's booking in a shared calendar is not one of ours."""
    ten = next_weekday_at(10)
    add_event(
        page["remote"],
        ten,
        ten + timedelta(hours=1),
        "Elsewhere",
        uid="not-ours" + calendar_service.BOOKING_UID_DOMAIN,
    )
    assert busy_of(full, ten - timedelta(hours=1), ten + timedelta(hours=2)) == [
        (z(ten), z(ten + timedelta(hours=1)))
    ]


def test_a_booking_not_yet_written_conflicts_with_a_source_event(page, full, stranger):
    ten = next_weekday_at(10)
    add_event(page["remote"], ten, ten + timedelta(hours=1), "Planning")
    full.patch("/api/v1/booking-pages/intro", json={"requires_confirmation": True})
    # The page refuses the busy hour; a booking made before the event arrived is there.
    uid = book(stranger, ten + timedelta(hours=1)).get_json()["uid"]
    Booking.update(start=ten + timedelta(minutes=30), end=ten + timedelta(hours=1)).where(
        Booking.uid == uid
    ).execute()
    window = (ten - timedelta(hours=1), ten + timedelta(hours=3))

    answer = full.get(
        f"/api/v1/calendars/work/conflicts?start={q(window[0])}&end={q(window[1])}"
    ).get_json()
    (conflict,) = answer["data"]
    kinds = {conflict["a"]["summary"]: conflict["a"], conflict["b"]["summary"]: conflict["b"]}
    booking_side = kinds["Intro call: Vera Visitor"]
    assert booking_side["booking_id"] == uid and booking_side["source_id"] is None
    assert booking_side["status"] == "tentative"  # pending
    assert kinds["Planning"]["booking_id"] is None

    write_back(uid, page["remote"])
    again = full.get(
        f"/api/v1/calendars/work/conflicts?start={q(window[0])}&end={q(window[1])}"
    ).get_json()
    # Written to the same source as the event: the booking is no second entry, and
    # overlaps inside one source are not conflicts.
    assert again["data"] == []


def test_poll_overlap_marks_an_option_over_a_booking_busy(page, full, stranger):
    ten = next_weekday_at(10)
    assert book(stranger, ten).status_code == 201
    poll = full.post(
        "/api/v1/polls",
        json={
            "title": "Sync",
            "timezone": "Europe/Berlin",
            "calendar": "work",
            "options": [
                {"start": ten.isoformat(), "end": (ten + timedelta(hours=1)).isoformat()},
                {
                    "start": (ten + timedelta(hours=3)).isoformat(),
                    "end": (ten + timedelta(hours=4)).isoformat(),
                },
            ],
        },
    )
    assert poll.status_code == 201, poll.get_json()
    overlap = full.get(f"/api/v1/polls/{poll.get_json()['id']}/overlap").get_json()
    busy = {o["start"]: o["busy"] for o in overlap["options"]}
    assert busy == {z(ten): True, z(ten + timedelta(hours=3)): False}


def test_a_read_key_sees_a_bookings_time_but_not_who_booked(page, full, api_as, alice, stranger):
    ten = next_weekday_at(10)
    uid = book(stranger, ten).get_json()["uid"]
    write_back(uid, page["remote"])
    add_event(page["remote"], ten, ten + timedelta(hours=1), "Planning")
    reader = api_as(alice, "read")
    window = f"start={q(ten - timedelta(hours=1))}&end={q(ten + timedelta(hours=2))}"

    for path in ("events", "conflicts"):
        answer = reader.get(f"/api/v1/calendars/work/{path}?{window}")
        assert answer.status_code == 200
        assert "Vera" not in answer.get_data(as_text=True), path
    events = reader.get(f"/api/v1/calendars/work/events?{window}").get_json()["data"]
    assert {e["summary"] for e in events} == {"Intro call (booking)", "Planning"}
    booker = full.get(f"/api/v1/calendars/work/events?{window}").get_json()["data"]
    assert "Intro call: Vera Visitor" in {e["summary"] for e in booker}
    assert busy_of(reader, ten, ten + timedelta(hours=1)) == [(z(ten), z(ten + timedelta(hours=1)))]
