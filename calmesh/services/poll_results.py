"""Poll results and how polls are shown: the tally with scores and the owner's
busy time, the data of the REST answers and pages, labels in a zone, CSV.

Read-only: the changes (votes, decisions) live in :mod:`calmesh.services.polls`.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from calmesh.db import utcnow
from calmesh.engine.hours import day_bounds
from calmesh.engine.timefmt import Habits, clock_time
from calmesh.models import (
    Comment,
    Participant,
    Poll,
    PollOption,
    UnifiedCalendar,
    Vote,
)
from calmesh.models.polls import VOTE_VALUES
from calmesh.schema import iana_zones
from calmesh.services import calendars

UID_DOMAIN = "@poll.calmesh"  # a decided poll's event, everywhere (effects.drafts)
SCORE = {"yes": 2, "ifneedbe": 1, "no": 0}
VALUE_LABELS = {"yes": "yes", "ifneedbe": "if need be", "no": "no"}


def closed_reason(poll: Poll) -> tuple[str, str] | None:
    """Why the poll takes no votes now (message, code), or None while it does."""
    if poll.status != "open":
        return "this poll is closed; it no longer takes votes", "poll_closed"
    if poll.deadline is not None and poll.deadline <= utcnow():
        when = poll.deadline.astimezone(ZoneInfo(poll.timezone)).strftime("%d %b %Y %H:%M")
        return (
            f"the deadline ({when} {poll.timezone}) has passed; the poll no longer takes votes",
            "deadline_passed",
        )
    return None


def accepts_votes(poll: Poll) -> bool:
    return closed_reason(poll) is None


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


def heading(option: PollOption, zone: str, clock: str = "24") -> Heading:
    """The option in ``zone``, on ``clock`` ("24": 09:00, "12": 9:00am)."""
    if option.day is not None:
        return Heading(f"{option.day:%a}", option.day.day, f"{option.day:%b %Y}", "")
    tz = ZoneInfo(zone)
    start, end = option.start.astimezone(tz), option.end.astimezone(tz)
    later = (end.date() - start.date()).days
    time = f"{clock_time(start, clock)}–{clock_time(end, clock)}" + (
        f" (+{later}d)" if later else ""
    )
    return Heading(f"{start:%a}", start.day, f"{start:%b %Y}", time)


def label(option: PollOption, zone: str, clock: str = "24") -> str:
    """ "Tue 10 Mar 2026" or "Tue 10 Mar 2026, 09:00–10:00" in ``zone``."""
    return heading(option, zone, clock).text


def owner_heading(option: PollOption, habits: Habits) -> Heading:
    """The option as its owner reads it: in their zone, on their clock."""
    return heading(option, habits.timezone, habits.clock)


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
        "language": poll.language,
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


def csv_name(poll: Poll) -> str:
    return f"poll-{poll.public_id}.csv"


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
