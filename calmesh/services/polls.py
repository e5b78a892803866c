"""Scheduling polls (Doodle, Rallly): settings declared once for REST and the
dashboard, one atomic function per change, the tally of the votes, and the
decided event's write-back.

Every change that has side effects (e-mails, webhook events, the calendar
write-back) queues them in its own transaction, as bookings do. The privacy
rules live here, not in the views: :func:`public_data` never holds an e-mail
address, and when participants are hidden from each other it names nobody but
the participant whose signed token came with the request.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from calmesh.auth import signing
from calmesh.db import db, is_sqlite, utcnow, write_transaction
from calmesh.engine.hours import day_bounds
from calmesh.engine.ical import EventDraft, build_calendar
from calmesh.models import (
    Comment,
    Participant,
    Poll,
    PollOption,
    UnifiedCalendar,
    User,
    Vote,
)
from calmesh.models.polls import VOTE_VALUES, ZONE_MODES
from calmesh.schema import (
    Boolean,
    Choice,
    Date,
    DateTime,
    Integer,
    List,
    Object,
    String,
    TimeZone,
    iana_zones,
)
from calmesh.services import calendars, events, outbox
from calmesh.services.mail import parse_address
from calmesh.urls import external_url

UID_DOMAIN = "@poll.calmesh"
PUBLIC_ID = re.compile(r"[A-Za-z0-9_-]{1,24}")
MAX_OPTIONS = 100
FIRST_DAY, LAST_DAY = date(1970, 1, 1), date(2200, 12, 31)
SCORE = {"yes": 2, "ifneedbe": 1, "no": 0}
VALUE_LABELS = {"yes": "yes", "ifneedbe": "if need be", "no": "no"}


OPTION_IN = Object(
    {
        "id": Integer(
            minimum=1,
            maximum=2**31 - 1,
            default=None,
            description="When editing: an existing option's id, to keep it and its votes",
        ),
        "date": Date(default=None, description="A whole day"),
        "start": DateTime(default=None, description="A time slot's start, with offset"),
        "end": DateTime(default=None, description="Its end; default: start + the poll's duration"),
    },
    name="PollOptionInput",
)
SETTINGS: dict[str, Any] = {
    "title": String(min_length=1, max_length=200),
    "description": String(max_length=5000),
    "location": String(max_length=500),
    "timezone": TimeZone(description="The poll's IANA zone; default: yours"),
    "zone_mode": Choice(
        *ZONE_MODES,
        description="participant: times shown in each participant's zone; locked: everyone "
        "sees the poll's clock; floating: whole days, the same dates everywhere",
    ),
    "duration": Integer(
        minimum=5,
        maximum=1440,
        nullable=True,
        description="Minutes; the length of options given by their start only",
    ),
    "options": List(OPTION_IN, min_items=1, max_items=MAX_OPTIONS),
    "deadline": DateTime(nullable=True, description="Votes are refused after it"),
    "hide_participants": Boolean(description="Participants see only the totals and their own"),
    "allow_comments": Boolean(),
    "notify_owner": Boolean(description="E-mail the owner about every vote"),
    "calendar": String(
        min_length=1,
        max_length=60,
        nullable=True,
        description="Slug of one of your unified calendars: its busy time shows in the "
        "overlap, and the decided event is written to it",
    ),
}
DEFAULTS: dict[str, Any] = {
    "description": "",
    "location": "",
    "zone_mode": "participant",
    "duration": None,
    "deadline": None,
    "hide_participants": False,
    "allow_comments": True,
    "notify_owner": True,
    "calendar": None,
}
NEW_POLL = Object(SETTINGS, name="NewPoll", required=("title", "options"))
POLL_PATCH = Object(SETTINGS, name="PollUpdate", required=())
VOTE_IN = Object(
    {"option_id": Integer(minimum=1, maximum=2**31 - 1), "value": Choice(*VOTE_VALUES)},
    name="VoteInput",
)
VOTES = List(VOTE_IN, max_items=MAX_OPTIONS)
NAME = String(min_length=1, max_length=200)


class PollError(Exception):
    """Refused: ``status`` is the HTTP answer, ``field`` the input it is about."""

    def __init__(
        self, message: str, status: int = 422, code: str = "unprocessable", field: str = ""
    ):
        super().__init__(message)
        self.status, self.code, self.field = status, code, field


# --- reading ----------------------------------------------------------------------------


def _well_formed(public_id: str) -> bool:
    # Ids are URL-safe base64; anything else (a NUL byte, which PostgreSQL refuses
    # in a query) is not asked for.
    return bool(PUBLIC_ID.fullmatch(public_id))


def get_for(user: User, public_id: str) -> Poll | None:
    """The owner's poll, or None (another user's answers 404)."""
    if not _well_formed(public_id):
        return None
    return Poll.get_or_none((Poll.public_id == public_id) & (Poll.user == user))


def public_poll(public_id: str) -> Poll | None:
    if not _well_formed(public_id):
        return None
    return Poll.select(Poll, User).join(User).where(Poll.public_id == public_id).first()


def accepts_votes(poll: Poll) -> bool:
    return _closed_reason(poll) is None


def _closed_reason(poll: Poll) -> PollError | None:
    if poll.status != "open":
        return PollError("this poll is closed; it no longer takes votes", 409, "poll_closed")
    if poll.deadline is not None and poll.deadline <= utcnow():
        when = poll.deadline.astimezone(ZoneInfo(poll.timezone)).strftime("%d %b %Y %H:%M")
        return PollError(
            f"the deadline ({when} {poll.timezone}) has passed; the poll no longer takes votes",
            409,
            "deadline_passed",
        )
    return None


# --- settings and options ------------------------------------------------------------------


def _calendar(user: User, slug: str | None) -> UnifiedCalendar | None:
    if slug is None:
        return None
    calendar = UnifiedCalendar.get_or_none(
        (UnifiedCalendar.user == user) & (UnifiedCalendar.slug == slug)
    )
    if calendar is None:
        raise PollError("you have no unified calendar with that slug", field="calendar")
    return calendar


def _key(values: dict[str, Any]) -> tuple:
    return (values["day"], values["start"], values["end"])


def _option_values(item: dict[str, Any], i: int, duration: int | None) -> dict[str, Any]:
    where = f"options[{i}]"
    if (item["date"] is None) == (item["start"] is None):
        raise PollError(f"{where}: give either a date or a start", field=where)
    if item["date"] is not None:
        if item["end"] is not None:
            raise PollError(f"{where}: a whole day has no end", field=f"{where}.end")
        if not FIRST_DAY <= item["date"] <= LAST_DAY:
            raise PollError(f"{where}.date: must lie between 1970 and 2200", field=where)
        return {"day": item["date"], "start": None, "end": None}
    start, end = item["start"], item["end"]
    if not FIRST_DAY <= start.date() <= LAST_DAY:
        raise PollError(f"{where}.start: must lie between 1970 and 2200", field=where)
    if end is None:
        if duration is None:
            raise PollError(f"{where}: give an end, or a duration for the poll", field=where)
        end = start + timedelta(minutes=duration)
    if not start < end <= start + timedelta(days=1):
        raise PollError(f"{where}.end: must be after the start, within a day", field=where)
    return {"day": None, "start": start, "end": end}


def _plan(
    current: list[PollOption], items: list[dict[str, Any]], duration: int | None
) -> list[tuple[PollOption | None, dict[str, Any]]]:
    """Pair each requested option with the existing option it keeps (by id, else by
    the same time), or None for a new one; in time order. Unpaired options go."""
    by_id = {o.id: o for o in current}
    by_time = {_key({"day": o.day, "start": o.start, "end": o.end}): o for o in current}
    values = [_option_values(item, i, duration) for i, item in enumerate(items)]
    if len({v["day"] is None for v in values}) > 1:
        raise PollError("options must all be whole days or all time slots", field="options")
    if len({_key(v) for v in values}) < len(values):
        raise PollError("the same option is listed twice", field="options")
    explicit = [item["id"] for item in items if item["id"] is not None]
    if len(explicit) != len(set(explicit)):
        raise PollError("an option id is listed twice", field="options")
    if set(explicit) - set(by_id):
        raise PollError("this poll has no option with one of those ids", field="options")
    taken = set(explicit)
    plan: list[tuple[PollOption | None, dict[str, Any]]] = []
    for item, value in zip(items, values, strict=True):
        if item["id"] is not None:
            kept = by_id[item["id"]]
        else:
            kept = by_time.get(_key(value))
            if kept is not None and kept.id in taken:
                kept = None
            elif kept is not None:
                taken.add(kept.id)
        plan.append((kept, value))
    # One kind per poll, so days compare with days and instants with instants.
    return sorted(plan, key=lambda p: (p[1]["day"] or p[1]["start"], p[1]["end"] or p[1]["day"]))


def _save_options(poll: Poll, plan: list[tuple[PollOption | None, dict[str, Any]]]) -> None:
    kept = {option.id for option, _ in plan if option is not None}
    gone = [o.id for o in PollOption.select(PollOption.id).where(PollOption.poll == poll)]
    gone = [option_id for option_id in gone if option_id not in kept]
    if poll.decided_option_id in gone:
        raise PollError(
            "the decided option cannot be removed; reopen the poll first", 409, "conflict"
        )
    if gone:
        Vote.delete().where(Vote.option.in_(gone)).execute()
        PollOption.delete().where(PollOption.id.in_(gone)).execute()
    for position, (option, value) in enumerate(plan):
        if option is None:
            PollOption.create(poll=poll, position=position, **value)
        else:
            PollOption.update(position=position, **value).where(
                PollOption.id == option.id
            ).execute()


def _check(values: dict[str, Any], whole_days: bool) -> None:
    if values["zone_mode"] == "floating" and not whole_days:
        raise PollError("only a poll of whole days can float", field="zone_mode")


def _check_deadline(deadline: datetime | None) -> None:
    if deadline is not None and deadline <= utcnow():
        raise PollError("the deadline must be in the future", field="deadline")
    if deadline is not None and deadline.date() > LAST_DAY:
        raise PollError("the deadline must lie before 2201", field="deadline")


def create(user: User, data: dict[str, Any]) -> Poll:
    values = {**DEFAULTS, "timezone": user.timezone, **data}
    calendar = _calendar(user, values.pop("calendar"))
    plan = _plan([], values.pop("options"), values["duration"])
    _check(values, plan[0][1]["day"] is not None)
    _check_deadline(values["deadline"])
    with db.atomic():
        poll = Poll.create(user=user, calendar=calendar, **values)
        _save_options(poll, plan)
    return poll


def update(poll: Poll, data: dict[str, Any]) -> Poll:
    data = dict(data)
    with write_transaction():
        poll = _lock(poll)
        if "calendar" in data:
            poll.calendar = _calendar(poll.user, data.pop("calendar"))
        current = list(PollOption.of(poll))
        items = data.pop("options", None)
        old_deadline = poll.deadline
        for key, value in data.items():
            setattr(poll, key, value)
        plan = _plan(current, items, poll.duration) if items is not None else None
        whole_days = plan[0][1]["day"] is not None if plan else bool(current and current[0].day)
        _check(poll.__data__, whole_days)
        if poll.deadline != old_deadline:
            _check_deadline(poll.deadline)
        poll.updated_at = utcnow()
        poll.save()
        if plan is not None:
            _save_options(poll, plan)
    return poll


def delete(poll: Poll) -> None:
    """Delete the poll and its votes; a decided event stays in the owner's calendar."""
    with db.atomic():
        poll.delete_instance(recursive=True)


def _lock(poll: Poll) -> Poll:
    """Re-read the poll inside the transaction, its row locked on PostgreSQL
    (SQLite's BEGIN IMMEDIATE already serialises writers)."""
    query = Poll.select().where(Poll.id == poll.id)
    if not is_sqlite():
        query = query.for_update()
    fresh = query.first()
    if fresh is None:
        raise PollError("this poll no longer exists", 404, "not_found")
    return fresh


# --- votes and comments -----------------------------------------------------------------------


def vote_token(participant: Participant, poll: Poll) -> str:
    return signing.sign("poll-vote", {"p": poll.public_id, "i": participant.id})


def edit_url(participant: Participant, poll: Poll) -> str:
    return external_url(
        "public.poll_page", poll_id=poll.public_id, token=vote_token(participant, poll)
    )


def by_vote_token(public_id: str, token: str, participant_id: int | None = None) -> Participant:
    """The participant a signed edit link is for; BadToken for a tampered, expired or
    foreign one (a token of another participant or poll opens nothing here)."""
    data = signing.verify("poll-vote", token)
    if (
        not isinstance(data, dict)
        or data.get("p") != public_id
        or not isinstance(data.get("i"), int)
        or (participant_id is not None and data["i"] != participant_id)
    ):
        raise signing.BadToken("this link is for another participant or poll")
    participant = (
        Participant.select(Participant)
        .join(Poll)
        .where((Participant.id == data["i"]) & (Poll.public_id == public_id))
        .first()
    )
    if participant is None:
        raise signing.BadToken("this vote no longer exists")
    return participant


def _choices(poll: Poll, votes: list[dict[str, Any]]) -> dict[int, str]:
    option_ids = {o.id for o in PollOption.select(PollOption.id).where(PollOption.poll == poll)}
    choices: dict[int, str] = {}
    for i, item in enumerate(votes):
        if item["option_id"] not in option_ids:
            raise PollError(f"votes[{i}].option_id: this poll has no such option", field="votes")
        if item["option_id"] in choices:
            raise PollError(f"votes[{i}].option_id: voted twice", field="votes")
        choices[item["option_id"]] = item["value"]
    return choices


def _set_votes(participant: Participant, choices: dict[int, str]) -> None:
    if choices:
        Vote.delete().where(
            (Vote.participant == participant) & Vote.option.in_(list(choices))
        ).execute()
        Vote.insert_many(
            [{"participant": participant, "option": o, "value": v} for o, v in choices.items()]
        ).execute()


def vote(
    poll: Poll, name: str, email: str | None, votes: list[dict[str, Any]], timezone: str = ""
) -> Participant:
    """A new participant's votes; refused (409) once the poll is closed or past its deadline."""
    if email:
        _check_address(email)
    with write_transaction():
        poll = _lock(poll)
        if reason := _closed_reason(poll):
            raise reason
        choices = _choices(poll, votes)
        participant = Participant.create(
            poll=poll, name=name, email=email or "", timezone=timezone or ""
        )
        _set_votes(participant, choices)
        _voted(poll, participant, created=True)
    return participant


def _check_address(email: str) -> None:
    """Refuse an address that passes the schema but that no e-mail or invitation
    could carry (control characters, commas...), before it is stored."""
    try:
        parse_address(email)
    except ValueError:
        raise PollError(
            "email: not an address we can send to", 400, "validation_error", "email"
        ) from None


def edit_vote(
    participant: Participant, votes: list[dict[str, Any]], name: str | None = None
) -> Participant:
    """Change one's own votes (those named; the others stay) and maybe one's name."""
    with write_transaction():
        poll = _lock(participant.poll)
        if reason := _closed_reason(poll):
            raise reason
        _set_votes(participant, _choices(poll, votes))
        if name is not None:
            participant.name = name
        participant.updated_at = utcnow()
        participant.save()
        _voted(poll, participant, created=False)
    return participant


def comment(poll: Poll, name: str, body: str) -> Comment:
    if not poll.allow_comments:
        raise PollError("comments are turned off for this poll", 409, "comments_off")
    with db.atomic():
        return Comment.create(poll=poll, name=name, body=body)


# --- closing and deciding -----------------------------------------------------------------------


def close(poll: Poll) -> Poll:
    with write_transaction():
        poll = _lock(poll)
        if poll.status == "closed":
            raise PollError("the poll is already closed", 409, "invalid_state")
        poll.status, poll.closed_at, poll.updated_at = "closed", utcnow(), utcnow()
        poll.save()
    return poll


def reopen(poll: Poll) -> Poll:
    """Open a closed poll again; a decision is withdrawn (its event is removed and
    participants get a cancellation)."""
    with write_transaction():
        poll = _lock(poll)
        if poll.status == "open":
            raise PollError("the poll is already open", 409, "invalid_state")
        option = _decided(poll)
        poll.status, poll.closed_at, poll.updated_at = "open", None, utcnow()
        if option is not None:
            poll.decided_option_id, poll.sequence = None, poll.sequence + 1
        poll.save()
        if option is not None:
            _invite(poll, option, "CANCEL")
            _write_back(poll)
    return poll


def decide(poll: Poll, option_id: int) -> Poll:
    """Pick ``option_id``: close the poll, write its event to the linked calendar,
    invite every participant who gave an address. Deciding again moves the event."""
    with write_transaction():
        poll = _lock(poll)
        option = PollOption.get_or_none((PollOption.id == option_id) & (PollOption.poll == poll))
        if option is None:
            raise PollError("this poll has no such option", field="option_id")
        if poll.decided_option_id == option.id:
            return poll  # a retry: the invitations went out the first time
        now = utcnow()
        if poll.decided_at is not None:
            poll.sequence += 1
        poll.status, poll.closed_at = "closed", poll.closed_at or now
        poll.decided_option_id, poll.decided_at, poll.updated_at = option.id, now, now
        poll.save()
        events.emit(
            poll.user_id,
            "poll.decided",
            {**poll_data(poll), "decided_option": option_data(option)},
            subject=poll.public_id,
        )
        _invite(poll, option, "REQUEST")
        _write_back(poll)
    return poll


def _decided(poll: Poll) -> PollOption | None:
    if poll.decided_option_id is None:
        return None
    return PollOption.get_or_none(PollOption.id == poll.decided_option_id)


# --- side effects ----------------------------------------------------------------------------


def _subject_text(text: str) -> str:
    return " ".join(text.split())  # a title may hold line breaks; a subject may not


def _mail(
    poll: Poll, to: str, subject: str, body: str, ics: str | None = None, method: str = ""
) -> None:
    outbox.enqueue(
        "mail",
        {
            "to": to,
            "subject": subject,
            "body": body,
            "ics": ics,
            "ics_method": method,
            "user_id": poll.user_id,
        },
        user_id=poll.user_id,
        ordering_key=f"poll:{poll.public_id}:mail:{to}"[:100],
    )


def _voted(poll: Poll, participant: Participant, created: bool) -> None:
    votes = {v.option_id: v.value for v in Vote.select().where(Vote.participant == participant)}
    events.emit(
        poll.user_id,
        "poll.voted",
        {
            "poll": poll_data(poll),
            "participant": {
                "id": participant.id,
                "name": participant.name,
                "email": participant.email or None,
            },
            "votes": [{"option_id": o, "value": v} for o, v in votes.items()],
            "action": "created" if created else "updated",
        },
        subject=poll.public_id,
    )
    title = _subject_text(poll.title)
    options = list(PollOption.of(poll))
    if participant.email:
        zone = display_zone(poll, participant.timezone)
        _mail(
            poll,
            participant.email,
            f"Your vote on “{title}”",
            "\n".join(
                [
                    f"Hello {participant.name},",
                    "",
                    f"Your vote on “{title}” is saved:",
                    *_vote_lines(options, votes, zone),
                    "",
                    f"To change it later: {edit_url(participant, poll)}",
                ]
            ),
        )
    if poll.notify_owner:
        owner = poll.user
        who = participant.name + (f" <{participant.email}>" if participant.email else "")
        _mail(
            poll,
            owner.email,
            f"[CalMesh] {'New vote' if created else 'Vote changed'} on “{title}”",
            "\n".join(
                [
                    f"{who} {'voted' if created else 'changed their vote'} on “{title}”:",
                    *_vote_lines(options, votes, display_zone(poll, owner.timezone)),
                    "",
                    "Results: " + external_url("web.poll_detail", poll_id=poll.public_id),
                    "(Turn these e-mails off in the poll's settings.)",
                ]
            ),
        )


def _vote_lines(options: list[PollOption], votes: dict[int, str], zone: str) -> list[str]:
    return [f"  {label(o, zone)}: {VALUE_LABELS.get(votes.get(o.id, ''), '—')}" for o in options]


def draft_for(poll: Poll, option: PollOption, attendee: Participant | None = None) -> EventDraft:
    """The decided event. Each mailed copy names only its recipient: participants
    never see each other's addresses."""
    owner = poll.user
    if option.day is not None:
        start, end = option.day, option.day + timedelta(days=1)
    else:
        start, end = option.start, option.end
    return EventDraft(
        uid=poll.public_id + UID_DOMAIN,
        summary=poll.title,
        start=start,
        end=end,
        description=(poll.description + "\n\n" if poll.description else "")
        + "Decided in a CalMesh poll.",
        location=poll.location,
        sequence=poll.sequence,
        organizer_email=owner.email,
        organizer_name=owner.name or owner.handle,
        attendees=((attendee.name, attendee.email),) if attendee else (),
        timezone=poll.timezone,
    )


def _invite(poll: Poll, option: PollOption, method: str) -> None:
    title = _subject_text(poll.title)
    for participant in Participant.of(poll).where(Participant.email != ""):
        when = label(option, display_zone(poll, participant.timezone))
        if method == "REQUEST":
            subject, line = f"Decided: {title}", f"“{title}” will be on {when}."
        else:
            subject, line = f"Cancelled: {title}", f"“{title}” on {when} is called off."
        ics = build_calendar(draft_for(poll, option, participant), method=method)
        body = "\n".join([f"Hello {participant.name},", "", line])
        if poll.location:
            body += f"\nWhere: {poll.location}"
        _mail(poll, participant.email, subject, body, ics, method)


def _write_back(poll: Poll) -> None:
    if poll.calendar_id is not None or poll.remote_href:
        outbox.enqueue(
            "poll.writeback",
            {"poll": poll.public_id},
            user_id=poll.user_id,
            ordering_key=f"poll:{poll.public_id}:writeback",
        )


@outbox.handler("poll.writeback")
def write_back(payload: dict[str, Any]) -> None:
    """Make the linked calendar match the poll as it is now (retries see the latest)."""
    from calmesh.providers.base import ProviderError
    from calmesh.services.sync import provider_for

    poll = Poll.get_or_none(Poll.public_id == payload["poll"])
    if poll is None:
        return
    option = _decided(poll)
    try:
        if option is None:
            if poll.remote_href and poll.remote_calendar_id:
                remote = poll.remote_calendar
                provider_for(remote.connection).delete_event(remote.remote_id, poll.remote_href)
                calendars.forget_written(remote, poll.remote_href)
                Poll.update(remote_href=None).where(Poll.id == poll.id).execute()
            return
        draft = draft_for(poll, option)
        if poll.remote_href and poll.remote_calendar_id:
            remote = poll.remote_calendar
            href = provider_for(remote.connection).update_event(
                remote.remote_id, poll.remote_href, draft
            )
        elif poll.calendar_id is not None:
            source, remote = calendars.write_target(poll.calendar)
            href = provider_for(source.connection).create_event(remote.remote_id, draft)
        else:
            return
        calendars.store_written(remote, href, draft, poll.timezone)
        Poll.update(remote_calendar=remote, remote_href=href).where(Poll.id == poll.id).execute()
    except calendars.CalendarError as exc:
        raise outbox.GiveUp(str(exc)) from None
    except ProviderError as exc:
        if exc.permanent:
            raise outbox.GiveUp(str(exc)) from None
        raise outbox.Retry(str(exc)) from None


# --- the tally ------------------------------------------------------------------------------


@dataclass
class Tally:
    """One option's answers; ``busy`` is None without a linked calendar."""

    option: PollOption
    answers: dict[str, list[Participant]] = field(
        default_factory=lambda: {v: [] for v in VOTE_VALUES}
    )
    busy: bool | None = None
    best: bool = False

    @property
    def score(self) -> int:
        return sum(SCORE[v] * len(people) for v, people in self.answers.items())

    def count(self, value: str) -> int:
        return len(self.answers[value])


@dataclass
class Results:
    options: list[PollOption]  # in time order
    participants: list[Participant]
    votes: dict[tuple[int, int], str]  # (participant id, option id) -> value
    tallies: dict[int, Tally]  # option id -> its tally

    def ranked(self) -> list[Tally]:
        """Best first: the highest score, then more yes, then the earlier option."""
        order = {o.id: i for i, o in enumerate(self.options)}
        return sorted(
            self.tallies.values(),
            key=lambda t: (-t.score, -t.count("yes"), order[t.option.id]),
        )


def results(poll: Poll, with_busy: bool = False) -> Results:
    options = list(PollOption.of(poll))
    participants = list(Participant.of(poll))
    votes = {
        (v.participant_id, v.option_id): v.value
        for v in Vote.select().join(Participant).where(Participant.poll == poll)
    }
    by_id = {p.id: p for p in participants}
    tallies = {o.id: Tally(o) for o in options}
    for (participant_id, option_id), value in votes.items():
        tallies[option_id].answers[value].append(by_id[participant_id])
    top = max((t.score for t in tallies.values()), default=0)
    for t in tallies.values():
        t.best = top > 0 and t.score == top
    if with_busy and poll.calendar_id is not None:
        for t in tallies.values():
            t.busy = _busy(poll.calendar, poll.timezone, t.option)
    return Results(options, participants, votes, tallies)


def _busy(calendar: UnifiedCalendar, tz: str, option: PollOption) -> bool:
    """Whether the owner's calendar blocks any of the option's time (a whole day:
    any of that local day in the poll's zone)."""
    if option.day is not None:
        window = day_bounds(option.day, tz)
        return bool(calendars.availability_of(calendar, window.start, window.end).busy)
    return bool(calendars.availability_of(calendar, option.start, option.end).busy)


# --- presenting -------------------------------------------------------------------------------


def display_zone(poll: Poll, wanted: str | None) -> str:
    """The zone times are shown in: the participant's, unless the poll locks its own."""
    if poll.zone_mode == "participant" and wanted and wanted in iana_zones():
        return wanted
    return poll.timezone


@dataclass(frozen=True)
class Heading:
    """An option's date and time as a column heading shows them."""

    weekday: str  # "Tue"
    day: int
    month: str  # "Mar 2026"
    time: str  # "09:00–10:00", "" for a whole day

    @property
    def text(self) -> str:
        return f"{self.weekday} {self.day} {self.month}" + (f", {self.time}" if self.time else "")


def heading(option: PollOption, zone: str) -> Heading:
    if option.day is not None:
        return Heading(f"{option.day:%a}", option.day.day, f"{option.day:%b %Y}", "")
    tz = ZoneInfo(zone)
    start, end = option.start.astimezone(tz), option.end.astimezone(tz)
    later = (end.date() - start.date()).days
    time = f"{start:%H:%M}–{end:%H:%M}" + (f" (+{later}d)" if later else "")
    return Heading(f"{start:%a}", start.day, f"{start:%b %Y}", time)


def label(option: PollOption, zone: str) -> str:
    """ "Tue 10 Mar 2026" or "Tue 10 Mar 2026, 09:00–10:00" in ``zone``."""
    return heading(option, zone).text


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z") if value else None


def option_data(option: PollOption) -> dict[str, Any]:
    return {
        "id": option.id,
        "date": option.day.isoformat() if option.day else None,
        "start": _iso(option.start),
        "end": _iso(option.end),
    }


def poll_data(poll: Poll) -> dict[str, Any]:
    """The poll as its owner sees it (REST answers, webhook bodies)."""
    options = list(PollOption.of(poll))
    return {
        "id": poll.public_id,
        "title": poll.title,
        "description": poll.description,
        "location": poll.location,
        "timezone": poll.timezone,
        "zone_mode": poll.zone_mode,
        "kind": "days" if options and options[0].day else "slots",
        "duration": poll.duration,
        "options": [option_data(o) for o in options],
        "deadline": _iso(poll.deadline),
        "hide_participants": poll.hide_participants,
        "allow_comments": poll.allow_comments,
        "notify_owner": poll.notify_owner,
        "calendar": poll.calendar.slug if poll.calendar_id else None,
        "status": poll.status,
        "accepts_votes": accepts_votes(poll),
        "decided_option_id": poll.decided_option_id,
        "decided_at": _iso(poll.decided_at) if poll.decided_option_id else None,
        "participant_count": Participant.select().where(Participant.poll == poll).count(),
        "created_at": _iso(poll.created_at),
        "updated_at": _iso(poll.updated_at),
    }


def _votes_of(found: Results, participant: Participant) -> list[dict[str, Any]]:
    return [
        {"option_id": o.id, "value": found.votes[(participant.id, o.id)]}
        for o in found.options
        if (participant.id, o.id) in found.votes
    ]


def votes_of(participant: Participant) -> list[dict[str, Any]]:
    """One participant's votes, in the options' order."""
    query = (
        Vote.select(Vote.option, Vote.value)
        .join(PollOption)
        .where(Vote.participant == participant)
        .order_by(PollOption.position, PollOption.id)
    )
    return [{"option_id": v.option_id, "value": v.value} for v in query]


def comment_data(comment: Comment) -> dict[str, Any]:
    return {
        "id": comment.id,
        "name": comment.name,
        "body": comment.body,
        "created_at": _iso(comment.created_at),
    }


def public_data(poll: Poll, tz: str | None, you: Participant | None = None) -> dict[str, Any]:
    """What anyone with the link may see: never an e-mail address; with hidden
    participants only the totals and ``you`` (the holder of a valid edit token)."""
    zone = display_zone(poll, tz)
    found = results(poll)
    shown = [] if poll.hide_participants else found.participants
    options = []
    for o in found.options:
        t = found.tallies[o.id]
        local = ZoneInfo(zone)
        options.append(
            {
                **option_data(o),
                "start_local": o.start.astimezone(local).isoformat() if o.start else None,
                "end_local": o.end.astimezone(local).isoformat() if o.end else None,
                "label": label(o, zone),
                **{v: t.count(v) for v in VOTE_VALUES},
                "score": t.score,
                "best": t.best,
            }
        )
    comments = Comment.of(poll) if poll.allow_comments else []
    return {
        "id": poll.public_id,
        "title": poll.title,
        "description": poll.description,
        "location": poll.location,
        "organizer": poll.user.name or poll.user.handle,
        "timezone": zone,
        "poll_timezone": poll.timezone,
        "zone_mode": poll.zone_mode,
        "kind": "days" if found.options and found.options[0].day else "slots",
        "deadline": _iso(poll.deadline),
        "status": poll.status,
        "accepts_votes": accepts_votes(poll),
        "decided_option_id": poll.decided_option_id,
        "hide_participants": poll.hide_participants,
        "allow_comments": poll.allow_comments,
        "options": options,
        "participant_count": len(found.participants),
        "participants": [{"id": p.id, "name": p.name, "votes": _votes_of(found, p)} for p in shown],
        "you": {"id": you.id, "name": you.name, "votes": _votes_of(found, you)} if you else None,
        "comments": [comment_data(c) for c in comments],
    }


def csv_export(poll: Poll) -> str:
    """The results as CSV for the owner (names, e-mails, each vote, the totals).
    Cells that a spreadsheet would run as a formula are quoted with a leading '."""
    found = results(poll)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    rows: list[list[Any]] = [
        ["Participant", "E-mail", *(label(o, poll.timezone) for o in found.options)]
    ]
    for p in found.participants:
        answers = [VALUE_LABELS.get(found.votes.get((p.id, o.id), ""), "") for o in found.options]
        rows.append([p.name, p.email, *answers])
    for value in VOTE_VALUES:
        counts = [found.tallies[o.id].count(value) for o in found.options]
        rows.append([f"Total {VALUE_LABELS[value]}", "", *counts])
    rows.append(["Score", "", *(found.tallies[o.id].score for o in found.options)])
    writer.writerows([[_cell(c) for c in row] for row in rows])
    return out.getvalue()


def _cell(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value
