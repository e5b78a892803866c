"""Scheduling polls (Doodle, Rallly): one atomic function per change, the tally
of the votes, and the decided event's write-back. What a poll, a vote and a
comment may hold is declared in :mod:`calmesh.inputs.polls`.

Every change that has side effects (e-mails, webhook events, the calendar
write-back) queues them in its own transaction, as bookings do. The privacy
rules live here, not in the views: :func:`public_data` never holds an e-mail
address, and when participants are hidden from each other it names nobody but
the participant whose signed token came with the request.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import Any

from calmesh.auth import signing
from calmesh.db import is_sqlite, utcnow, write_transaction
from calmesh.effects import mail, poll_writeback, visitor_mail
from calmesh.engine import timefmt
from calmesh.engine.ical import build_calendar
from calmesh.inputs.polls import (  # noqa: F401 - the declarations, by their service too
    NAME,
    NEW_POLL,
    POLL_PATCH,
    SETTINGS,
    VOTES,
)
from calmesh.models import (
    Comment,
    Participant,
    Poll,
    PollOption,
    UnifiedCalendar,
    User,
    Vote,
)
from calmesh.services import events
from calmesh.services.errors import ServiceError
from calmesh.services.mail import Mail, parse_address
from calmesh.services.poll_results import (
    VALUE_LABELS,
    closed_reason,
    display_zone,
    option_data,
    owner_heading,
    poll_data,
)
from calmesh.urls import Links, links

PUBLIC_ID = re.compile(r"[A-Za-z0-9_-]{1,24}")
FIRST_DAY, LAST_DAY = date(1970, 1, 1), date(2200, 12, 31)


DEFAULTS: dict[str, Any] = {
    "description": "",
    "location": "",
    "zone_mode": "participant",
    "duration": None,
    "deadline": None,
    "hide_participants": False,
    "allow_comments": True,
    "notify_owner": True,
    "language": "en",
    "calendar": None,
}


class PollError(ServiceError):
    """A poll change that is refused."""


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


def _closed_reason(poll: Poll) -> PollError | None:
    why = closed_reason(poll)
    return PollError(why[0], 409, why[1]) if why else None


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
    with write_transaction():
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
    with write_transaction():
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


def edit_url(participant: Participant, poll: Poll, links: Links) -> str:
    """The poll's page with the participant's signed token: their vote, changeable."""
    return links.poll_vote(poll.public_id, vote_token(participant, poll))


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
    poll: Poll,
    name: str,
    email: str | None,
    votes: list[dict[str, Any]],
    timezone: str = "",
    locale: str = "",
) -> Participant:
    """A new participant's votes; refused (409) once the poll is closed or past its deadline.
    ``locale``: the language of their mails (default: the poll's)."""
    if email:
        _check_address(email)
    with write_transaction():
        poll = _lock(poll)
        if reason := _closed_reason(poll):
            raise reason
        choices = _choices(poll, votes)
        participant = Participant.create(
            poll=poll,
            name=name,
            email=email or "",
            timezone=timezone or "",
            locale=locale or poll.language,
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
    with write_transaction():
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
            poll_writeback.queue(poll)
    return poll


def decide(poll: Poll, option_id: int, notify: bool = True) -> Poll:
    """Pick ``option_id``: close the poll, write its event to the linked calendar,
    invite every participant who gave an address (unless ``notify`` is False: the
    owner tells them another way). Deciding again moves the event."""
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
        if notify:
            _invite(poll, option, "REQUEST")
        poll_writeback.queue(poll)
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
    mail.queue(
        Mail(to, subject, body, ics, method, user_id=poll.user_id),
        ordering_key=f"poll:{poll.public_id}:mail:{to}",
    )


def _voted(poll: Poll, participant: Participant, created: bool) -> None:
    to = links()  # the running app's; the vote mails are composed here, in the request
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
        subject, body = visitor_mail.vote_saved(
            poll, participant, options, votes, zone, edit_url(participant, poll, to)
        )
        _mail(poll, participant.email, subject, body)
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
                    *_vote_lines(options, votes, timefmt.habits_of(owner)),
                    "",
                    "Results: " + to.poll_results(poll.public_id),
                    "(Turn these e-mails off in the poll's settings.)",
                ]
            ),
        )


def _vote_lines(
    options: list[PollOption], votes: dict[int, str], habits: timefmt.Habits
) -> list[str]:
    """The owner's lines of a vote: each option in their zone and clock, and the answer."""
    return [
        f"  {owner_heading(o, habits).text}: {VALUE_LABELS.get(votes.get(o.id, ''), '—')}"
        for o in options
    ]


def _invite(poll: Poll, option: PollOption, method: str) -> None:
    for participant in Participant.of(poll).where(Participant.email != ""):
        zone = display_zone(poll, participant.timezone)
        subject, body = visitor_mail.poll_invitation(
            poll, option, participant, zone, method, links()
        )
        ics = build_calendar(visitor_mail.poll_draft(poll, option, participant), method=method)
        _mail(poll, participant.email, subject, body, ics, method)
