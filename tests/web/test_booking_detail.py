"""One booking in full (answers, notes, zones, history, where it was written),
and where bookings are written: an explicit choice among writable calendars
only, and a failed write-back shown on the booking, the list and the calendar
page until it succeeds or is dismissed."""

from __future__ import annotations

import re

import icalendar
import pytest

from calmesh.effects import delivery
from calmesh.jobs.outbox import context
from calmesh.models import Booking, BookingPage, OutboxItem, RemoteCalendar
from calmesh.providers.base import AuthError
from calmesh.services import bookings, calendars, write_backs
from tests.conftest import CSRF, signed_in_client
from tests.factories import make_connection
from tests.web.test_bookings import BERLIN, at, make_page

QUESTIONS = [
    {"id": "company", "label": "Company", "type": "short_text", "required": False},
    {"id": "topic", "label": "Topic", "type": "long_text", "required": False},
]


class FakeProvider:
    """The network edge: a calendar server that refuses (``fail``) or takes events."""

    def __init__(self):
        self.fail: str | None = None
        self.created: list[str] = []

    def create_event(self, remote_id, draft):
        if self.fail:
            raise AuthError(self.fail)
        self.created.append(draft.uid)
        return f"{remote_id}{draft.uid}.ics"

    update_event = lambda self, remote_id, href, draft: href  # noqa: E731

    def delete_event(self, remote_id, href):
        pass


def fake_provider(monkeypatch) -> FakeProvider:
    """Every write-back goes to one FakeProvider (returned), nothing to the event cache."""
    fake = FakeProvider()
    monkeypatch.setattr("calmesh.effects.writeback.provider_for", lambda *a, **k: fake)
    monkeypatch.setattr(calendars, "store_written", lambda *a, **k: None)
    return fake


@pytest.fixture
def provider(monkeypatch):
    return fake_provider(monkeypatch)


@pytest.fixture
def setup(alice):
    """alice's "work" calendar: an iCal feed first (read-only), then a CalDAV
    connection with two writable calendars; a page that needs no confirmation."""
    unified = calendars.create(alice, "work", "Work", "Europe/Berlin")
    feed = make_connection(alice, provider="ics", name="Holidays")
    dav = make_connection(alice, name="Dav", calendars=2)
    calendars.add_source(unified, feed.id)
    calendars.add_source(unified, dav.id)
    page = make_page(alice, questions=QUESTIONS, requires_confirmation=False)
    remotes = list(
        RemoteCalendar.select().where(RemoteCalendar.connection == dav).order_by(RemoteCalendar.id)
    )
    return {"calendar": unified, "page": page, "dav": remotes, "feed": feed}


@pytest.fixture
def client(app, alice):
    return signed_in_client(app, alice)


def book(app, page, hour=10, **extra):
    with app.test_request_context():
        booking, _ = bookings.book(
            BookingPage.get_by_id(page.id),
            start=at(hour),
            duration=None,
            attendee=bookings.Attendee("Vera Visitor", "vera@example.net", "Asia/Tokyo"),
            **extra,
        )
    return booking


def write_back_now(app) -> None:
    """Run the queued write-backs, as the outbox's writeback lane does."""
    with app.app_context():
        for item in OutboxItem.select().where(
            (OutboxItem.kind == write_backs.KIND) & (OutboxItem.status == "pending")
        ):
            delivery.deliver(item.id, context(app))


def html(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


# --- the detail view ----------------------------------------------------------------------


def test_the_detail_shows_answers_notes_zones_and_the_history_with_reasons(
    app, client, setup, provider
):
    booking = book(
        app,
        setup["page"],
        notes="Please call me on my mobile.",
        answers={"company": "Acme", "topic": "Pricing\nand support"},
    )
    with app.test_request_context():
        moved = bookings.reschedule(Booking.get_by_id(booking.id), at(14), "A clash", by="owner")
        bookings.cancel(moved, "Ill", by="visitor")
    page = html(client.get(f"/bookings/{booking.uid}"))
    assert "Intro call with Vera Visitor" in page and 'class="badge cancelled"' in page
    assert "<dt>Company</dt><dd>Acme</dd>" in page and "Pricing\nand support" in page
    assert "Please call me on my mobile." in page
    assert "Asia/Tokyo" in page and "(Europe/Berlin)" in page
    steps = re.findall(r'<span class="history-what">([^<]+)</span>', page)
    assert steps == ["Booked by Vera Visitor", "Rescheduled by you", "Cancelled by Vera Visitor"]
    assert '<span class="label">Reason:</span> A clash' in page
    assert '<span class="label">Reason:</span> Ill' in page
    local = at(10).astimezone(BERLIN)
    assert f"from {local:%A}, {local.day} {local:%B} {local.year}, {local:%H:%M}" in page
    assert "nothing left to do" in page


def test_a_pending_request_has_its_actions_on_the_detail(app, client, alice, setup):
    BookingPage.update(requires_confirmation=True).where(
        BookingPage.id == setup["page"].id
    ).execute()
    booking = book(app, setup["page"])
    page = html(client.get(f"/bookings/{booking.uid}"))
    assert (
        ">Confirm<" in page and "Decline…" in page and "a request goes into your calendar" in page
    )
    back = f"/bookings/{booking.uid}"
    done = client.post(f"{back}/confirm", data={"csrf_token": CSRF, "next": back})
    assert done.status_code == 303 and done.headers["Location"].endswith(back)
    page = html(client.get(back))
    assert "Vera Visitor: confirmed." in page
    assert re.findall(r'history-what">([^<]+)<', page) == [
        "Requested by Vera Visitor",
        "Confirmed by you",
    ]


def test_the_list_links_each_booking_to_its_detail(app, client, setup):
    booking = book(app, setup["page"])
    assert f'href="/bookings/{booking.uid}"' in html(client.get("/bookings"))


def test_the_owner_downloads_the_booking_as_ics(app, client, setup):
    booking = book(app, setup["page"])
    answer = client.get(f"/bookings/{booking.uid}/event.ics")
    assert answer.status_code == 200 and answer.mimetype == "text/calendar"
    parsed = icalendar.Calendar.from_ical(answer.data)
    [event] = parsed.walk("VEVENT")
    assert str(parsed["METHOD"]) == "PUBLISH"
    assert str(event["UID"]) == booking.uid + bookings.UID_DOMAIN


def test_unknown_and_malformed_booking_ids_answer_404(client, setup):
    assert client.get("/bookings/nope").status_code == 404
    assert client.get("/bookings/" + "x" * 300).status_code == 404


# --- where bookings go ------------------------------------------------------------------


def test_bookings_go_to_the_first_writable_calendar_never_the_ical_feed(setup):
    source, remote = calendars.write_target(setup["calendar"])
    assert remote.id == setup["dav"][0].id and source.connection.provider == "caldav"
    choices = [r.id for _, r in calendars.writable_choices(setup["calendar"])]
    assert choices == [r.id for r in setup["dav"]]


def test_the_owner_chooses_another_writable_calendar(client, setup):
    second = setup["dav"][1]
    page = html(client.get("/calendars/work"))
    options = re.findall(
        r'<option value="(\d+)"[^>]*>([^<]+)</option>', page.split('id="f-write-calendar"')[1]
    )
    assert [int(v) for v, _ in options] == [r.id for r in setup["dav"]]
    assert "Holidays" not in page.split('id="write-target"')[1].split("</select>")[0]
    response = client.post(
        "/calendars/work/write-target", data={"csrf_token": CSRF, "write_calendar": second.id}
    )
    assert response.status_code == 302
    assert "Bookings go to Dav 1." in html(client.get("/calendars/work"))
    assert (
        calendars.write_target(calendars.get_for(setup["calendar"].user, "work"))[1].id == second.id
    )


def test_a_read_only_or_foreign_calendar_cannot_be_chosen(app, client, setup, bob):
    feed_calendar = RemoteCalendar.get(RemoteCalendar.connection == setup["feed"])
    bobs = make_connection(bob, name="Bob's")
    bobs_calendar = RemoteCalendar.get(RemoteCalendar.connection == bobs)
    for refused in (feed_calendar.id, bobs_calendar.id, 999999):
        client.post(
            "/calendars/work/write-target", data={"csrf_token": CSRF, "write_calendar": refused}
        )
        assert "bookings can only go to a writable calendar" in html(client.get("/calendars/work"))
        assert calendars.get_for(setup["calendar"].user, "work").write_calendar_id is None
    client.post("/calendars/work/write-target", data={"csrf_token": CSRF, "write_calendar": "x"})
    assert "Choose a calendar for bookings." in html(client.get("/calendars/work"))


def test_a_removed_choice_falls_back_to_the_first_writable(setup):
    calendars.choose_write_calendar(setup["calendar"], setup["dav"][1].id)
    RemoteCalendar.update(enabled=False).where(RemoteCalendar.id == setup["dav"][1].id).execute()
    assert calendars.write_target(setup["calendar"])[1].id == setup["dav"][0].id


def test_add_source_offers_only_what_is_not_added_yet(client, setup, alice):
    page = html(client.get("/calendars/work"))
    offered = re.findall(
        r'<option value="([\d:]+)">', page.split('id="f-source"')[1].split("</select>")[0]
    )
    dav = setup["dav"][0].connection_id
    assert offered == [
        f"{dav}:{setup['dav'][0].id}",
        f"{dav}:{setup['dav'][1].id}",
        f"{setup['feed'].id}:{RemoteCalendar.get(RemoteCalendar.connection == setup['feed']).id}",
    ]


def test_the_api_sets_where_bookings_go(api_as, alice, setup, bob):
    api = api_as(alice, "full")
    second, first = setup["dav"][1], setup["dav"][0]
    assert api.get("/api/v1/calendars/work").json["write_calendar_id"] == first.id
    answer = api.patch("/api/v1/calendars/work", json={"write_calendar_id": second.id})
    assert answer.status_code == 200 and answer.json["write_calendar_id"] == second.id
    flags = [s["write_target"] for s in answer.json["sources"]]
    assert flags == [False, True]  # the iCal feed never
    feed_calendar = RemoteCalendar.get(RemoteCalendar.connection == setup["feed"])
    refused = api.patch("/api/v1/calendars/work", json={"write_calendar_id": feed_calendar.id})
    assert refused.status_code == 422 and refused.json["error"]["code"] == "not_writable"
    assert (
        api.patch("/api/v1/calendars/work", json={"name": "Job"}).json["write_calendar_id"]
        == second.id
    )
    back = api.patch("/api/v1/calendars/work", json={"write_calendar_id": None})
    assert back.json["write_calendar_id"] == first.id
    assert (
        api_as(bob, "full")
        .patch("/api/v1/calendars/work", json={"write_calendar_id": first.id})
        .status_code
        == 404
    )


def test_a_booking_page_says_where_its_bookings_go(client, setup):
    calendars.choose_write_calendar(setup["calendar"], setup["dav"][1].id)
    assert "bookings go to <strong>Dav 1</strong>" in html(client.get("/booking-pages"))


# --- failed write-backs ------------------------------------------------------------------


def test_a_failed_write_back_shows_everywhere_until_a_retry_succeeds(
    app, client, alice, setup, provider
):
    provider.fail = "the server refused the credentials"
    booking = book(app, setup["page"])
    write_back_now(app)
    assert write_backs.state_of(Booking.get_by_id(booking.id)).state == "failed"

    detail = html(client.get(f"/bookings/{booking.uid}"))
    assert "Not in your calendar." in detail and "the server refused the credentials" in detail
    assert 'class="badge accepted"' in detail  # accepted, but not written: both shown
    assert "not in your calendar" in html(client.get("/bookings"))
    assert "could not be written to your calendar" in html(client.get("/calendars/work"))
    [failed] = write_backs.failed_write_backs(alice)
    assert failed.booking.uid == booking.uid and "refused" in failed.error

    provider.fail = None
    back = f"/bookings/{booking.uid}"
    retried = client.post(f"{back}/write-back/retry", data={"csrf_token": CSRF, "next": back})
    assert retried.status_code == 303
    assert write_backs.state_of(Booking.get_by_id(booking.id)).state == "queued"
    write_back_now(app)
    detail = html(client.get(back))
    assert "Not in your calendar." not in detail and "In <strong>Dav 0</strong> (Dav)" in detail
    assert write_backs.failed_write_backs(alice) == []
    assert "could not be written" not in html(client.get("/calendars/work"))


def test_a_dismissed_failure_hides_until_the_next_one(app, client, alice, setup, provider):
    provider.fail = "gone"
    booking = book(app, setup["page"])
    write_back_now(app)
    response = client.post(
        f"/bookings/{booking.uid}/write-back/dismiss",
        data={"csrf_token": CSRF},
        headers={"HX-Request": "true"},
    )
    assert "Failure dismissed." in html(response)
    assert write_backs.failed_write_backs(alice) == []
    assert "Not in your calendar." not in html(client.get(f"/bookings/{booking.uid}"))
    with app.test_request_context():
        bookings.reschedule(Booking.get_by_id(booking.id), at(15), "later")
    write_back_now(app)
    assert [f.booking.uid for f in write_backs.failed_write_backs(alice)] == [booking.uid]


def test_retry_without_a_failure_says_so(app, client, setup, provider):
    booking = book(app, setup["page"])
    write_back_now(app)
    response = client.post(
        f"/bookings/{booking.uid}/write-back/retry",
        data={"csrf_token": CSRF},
        headers={"HX-Request": "true"},
    )
    assert "has not failed" in html(response)


def test_bob_cannot_retry_or_dismiss_alices_write_back(app, setup, provider, bob):
    provider.fail = "gone"
    booking = book(app, setup["page"])
    write_back_now(app)
    bobs = signed_in_client(app, bob)
    for action in ("retry", "dismiss"):
        assert (
            bobs.post(
                f"/bookings/{booking.uid}/write-back/{action}", data={"csrf_token": CSRF}
            ).status_code
            == 404
        )
    assert write_backs.failed_write_backs(bob) == []
    assert write_backs.state_of(Booking.get_by_id(booking.id)).shows_failure
