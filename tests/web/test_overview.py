"""The Overview: a first-run checklist with progress, then the owner's home (today's
and upcoming bookings, requests, open polls with their newest votes, broken
connections, failed write-backs), in the owner's zone and only their own."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from calmesh.models import Booking, BookingPage, OutboxItem, PollOption
from calmesh.services import calendars, polls, write_backs
from tests.conftest import signed_in_client
from tests.factories import make_connection

TOKYO = ZoneInfo("Asia/Tokyo")


def text(response) -> str:
    return html.unescape(re.sub(r"\s+", " ", response.get_data(as_text=True)))


@pytest.fixture
def client(app, alice):
    alice.timezone = "Asia/Tokyo"
    alice.save()
    return signed_in_client(app, alice)


def set_up(user, slug="intro"):
    """Connection, unified calendar with it as a source, and a booking page."""
    connection = make_connection(user, name=f"Radicale {user.handle}")
    calendar = calendars.create(user, f"work-{user.handle}", "Work", "UTC")
    calendars.add_source(calendar, connection.id)
    return BookingPage.create(
        user=user,
        slug=slug,
        title="Intro call",
        calendar=calendar,
        timezone="UTC",
        weekly_hours={str(d): [["09:00", "17:00"]] for d in range(7)},
    )


def book(page, start: datetime, name: str, status: str = "accepted") -> Booking:
    return Booking.create(
        page=page,
        user=page.user,
        start=start,
        end=start + timedelta(minutes=30),
        status=status,
        attendee_name=name,
        attendee_email=f"{name.lower()}@example.net",
    )


def failed_write(booking: Booking, error: str) -> None:
    """A write-back of ``booking`` that gave up, as the outbox leaves it."""
    OutboxItem.create(
        user=booking.user,
        kind="booking.writeback",
        payload={"booking": booking.uid, "action": "create"},
        ordering_key=write_backs.ordering_key(booking.uid),
        status="failed",
        last_error=error,
    )


def tokyo_today_at(hour: int) -> datetime:
    day = datetime.now(TOKYO).date()
    return datetime.combine(day, time(hour), TOKYO).astimezone(UTC)


def test_a_new_owner_sees_the_checklist_with_the_first_step_next(client):
    body = text(client.get("/dashboard"))
    assert "Set up CalMesh" in body and "0 of 4 steps done" in body
    current = re.search(r'<li class="step current" aria-current="step">(.*?)</li>', body).group(1)
    assert "Connect a calendar" in current and 'class="button" href="/connections"' in current
    assert "Optional, any time" in body and "Create an API key" in body


def test_each_step_done_moves_the_progress_and_the_share_step_offers_the_link(client, alice):
    set_up(alice)
    body = text(client.get("/dashboard"))
    assert "3 of 4 steps done" in body
    assert body.count('<span class="visually-hidden"> (done)</span>') == 3
    assert re.search(r'id="share-url" readonly value="http[^"]+/alice/intro"', body)


def test_once_set_up_the_home_shows_todays_bookings_on_the_owners_clock(client, alice):
    page = set_up(alice)
    book(page, tokyo_today_at(23), "Ana")  # 14:00 UTC, the same Tokyo day
    book(page, tokyo_today_at(10) + timedelta(days=2), "Ben")
    body = text(client.get("/dashboard"))
    assert "Set up CalMesh" not in body
    today = body.split('id="today-title"')[1].split("<h3>")[0]
    assert "23:00–23:30" in today and "Ana" in today  # Tokyo, not UTC's 14:00
    upcoming = body.split("Next 7 days")[1].split("</ul>")[0]
    assert "Ben" in upcoming and "10:00–10:30" in upcoming


def test_requests_polls_broken_connections_and_failed_writes_are_shown(client, alice):
    page = set_up(alice)
    pending = book(page, tokyo_today_at(12) + timedelta(days=1), "Cleo", status="pending")
    poll = polls.create(
        alice,
        polls.NEW_POLL.parse(
            {"title": "Offsite", "options": [{"date": "2031-05-01"}, {"date": "2031-05-02"}]}
        ),
    )
    options = list(PollOption.of(poll))
    polls.vote(poll, "Vera", None, [{"option_id": options[0].id, "value": "yes"}])
    broken = make_connection(alice, name="Google")
    broken.status, broken.last_error = "auth_required", "token revoked"
    broken.save()
    failed_write(pending, "403 Forbidden from the CalDAV server")

    body = text(client.get("/dashboard"))

    requests = body.split('id="requests-title"')[1].split("</section>")[0]
    assert "Cleo" in requests and "unconfirmed" in requests and "Confirm or decline" in requests
    open_polls = body.split('id="polls-title"')[1].split("</section>")[0]
    assert "Offsite" in open_polls and "Vera" in open_polls and "1 yes" in open_polls
    attention = body.split('id="attention-title"')[1].split("</section>")[0]
    assert "Google" in attention and "sign-in needed" in attention
    assert "403 Forbidden" in attention and "Cleo" in attention


def test_another_owners_bookings_and_failures_stay_off_the_overview(client, alice, bob):
    set_up(alice)
    bobs = set_up(bob, slug="bobs")
    secret = book(bobs, tokyo_today_at(12), "Secret", status="pending")
    failed_write(secret, "bob's failure")
    body = text(client.get("/dashboard"))
    assert "Secret" not in body and "bob's failure" not in body
    assert "Needs your attention" not in body


def test_a_creation_flashes_a_link_to_the_next_step_with_the_name_escaped(client):
    from tests.conftest import CSRF

    made = client.post(
        "/calendars",
        data={"slug": "work", "name": "<b>Work</b>", "timezone": "UTC", "csrf_token": CSRF},
    )
    assert made.status_code == 302
    body = client.get(made.headers["Location"]).get_data(as_text=True)
    flash = re.search(r'<p class="flash" role="status">(.*?)</p>', body).group(1)
    assert flash == (
        "Created “&lt;b&gt;Work&lt;/b&gt;”. "
        '<a href="/calendars/work#f-source">Next: add its sources</a>'
    )
