"""The owner's Overview: how far the set-up has come, then what needs them today.

Read-only queries over the owner's rows; the web view formats them in the
owner's zone.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from calmesh.db import utcnow
from calmesh.engine.hours import day_bounds
from calmesh.models import (
    ACTIVE,
    ApiKey,
    Booking,
    BookingPage,
    CalendarSource,
    Connection,
    Participant,
    Poll,
    UnifiedCalendar,
    User,
    Vote,
)
from calmesh.services import poll_results, write_backs

UPCOMING_DAYS = 7
UPCOMING_LIMIT = 8
LATEST_VOTES = 3
BROKEN = ("error", "auth_required")


@dataclass(frozen=True)
class Step:
    key: str
    label: str
    done: bool
    optional: bool = False


@dataclass
class Setup:
    steps: list[Step]

    @property
    def required(self) -> list[Step]:
        return [s for s in self.steps if not s.optional]

    @property
    def done(self) -> int:
        return sum(s.done for s in self.required)

    @property
    def complete(self) -> bool:
        return self.done == len(self.required)

    @property
    def next(self) -> Step | None:
        return next((s for s in self.required if not s.done), None)


def setup(user: User, smtp_configured: bool) -> Setup:
    """The first-run checklist: connect → unified calendar → booking page → share,
    then the optional poll, API key and SMTP."""
    calendars = UnifiedCalendar.for_user(user)
    with_source = calendars.join(CalendarSource).exists()
    return Setup(
        [
            Step("connect", "Connect a calendar", Connection.for_user(user).exists()),
            Step("calendar", "Combine it into a unified calendar", with_source),
            Step("page", "Make a booking page", BookingPage.for_user(user).exists()),
            Step("share", "Share the link: done at the first booking", _has_bookings(user)),
            Step("poll", "Find a time with a group poll", Poll.for_user(user).exists(), True),
            Step("api_key", "Create an API key", _active_keys(user).exists(), True),
            Step("smtp", "Send e-mail through your SMTP server", smtp_configured, True),
        ]
    )


def _has_bookings(user: User) -> bool:
    return Booking.select().where(Booking.user == user).exists()


def _active_keys(user: User):
    return ApiKey.for_user(user).where(ApiKey.revoked_at.is_null())


@dataclass
class PollNews:
    poll: Poll
    participants: int
    latest: list[tuple[Participant, Counter]]  # newest first, with their answers counted


@dataclass
class Home:
    today: list[Booking] = field(default_factory=list)
    upcoming: list[Booking] = field(default_factory=list)
    unconfirmed: list[Booking] = field(default_factory=list)
    polls: list[PollNews] = field(default_factory=list)
    broken: list[Connection] = field(default_factory=list)
    failed_writes: list[write_backs.FailedWriteBack] = field(default_factory=list)
    failed_poll_writes: list[write_backs.FailedWriteBack] = field(default_factory=list)


def _bookings(user: User):
    return (
        Booking.select(Booking, BookingPage)
        .join(BookingPage)
        .where(Booking.user == user)
        .order_by(Booking.start, Booking.id)
    )


def home(user: User, now: datetime | None = None) -> Home:
    """What the owner has on: today's and the coming week's bookings, requests
    waiting for them, open polls with their newest votes, and what is broken."""
    now = now or utcnow()
    zone = ZoneInfo(user.timezone)
    today = day_bounds(now.astimezone(zone).date(), zone)
    horizon = day_bounds(today.start.astimezone(zone).date() + timedelta(days=UPCOMING_DAYS), zone)
    active = Booking.status.in_(ACTIVE)
    return Home(
        today=list(
            _bookings(user).where(
                active & (Booking.start < today.end) & (Booking.end > today.start)
            )
        ),
        upcoming=list(
            _bookings(user)
            .where(active & (Booking.start >= today.end) & (Booking.start < horizon.end))
            .limit(UPCOMING_LIMIT)
        ),
        unconfirmed=list(
            _bookings(user).where((Booking.status == "pending") & (Booking.end > now))
        ),
        polls=_open_polls(user),
        broken=list(
            Connection.for_user(user).where(Connection.status.in_(BROKEN)).order_by(Connection.name)
        ),
        failed_writes=write_backs.failed_write_backs(user),
        failed_poll_writes=write_backs.failed_poll_write_backs(user),
    )


def _open_polls(user: User) -> list[PollNews]:
    polls = [
        p
        for p in Poll.for_user(user).where(Poll.status == "open").order_by(Poll.created_at.desc())
        if poll_results.accepts_votes(p)
    ]
    news = []
    for poll in polls:
        people = Participant.of(poll)
        latest = list(
            people.order_by(Participant.updated_at.desc(), Participant.id.desc()).limit(
                LATEST_VOTES
            )
        )
        counts: dict[int, Counter] = {p.id: Counter() for p in latest}
        for participant_id, value in (
            Vote.select(Vote.participant, Vote.value)
            .where(Vote.participant.in_(list(counts)))
            .tuples()
        ):
            counts[participant_id][value] += 1
        news.append(PollNews(poll, people.count(), [(p, counts[p.id]) for p in latest]))
    return news
