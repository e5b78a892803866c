"""Scheduling polls: their settings, votes and comments."""

from __future__ import annotations

from typing import Any

from calmesh.models.polls import POLL_STATUSES, VOTE_VALUES, ZONE_MODES
from calmesh.schema import (
    LANGUAGES,
    SLUG_MAX,
    Boolean,
    Choice,
    Date,
    DateTime,
    Email,
    Integer,
    List,
    Object,
    String,
    TimeZone,
    minutes_field,
)

MAX_OPTIONS = 100
TOKEN_PATTERN = r"[A-Za-z0-9_.-]+"  # noqa: S105 - the shape of itsdangerous tokens, not a secret
OPTION_ID = Integer(minimum=1, maximum=2**31 - 1)


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
    "duration": minutes_field(
        minimum=5,
        nullable=True,
        description="Minutes; the length of options given by their start only",
    ),
    "options": List(OPTION_IN, min_items=1, max_items=MAX_OPTIONS),
    "deadline": DateTime(nullable=True, description="Votes are refused after it"),
    "hide_participants": Boolean(description="Participants see only the totals and their own"),
    "allow_comments": Boolean(),
    "notify_owner": Boolean(description="E-mail the owner about every vote"),
    "language": Choice(
        *LANGUAGES, description="Participants' language when their browser asks for none of these"
    ),
    "calendar": String(
        min_length=1,
        max_length=SLUG_MAX,
        nullable=True,
        description="Slug of one of your unified calendars: its busy time shows in the "
        "overlap, and the decided event is written to it",
    ),
}
NEW_POLL = Object(SETTINGS, name="NewPoll", required=("title", "options"))
POLL_PATCH = Object(SETTINGS, name="PollUpdate", required=())
VOTE_IN = Object(
    {"option_id": OPTION_ID, "value": Choice(*VOTE_VALUES)},
    name="VoteInput",
)
VOTES = List(VOTE_IN, max_items=MAX_OPTIONS)
NAME = String(min_length=1, max_length=200)
COMMENT = String(min_length=1, max_length=5000)
POLL_FILTERS = {"status": Choice(*POLL_STATUSES, default=None)}
DECIDE = Object({"option_id": OPTION_ID}, name="Decide")
PUBLIC_QUERY = Object(
    {
        "tz": TimeZone(default=None, description="Your zone; ignored by locked polls"),
        "token": String(
            max_length=500,
            pattern=TOKEN_PATTERN,
            pattern_help="must be the token of your edit link",
            default=None,
            description="Your edit token: adds your vote",
        ),
    }
)
NEW_VOTE = Object(
    {
        "name": NAME,
        "email": Email(
            default=None, nullable=True, description="Optional; only the organizer sees it"
        ),
        "timezone": TimeZone(default=None, description="Your zone, for the e-mails"),
        "votes": VOTES,
    },
    name="NewVote",
)
EDIT_VOTE = Object(
    {
        "token": String(
            min_length=1,
            max_length=500,
            pattern=TOKEN_PATTERN,
            pattern_help="must be the token of your edit link",
            description="Your signed edit token",
        ),
        "votes": VOTES,
        "name": String(min_length=1, max_length=NAME.max_length, default=None),
    },
    name="EditVote",
)
NEW_COMMENT = Object(
    {"name": NAME, "body": COMMENT},
    name="NewPollComment",
)
