"""calmesh.services.overview: the first-run checklist and its next step, then
the owner's home: today's bookings by the owner's own day (an injected
clock), the coming week's, requests waiting, open polls with their newest
votes, broken connections, and nothing of another owner's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from calmesh.auth import apikeys
from calmesh.models import Booking, Connection
from calmesh.services import calendars, overview, polls
from tests.factories import make_connection
from tests.services.test_webhooks import make_page

# Monday 7 June 2032, 23:30 in Berlin: still Monday there, Monday 21:30 UTC.
NOW = datetime(2032, 6, 7, 21, 30, tzinfo=UTC)
BERLIN = ZoneInfo("Europe/Berlin")


def booked(page, start: datetime, status: str = "accepted", minutes: int = 30) -> Booking:
    return Booking.create(
        page=page, user=page.user_id, start=start, end=start + timedelta(minutes=minutes),
        status=status, attendee_name="Vera", attendee_email="vera@example.net",
    )  # fmt: skip


def test_the_checklist_counts_the_required_steps_and_names_the_next(app, alice):
    found = overview.setup(alice, smtp_configured=False)
    assert [s.key for s in found.steps] == [
        "connect", "calendar", "page", "share", "poll", "api_key", "smtp",
    ]  # fmt: skip
    assert (found.done, found.complete, found.next.key) == (0, False, "connect")

    connection = make_connection(alice)
    calendar = calendars.create(alice, "work", "Work", "Europe/Berlin")
    calendars.add_source(calendar, connection.id, connection.calendars[0].id)
    page = make_page(alice)
    apikeys.create(alice, "key", "read")
    found = overview.setup(alice, smtp_configured=True)
    assert (found.done, found.next.key) == (3, "share")
    assert {s.key for s in found.steps if s.done} >= {"api_key", "smtp"}

    booked(page, NOW + timedelta(days=2))
    found = overview.setup(alice, smtp_configured=True)
    assert found.complete and found.next is None
    assert not next(s for s in found.steps if s.key == "poll").done, "optional, not needed"


def test_home_sorts_bookings_by_the_owners_day_and_week(app, alice):
    page = make_page(alice)
    late_today = booked(page, datetime(2032, 6, 7, 23, 45, tzinfo=BERLIN))
    earlier_today = booked(page, datetime(2032, 6, 7, 9, 0, tzinfo=BERLIN))
    booked(page, datetime(2032, 6, 7, 10, 0, tzinfo=BERLIN), status="cancelled")
    tomorrow = booked(page, datetime(2032, 6, 8, 0, 15, tzinfo=BERLIN))
    booked(page, datetime(2032, 6, 16, 9, 0, tzinfo=BERLIN))  # beyond the week
    request = booked(page, datetime(2032, 6, 9, 9, 0, tzinfo=BERLIN), status="pending")
    booked(page, datetime(2032, 6, 6, 9, 0, tzinfo=BERLIN), status="pending")  # past

    home = overview.home(alice, now=NOW)

    assert [b.id for b in home.today] == [earlier_today.id, late_today.id]
    assert [b.id for b in home.upcoming] == [tomorrow.id, request.id]
    assert [b.id for b in home.unconfirmed] == [request.id]
    assert home.today[0].page.slug == "intro"


def test_the_coming_week_shows_at_most_its_limit(app, alice):
    page = make_page(alice)
    for n in range(overview.UPCOMING_LIMIT + 3):
        booked(page, NOW + timedelta(days=1, minutes=30 * n))
    assert len(overview.home(alice, now=NOW).upcoming) == overview.UPCOMING_LIMIT


def test_open_polls_show_their_newest_votes_counted(app, alice):
    app.config["CALMESH"]._values["server.base_url"] = "https://cal.example.org"
    start = datetime(2032, 7, 1, 9, tzinfo=UTC)
    options = [{"start": (start + timedelta(days=i)).isoformat()} for i in range(2)]
    with app.test_request_context():
        poll = polls.create(
            alice,
            polls.NEW_POLL.parse(
                {"title": "Offsite", "timezone": "UTC", "options": options, "duration": 60}
            ),
        )
        closed = polls.create(
            alice,
            polls.NEW_POLL.parse(
                {"title": "Done", "timezone": "UTC", "options": options, "duration": 60}
            ),
        )
        polls.close(closed)
        ids = [o.id for o in poll.options]
        for n in range(overview.LATEST_VOTES + 1):
            values = ["yes", "yes"] if n % 2 else ["yes", "no"]
            votes = [{"option_id": i, "value": v} for i, v in zip(ids, values, strict=True)]
            polls.vote(poll, f"P{n}", None, votes, "UTC")

    (news,) = overview.home(alice, now=NOW).polls
    assert news.poll.id == poll.id and news.participants == overview.LATEST_VOTES + 1
    assert [p.name for p, _ in news.latest] == ["P3", "P2", "P1"]
    assert [dict(c) for _, c in news.latest] == [{"yes": 2}, {"yes": 1, "no": 1}, {"yes": 2}]


def test_broken_connections_are_shown_and_another_owners_rows_are_not(app, alice, bob):
    broken = make_connection(alice, name="Old server")
    Connection.update(status="auth_required").where(Connection.id == broken.id).execute()
    make_connection(alice, name="Fine")
    theirs = make_connection(bob, name="Bob's")
    Connection.update(status="error").where(Connection.id == theirs.id).execute()
    booked(make_page(bob), NOW + timedelta(minutes=10))

    home = overview.home(alice, now=NOW)
    assert [c.name for c in home.broken] == ["Old server"]
    assert home.today == home.upcoming == [] and home.failed_writes == []
