"""Polls: owner CRUD, overlap, decide, close/reopen, CSV; and the public page's
data, votes (edited later with a signed token) and comments."""

from __future__ import annotations

from flask import Response

from calmesh.api.framework import ApiError, endpoint, not_found, throttle_public
from calmesh.api.framework import current_principal as who
from calmesh.api.pagination import PAGE_QUERY, page_of, paginate
from calmesh.auth import signing
from calmesh.models import Participant, Poll
from calmesh.models.polls import POLL_STATUSES, VOTE_VALUES, ZONE_MODES
from calmesh.schema import (
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
)
from calmesh.services import poll_results
from calmesh.services import polls as service
from calmesh.urls import external_url

TAG = "Polls"
TOKEN_PATTERN = r"[A-Za-z0-9_.-]+"  # noqa: S105 - the shape of itsdangerous tokens, not a secret

OPTION_OUT = Object(
    {
        "id": Integer(),
        "date": Date(nullable=True, description="A whole day"),
        "start": DateTime(nullable=True, description="A time slot's start (UTC)"),
        "end": DateTime(nullable=True),
    },
    name="PollOption",
)
POLL_OUT = Object(
    {
        "id": String(description="The poll's public id, as in its link"),
        "title": String(),
        "description": String(),
        "location": String(),
        "timezone": String(),
        "zone_mode": Choice(*ZONE_MODES),
        "kind": Choice("days", "slots"),
        "duration": Integer(nullable=True),
        "options": List(OPTION_OUT),
        "deadline": DateTime(nullable=True),
        "hide_participants": Boolean(),
        "allow_comments": Boolean(),
        "notify_owner": Boolean(),
        "calendar": String(nullable=True),
        "status": Choice(*POLL_STATUSES),
        "accepts_votes": Boolean(description="Open and before its deadline"),
        "decided_option_id": Integer(nullable=True),
        "decided_at": DateTime(nullable=True),
        "participant_count": Integer(),
        "created_at": DateTime(),
        "updated_at": DateTime(),
        "url": String(description="The public poll page"),
    },
    name="Poll",
)
VOTE_OUT = Object({"option_id": Integer(), "value": Choice(*VOTE_VALUES)}, name="Vote")
PERSON = Object({"id": Integer(), "name": String()}, name="PollPerson")
OVERLAP_OUT = Object(
    {
        "id": String(),
        "timezone": String(),
        "participant_count": Integer(),
        "options": List(
            Object(
                {
                    **OPTION_OUT.fields,
                    "label": String(description="Date and time in the poll's zone"),
                    **{value: Integer() for value in VOTE_VALUES},
                    "score": Integer(description="2 per yes, 1 per if-need-be"),
                    "best": Boolean(),
                    "busy": Boolean(
                        nullable=True,
                        description="The linked calendar is busy then (null: none linked)",
                    ),
                    "answers": Object(
                        {value: List(PERSON, max_items=100_000) for value in VOTE_VALUES}
                    ),
                },
                name="PollOverlapOption",
            ),
            description="Best first",
        ),
    },
    name="PollOverlap",
)
PUBLIC_OUT = Object(
    {
        "id": String(),
        "title": String(),
        "description": String(),
        "location": String(),
        "organizer": String(),
        "timezone": String(description="The zone of the *_local times and labels"),
        "poll_timezone": String(),
        "zone_mode": Choice(*ZONE_MODES),
        "kind": Choice("days", "slots"),
        "deadline": DateTime(nullable=True),
        "status": Choice(*POLL_STATUSES),
        "accepts_votes": Boolean(),
        "decided_option_id": Integer(nullable=True),
        "hide_participants": Boolean(),
        "allow_comments": Boolean(),
        "options": List(
            Object(
                {
                    **OPTION_OUT.fields,
                    "start_local": String(nullable=True),
                    "end_local": String(nullable=True),
                    "label": String(),
                    **{value: Integer() for value in VOTE_VALUES},
                    "score": Integer(),
                    "best": Boolean(),
                },
                name="PublicPollOption",
            )
        ),
        "participant_count": Integer(),
        "participants": List(
            Object(
                {"id": Integer(), "name": String(), "votes": List(VOTE_OUT)},
                name="PublicParticipant",
            ),
            max_items=100_000,
            description="Empty when the poll hides participants from each other",
        ),
        "you": Object(
            {"id": Integer(), "name": String(), "votes": List(VOTE_OUT)},
            nullable=True,
            description="Your own vote, when ?token= is your edit token",
        ),
        "comments": List(
            Object(
                {"id": Integer(), "name": String(), "body": String(), "created_at": DateTime()},
                name="PollComment",
            ),
            max_items=100_000,
        ),
    },
    name="PublicPoll",
)
VOTED_OUT = Object(
    {
        "participant_id": Integer(),
        "name": String(),
        "votes": List(VOTE_OUT),
        "token": String(description="Your signed edit token; keep it to change your vote"),
        "edit_url": String(description="The poll page with your token: change your vote there"),
    },
    name="PollVoteReceipt",
)


def poll_out(poll: Poll) -> dict:
    url = external_url("public.poll_page", poll_id=poll.public_id)
    return {**poll_results.poll_data(poll), "url": url}


def owned(poll_id: str) -> Poll:
    poll = service.get_for(who().user, poll_id)
    if poll is None:
        raise not_found("poll")
    return poll


@endpoint(
    "/polls",
    "POST",
    auth="book",
    body=service.NEW_POLL,
    response=POLL_OUT,
    status=201,
    errors=(422,),
    summary="Create a poll over whole days or time slots",
    tag=TAG,
)
def create_poll(body):
    return poll_out(service.create(who().user, body))


@endpoint(
    "/polls",
    "GET",
    auth="read",
    query=Object({**PAGE_QUERY, "status": Choice(*POLL_STATUSES, default=None)}),
    response=page_of(POLL_OUT, "PollPage"),
    summary="List your polls, newest first",
    tag=TAG,
)
def list_polls(query):
    found = Poll.for_user(who().user)
    if query["status"]:
        found = found.where(Poll.status == query["status"])
    return paginate(
        found,
        order=[Poll.id],
        descending=True,
        serialize=poll_out,
        limit=query["limit"],
        cursor=query["cursor"],
    )


@endpoint(
    "/polls/<token:poll_id>", "GET", auth="read", response=POLL_OUT, summary="A poll", tag=TAG
)
def get_poll(poll_id):
    return poll_out(owned(poll_id))


@endpoint(
    "/polls/<token:poll_id>",
    "PATCH",
    auth="book",
    body=service.POLL_PATCH,
    response=POLL_OUT,
    errors=(409, 422),
    summary="Change a poll; options keep their ids and votes, a removed option's votes go",
    tag=TAG,
)
def update_poll(poll_id, body):
    return poll_out(service.update(owned(poll_id), body))


@endpoint(
    "/polls/<token:poll_id>",
    "DELETE",
    auth="book",
    response=Object({"id": String(), "deleted": Boolean()}),
    summary="Delete a poll with its votes and comments",
    tag=TAG,
)
def delete_poll(poll_id):
    poll = owned(poll_id)
    service.delete(poll)
    return {"id": poll.public_id, "deleted": True}


@endpoint(
    "/polls/<token:poll_id>/close",
    "POST",
    auth="book",
    response=POLL_OUT,
    errors=(409,),
    summary="Close a poll: it takes no more votes",
    tag=TAG,
)
def close_poll(poll_id):
    return poll_out(service.close(owned(poll_id)))


@endpoint(
    "/polls/<token:poll_id>/reopen",
    "POST",
    auth="book",
    response=POLL_OUT,
    errors=(409,),
    summary="Open a closed poll again (withdraws a decision)",
    tag=TAG,
)
def reopen_poll(poll_id):
    return poll_out(service.reopen(owned(poll_id)))


@endpoint(
    "/polls/<token:poll_id>/decide",
    "POST",
    auth="book",
    body=Object({"option_id": Integer(minimum=1, maximum=2**31 - 1)}, name="Decide"),
    response=POLL_OUT,
    errors=(409, 422),
    summary="Pick an option: closes the poll, writes the event, e-mails the participants",
    tag=TAG,
)
def decide_poll(poll_id, body):
    return poll_out(service.decide(owned(poll_id), body["option_id"]))


@endpoint(
    "/polls/<token:poll_id>/overlap",
    "GET",
    auth="read",
    response=OVERLAP_OUT,
    summary="Per option: counts, score, who answered what, and whether you are busy then",
    tag=TAG,
)
def poll_overlap(poll_id):
    poll = owned(poll_id)
    found = poll_results.results(poll, with_busy=True)
    return {
        "id": poll.public_id,
        "timezone": poll.timezone,
        "participant_count": len(found.participants),
        "options": [
            {
                **poll_results.option_data(t.option),
                "label": poll_results.label(t.option, poll.timezone),
                **{value: t.count(value) for value in VOTE_VALUES},
                "score": t.score,
                "best": t.best,
                "busy": t.busy,
                "answers": {
                    value: [{"id": p.id, "name": p.name} for p in people]
                    for value, people in t.answers.items()
                },
            }
            for t in found.ranked()
        ],
    }


@endpoint(
    "/polls/<token:poll_id>/export.csv",
    "GET",
    auth="read",
    summary="The results as CSV (text/csv)",
    tag=TAG,
)
def export_poll_csv(poll_id):
    return csv_response(owned(poll_id))


def csv_response(poll: Poll) -> Response:
    return Response(
        poll_results.csv_export(poll),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="poll-{poll.public_id}.csv"'},
    )


# --- public -------------------------------------------------------------------------------


def public(poll_id: str) -> Poll:
    poll = service.public_poll(poll_id)
    if poll is None:
        raise not_found("poll")
    return poll


def _participant(poll: Poll, token: str, participant_id: int | None = None) -> Participant:
    try:
        return service.by_vote_token(poll.public_id, token, participant_id)
    except signing.BadToken as exc:
        raise ApiError(403, "forbidden", str(exc)) from None


@endpoint(
    "/polls/<token:poll_id>/public",
    "GET",
    auth="public",
    query=Object(
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
    ),
    response=PUBLIC_OUT,
    errors=(403,),
    summary="What participants see: options in their zone, totals, votes as allowed (public)",
    tag=TAG,
)
def get_public_poll(poll_id, query):
    poll = public(poll_id)
    you = _participant(poll, query["token"]) if query["token"] else None
    return poll_results.public_data(poll, query["tz"], you)


def receipt(participant: Participant, poll: Poll) -> dict:
    return {
        "participant_id": participant.id,
        "name": participant.name,
        "votes": poll_results.votes_of(participant),
        "token": service.vote_token(participant, poll),
        "edit_url": service.edit_url(participant, poll),
    }


@endpoint(
    "/polls/<token:poll_id>/votes",
    "POST",
    auth="public",
    body=Object(
        {
            "name": service.NAME,
            "email": Email(
                default=None, nullable=True, description="Optional; only the organizer sees it"
            ),
            "timezone": TimeZone(default=None, description="Your zone, for the e-mails"),
            "votes": service.VOTES,
        },
        name="NewVote",
    ),
    response=VOTED_OUT,
    status=201,
    errors=(409, 422),
    summary="Vote (public); answers your signed edit token and link",
    tag=TAG,
)
def vote_on_poll(poll_id, body):
    throttle_public("vote")
    poll = public(poll_id)
    participant = service.vote(
        poll, body["name"], body["email"], body["votes"], body["timezone"] or ""
    )
    return receipt(participant, poll)


@endpoint(
    "/polls/<token:poll_id>/votes/<int:participant_id>",
    "PATCH",
    auth="public",
    body=Object(
        {
            "token": String(
                min_length=1,
                max_length=500,
                pattern=TOKEN_PATTERN,
                pattern_help="must be the token of your edit link",
                description="Your signed edit token",
            ),
            "votes": service.VOTES,
            "name": String(min_length=1, max_length=200, default=None),
        },
        name="EditVote",
    ),
    response=VOTED_OUT,
    errors=(403, 409, 422),
    summary="Change your own vote with your signed token (public)",
    tag=TAG,
)
def edit_poll_vote(poll_id, participant_id, body):
    throttle_public("vote")
    poll = public(poll_id)
    participant = _participant(poll, body["token"], participant_id)
    service.edit_vote(participant, body["votes"], body["name"])
    return receipt(participant, poll)


@endpoint(
    "/polls/<token:poll_id>/comments",
    "POST",
    auth="public",
    body=Object(
        {"name": service.NAME, "body": String(min_length=1, max_length=5000)},
        name="NewPollComment",
    ),
    response=Object(
        {"id": Integer(), "name": String(), "body": String(), "created_at": DateTime()}
    ),
    status=201,
    errors=(409,),
    summary="Comment on a poll that allows comments (public)",
    tag=TAG,
)
def comment_on_poll(poll_id, body):
    throttle_public("vote")
    poll = public(poll_id)
    comment = service.comment(poll, body["name"], body["body"])
    return poll_results.comment_data(comment)
