"""Tools on scheduling polls: list, overlap of the answers, create, decide."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from mcp_types import CallToolResult
from pydantic import BaseModel, Field, model_validator

from calmesh.inputs import polls as inputs
from calmesh.inputs.polls import SETTINGS
from calmesh.mcp.client import Api
from calmesh.mcp.client import segment as seg
from calmesh.mcp.common import (
    OFFSET_HELP,
    Cursor,
    Instant,
    Limit,
    PollId,
    Zone,
    at,
    like,
    local,
    more,
    result,
    tool,
    untrusted,
    when,
)


class PollOption(BaseModel):
    """A whole day (`date`) or a time slot (`start`, with `end` or the poll's duration)."""

    date: Annotated[dt.date | None, Field(description="A whole day, YYYY-MM-DD")] = None
    start: Annotated[Instant | None, Field(description=f"A time slot's start. {OFFSET_HELP}")] = (
        None
    )
    end: Annotated[
        Instant | None,
        Field(description=f"The slot's end; default start + the poll's duration. {OFFSET_HELP}"),
    ] = None

    @model_validator(mode="after")
    def one_kind(self) -> PollOption:
        if (self.date is None) == (self.start is None):
            raise ValueError("an option is either a date or a start (with an optional end)")
        if self.end is not None and self.start is None:
            raise ValueError("end needs a start")
        return self


# calmesh_create_poll's parameters.
Title = like(SETTINGS["title"], "What the poll is about")
Options = Annotated[
    list[PollOption],
    Field(
        min_length=1,
        max_length=inputs.MAX_OPTIONS,
        description="The candidate times: all whole days ({date}) or all time slots ({start, end})",
    ),
]
PollZone = Annotated[Zone | None, Field(description="The poll's IANA zone; default the owner's")]
Duration = like(
    SETTINGS["duration"],
    "Minutes; the length of slots given by start only",
    int,
    optional=True,
)
Calendar = like(
    SETTINGS["calendar"],
    "A unified calendar's slug: its busy time shows in the overlap and the decided "
    "event is written to it",
    optional=True,
)
Deadline = when("Votes are refused after it (a date alone: after that whole day)", optional=True)
Description = like(SETTINGS["description"], "Shown on the poll's page", optional=True)
Location = like(SETTINGS["location"], "Where it will take place", optional=True)
ZoneMode = like(
    SETTINGS["zone_mode"],
    "participant: each sees times in their own zone; locked: everyone sees the "
    "poll's clock; floating: whole days, the same dates everywhere",
    optional=True,
)
HideParticipants = like(
    SETTINGS["hide_participants"],
    "Participants see only totals and their own votes",
    bool,
    optional=True,
)
AllowComments = like(
    SETTINGS["allow_comments"], "Participants may comment; default yes", bool, optional=True
)
Language = like(
    SETTINGS["language"],
    "Participants' language when their browser asks for none of these",
    optional=True,
)


def option_text(option: dict[str, Any], zone: str) -> str:
    if option["date"]:
        return f"option {option['id']}: {option['date']} (whole day)"
    return f"option {option['id']}: {local(option['start'], zone)} to {local(option['end'], zone)}"


def poll_line(poll: dict[str, Any]) -> str:
    decided = ""
    if poll["decided_option_id"]:
        decided = f", decided: option {poll['decided_option_id']}"
    return (
        f"- {poll['id']}: {poll['title']!r}, {poll['status']}, {len(poll['options'])} "
        f"option(s), {poll['participant_count']} participant(s){decided}; {poll['url']}"
    )


def _overlap_line(option: dict[str, Any]) -> str:
    counts = ", ".join(f"{option[v]} {v}" for v in ("yes", "ifneedbe", "no"))
    busy = {True: "; owner busy", False: "; owner free"}.get(option["busy"], "")
    best = " [best]" if option["best"] else ""
    who = "; ".join(
        f"{value}: {', '.join(untrusted(p['name']) for p in people)}"
        for value, people in option["answers"].items()
        if people
    )
    return (
        f"- option {option['id']}, {option['label']}: score {option['score']} "
        f"({counts}){busy}{best}" + (f"\n    {who}" if who else "")
    )


@tool("calmesh_list_polls", "List scheduling polls", "read", calls=["GET /polls"])
async def list_polls(
    api: Api,
    status: like(
        inputs.POLL_FILTERS["status"],
        "Only open polls (still taking votes) or closed ones",
        optional=True,
    ) = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> CallToolResult:
    """List the owner's scheduling polls (find a time for a group, like Doodle or
    Rallly). Each poll has its `id`, `title`, `status` (open, closed), IANA `timezone`,
    `options` (each a whole `date` or a `start`/`end` slot in UTC, with an option `id`),
    `deadline`, `participant_count`, `decided_option_id` and the public `url` to share.
    Newest first; the result has `data`, `has_more` and `next_cursor`."""
    page = await api.get("/polls", status=status, limit=limit, cursor=cursor)
    lines = [poll_line(p) for p in page["data"]]
    summary = f"{len(lines)} poll(s):\n" + "\n".join(lines) if lines else ""
    return result((summary or "No polls yet.") + more(page), page)


@tool(
    "calmesh_get_poll_overlap",
    "See which poll option suits most",
    "read",
    calls=["GET /polls/:id/overlap"],
)
async def get_poll_overlap(api: Api, poll_id: PollId) -> CallToolResult:
    """Get a poll's results per option, best first: how many answered `yes`,
    `ifneedbe` and `no`, a `score` (2 per yes, 1 per if-need-be), `best`, who answered
    what (`answers`), and `busy`: whether the owner's linked calendar is busy then (null
    without a linked calendar). Each option has its `id`, a readable `label`, and a whole
    `date` or `start`/`end` in UTC. Use it to pick the option for calmesh_decide_poll:
    usually the highest score where the owner is free."""
    data = await api.get(f"/polls/{seg(poll_id)}/overlap")
    lines = [_overlap_line(o) for o in data["options"]]
    head = (
        f"Poll {poll_id}: {data['participant_count']} participant(s); options best first "
        f"(times in {data['timezone']})"
    )
    names = [f"options[].answers.{v}[].name" for v in ("yes", "ifneedbe", "no")]
    return result(head + (":\n" + "\n".join(lines) if lines else ": none."), data, names)


@tool("calmesh_create_poll", "Create a scheduling poll", "book", calls=["POST /polls"])
async def create_poll(
    api: Api,
    title: Title,
    options: Options,
    timezone: PollZone = None,
    duration: Duration = None,
    calendar: Calendar = None,
    deadline: Deadline = None,
    description: Description = None,
    location: Location = None,
    zone_mode: ZoneMode = None,
    hide_participants: HideParticipants = None,
    allow_comments: AllowComments = None,
    language: Language = None,
) -> CallToolResult:
    """Create a scheduling poll to find a time for a group: participants vote yes,
    if-need-be or no on each option through the poll's public link, without an
    account. Options are whole days or time slots.

    The result is the poll with its `id`, `status` `open` and its `options`, each with
    the option `id` that calmesh_decide_poll takes."""
    body = {
        "title": title,
        "options": [o.model_dump(exclude_none=True) for o in options],
        "timezone": timezone,
        "duration": duration,
        "calendar": calendar,
        "deadline": await at(api, deadline, end=True),
        "description": description,
        "location": location,
        "zone_mode": zone_mode,
        "hide_participants": hide_participants,
        "allow_comments": allow_comments,
        "language": language,
    }
    data = await api.post("/polls", body)
    lines = [f"  {option_text(o, data['timezone'])}" for o in data["options"]]
    return result("Created poll:\n" + poll_line(data) + "\n" + "\n".join(lines), data)


@tool(
    "calmesh_decide_poll",
    "Decide a poll",
    "book",
    calls=["POST /polls/:id/decide"],
    destructive=True,
    open_world=True,
)
async def decide_poll(
    api: Api,
    poll_id: PollId,
    option_id: like(inputs.OPTION_ID, "The chosen option's id (from the poll's options)", int),
) -> CallToolResult:
    """Decide a poll: pick the winning option, close the poll to further votes, write
    the event to the poll's calendar, and e-mail every participant with an address an
    invitation. Check calmesh_get_poll_overlap first. The result is the closed poll with
    `decided_option_id`."""
    data = await api.post(f"/polls/{seg(poll_id)}/decide", {"option_id": option_id})
    return result(f"Decided: option {option_id}.\n" + poll_line(data), data)


@tool(
    "calmesh_close_poll",
    "Close a poll",
    "book",
    calls=["POST /polls/:id/close"],
    idempotent=True,
)
async def close_poll(api: Api, poll_id: PollId) -> CallToolResult:
    """Close a poll to further votes without deciding it (calmesh_reopen_poll opens it
    again). The result is the poll, `closed`."""
    data = await api.post(f"/polls/{seg(poll_id)}/close")
    return result("Closed:\n" + poll_line(data), data)


@tool(
    "calmesh_reopen_poll",
    "Reopen a poll",
    "book",
    calls=["POST /polls/:id/reopen"],
    destructive=True,
    idempotent=True,
)
async def reopen_poll(api: Api, poll_id: PollId) -> CallToolResult:
    """Open a closed poll for votes again. A decided poll loses its decision (the
    decided option is withdrawn). The result is the poll, `open`."""
    data = await api.post(f"/polls/{seg(poll_id)}/reopen")
    return result("Reopened:\n" + poll_line(data), data)


TOOLS = (
    list_polls,
    get_poll_overlap,
    create_poll,
    decide_poll,
    close_poll,
    reopen_poll,
)
