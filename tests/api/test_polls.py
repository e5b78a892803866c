"""Polls over REST: settings, options that keep their votes, public votes with
signed edit tokens, privacy (hidden participants, e-mails), deadlines, the
overlap, deciding, comments, CSV."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime, timedelta

import pytest

from calmesh.auth import signing
from calmesh.jobs.outbox import process_due
from calmesh.models import OutboxItem, Participant, Poll, Vote, WebhookDelivery
from calmesh.models.mail import MailMessage
from tests.factories import add_event, make_connection

TOMORROW = date.today() + timedelta(days=1)


def at(days: int, hour: int, minute: int = 0) -> datetime:
    day = date.today() + timedelta(days=days)
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


def iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


SLOTS = [
    {"start": iso(at(3, 9)), "end": iso(at(3, 10))},
    {"start": iso(at(3, 14))},
    {"start": iso(at(4, 9)), "end": iso(at(4, 10))},
]


@pytest.fixture
def full(api_as, alice):
    return api_as(alice, "full")


def make_poll(client, **extra):
    body = {
        "title": "Team dinner",
        "options": SLOTS,
        "timezone": "Europe/Berlin",
        "duration": 90,
        **extra,
    }
    response = client.post("/api/v1/polls", json=body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


@pytest.fixture
def poll(full):
    return make_poll(full)


def vote(stranger, poll_id, name="Vera", email=None, values=("yes", "ifneedbe", "no"), poll=None):
    options = poll["options"] if poll else None
    ids = [o["id"] for o in options] if options else []
    body = {
        "name": name,
        "votes": [{"option_id": i, "value": v} for i, v in zip(ids, values, strict=False)],
    }
    if email:
        body["email"] = email
    return stranger.post(f"/api/v1/polls/{poll_id}/votes", json=body)


def public(stranger, poll_id, **query):
    return stranger.get(f"/api/v1/polls/{poll_id}/public", query_string=query)


# --- settings -------------------------------------------------------------------------------


def test_a_poll_round_trips_its_settings_and_has_an_unguessable_id(full, poll):
    assert len(poll["id"]) >= 16 and poll["id"] != "1"
    assert poll["url"].endswith(f"/p/{poll['id']}")
    assert poll["kind"] == "slots" and poll["status"] == "open" and poll["accepts_votes"]
    assert [(o["start"], o["end"]) for o in poll["options"]] == [
        (iso(at(3, 9)), iso(at(3, 10))),
        (iso(at(3, 14)), iso(at(3, 15, 30))),  # start + the poll's 90 minutes
        (iso(at(4, 9)), iso(at(4, 10))),
    ]
    assert poll["hide_participants"] is False and poll["allow_comments"] is True
    assert poll["notify_owner"] is True and poll["calendar"] is None
    got = full.get(f"/api/v1/polls/{poll['id']}").get_json()
    assert got == poll
    listed = full.get("/api/v1/polls").get_json()
    assert [p["id"] for p in listed["data"]] == [poll["id"]] and listed["has_more"] is False


def test_whole_day_polls_may_float_and_keep_dates_in_order(full):
    made = make_poll(
        full,
        options=[{"date": "2031-05-02"}, {"date": "2031-05-01"}],
        zone_mode="floating",
        duration=None,
    )
    assert made["kind"] == "days" and made["zone_mode"] == "floating"
    assert [o["date"] for o in made["options"]] == ["2031-05-01", "2031-05-02"]
    assert all(o["start"] is None and o["end"] is None for o in made["options"])


@pytest.mark.parametrize(
    "change,status,field",
    [
        ({"options": [{"date": "2031-05-01"}, {"start": "2031-05-02T09:00:00Z"}]}, 422, "options"),
        ({"options": [{"date": "2031-05-01"}], "zone_mode": "locked", "duration": None}, 201, None),
        ({"zone_mode": "floating"}, 422, "zone_mode"),
        ({"options": [{"start": "2031-05-02T09:00:00Z"}], "duration": None}, 422, "options[0]"),
        (
            {"options": [{"start": "2031-05-02T09:00:00Z", "end": "2031-05-02T08:00:00Z"}]},
            422,
            "options[0]",
        ),
        ({"options": [{"start": "2031-05-02T09:00:00"}]}, 400, "options[0].start"),
        ({"options": [{"date": "2031-05-01"}, {"date": "2031-05-01"}]}, 422, "options"),
        ({"options": []}, 400, "options"),
        ({"calendar": "nope"}, 422, "calendar"),
        ({"deadline": "2001-01-01T00:00:00Z"}, 422, "deadline"),
        ({"timezone": "Mars/Olympus"}, 400, "timezone"),
        ({"options": [{"start": "9999-12-31T23:59:59-14:00"}]}, 400, "options[0].start"),
    ],
)
def test_bad_settings_are_refused_with_the_field(full, change, status, field):
    body = {"title": "T", "options": SLOTS, "timezone": "UTC", "duration": 30, **change}
    response = full.post("/api/v1/polls", json=body)
    assert response.status_code == status, response.get_json()
    if field:
        fields = [d["field"] for d in response.get_json()["error"]["details"]]
        assert field in fields


def test_another_owner_sees_nothing_of_the_poll(poll, api_as, bob):
    other = api_as(bob, "full")
    for method, path in [
        ("GET", ""),
        ("PATCH", ""),
        ("DELETE", ""),
        ("GET", "/overlap"),
        ("GET", "/export.csv"),
        ("POST", "/close"),
        ("POST", "/reopen"),
    ]:
        response = other.request(method, f"/api/v1/polls/{poll['id']}{path}", json={})
        assert response.status_code == 404, (method, path)
    decided = other.post(f"/api/v1/polls/{poll['id']}/decide", json={"option_id": 1})
    assert decided.status_code == 404
    assert other.get("/api/v1/polls").get_json()["data"] == []
    assert Poll.get(Poll.public_id == poll["id"]).status == "open"


def test_scopes_read_reads_book_creates_and_decides(api_as, alice, stranger):
    reader, booker = api_as(alice, "read"), api_as(alice, "book")
    assert reader.post("/api/v1/polls", json={"title": "x", "options": SLOTS}).status_code == 403
    made = make_poll(booker)
    pid, option = made["id"], made["options"][0]["id"]
    assert reader.get(f"/api/v1/polls/{pid}").status_code == 200
    assert reader.get(f"/api/v1/polls/{pid}/overlap").status_code == 200
    assert reader.get("/api/v1/polls").status_code == 200
    for method, path, body in [
        ("PATCH", "", {"title": "y"}),
        ("DELETE", "", None),
        ("POST", "/close", None),
        ("POST", "/decide", {"option_id": option}),
    ]:
        assert reader.request(method, f"/api/v1/polls/{pid}{path}", json=body).status_code == 403
    assert stranger.get(f"/api/v1/polls/{pid}").status_code == 401
    assert booker.post(f"/api/v1/polls/{pid}/decide", json={"option_id": option}).status_code == 200


def test_editing_options_keeps_the_others_and_their_votes(full, poll, stranger):
    vote(stranger, poll["id"], "Vera", values=("yes", "ifneedbe", "no"), poll=poll)
    first, second, third = (o["id"] for o in poll["options"])
    # Keep the first by id and the third by its time; drop the second; add one.
    new = {"start": iso(at(5, 9)), "end": iso(at(5, 10))}
    options = [{"id": first, "start": iso(at(3, 9)), "end": iso(at(3, 10))}, SLOTS[2], new]
    changed = full.patch(f"/api/v1/polls/{poll['id']}", json={"options": options, "title": "Lunch"})

    assert changed.status_code == 200, changed.get_json()
    body = changed.get_json()
    assert body["title"] == "Lunch"
    ids = [o["id"] for o in body["options"]]
    assert ids[:2] == [first, third] and ids[2] not in (first, second, third)
    mine = public(stranger, poll["id"]).get_json()["participants"][0]["votes"]
    assert mine == [{"option_id": first, "value": "yes"}, {"option_id": third, "value": "no"}]
    assert Vote.select().count() == 2


def test_an_unknown_option_id_is_refused_and_nothing_changes(full, poll):
    response = full.patch(
        f"/api/v1/polls/{poll['id']}",
        json={"options": [{"id": 999_999, "date": "2031-01-01"}], "title": "Changed"},
    )
    assert response.status_code == 422
    assert full.get(f"/api/v1/polls/{poll['id']}").get_json() == poll


def test_delete_removes_the_poll_with_its_votes(full, poll, stranger):
    vote(stranger, poll["id"], poll=poll)
    assert full.delete(f"/api/v1/polls/{poll['id']}").get_json() == {
        "id": poll["id"],
        "deleted": True,
    }
    assert Poll.select().count() == 0 and Participant.select().count() == 0
    assert public(stranger, poll["id"]).status_code == 404


# --- voting -------------------------------------------------------------------------------------


def test_a_vote_answers_the_participant_id_and_a_signed_edit_link(poll, stranger):
    response = vote(stranger, poll["id"], "Vera", "vera@example.net", poll=poll)

    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    participant = Participant.get_by_id(body["participant_id"])
    assert participant.name == "Vera" and participant.email == "vera@example.net"
    assert body["votes"] == [
        {"option_id": o["id"], "value": v}
        for o, v in zip(poll["options"], ("yes", "ifneedbe", "no"), strict=True)
    ]
    assert body["edit_url"].endswith(f"/p/{poll['id']}?token={body['token']}")
    seen = public(stranger, poll["id"], token=body["token"]).get_json()
    assert seen["you"] == {"id": participant.id, "name": "Vera", "votes": body["votes"]}


def test_a_vote_needs_a_name_and_known_options(poll, stranger):
    path = f"/api/v1/polls/{poll['id']}/votes"
    assert stranger.post(path, json={"name": " ", "votes": []}).status_code == 400
    refused = stranger.post(path, json={"name": "V", "votes": [{"option_id": 999, "value": "yes"}]})
    assert refused.status_code == 422
    twice = [{"option_id": poll["options"][0]["id"], "value": v} for v in ("yes", "no")]
    assert stranger.post(path, json={"name": "V", "votes": twice}).status_code == 422
    for address in ("not-an-address", "a,b@example.net", "v\x08@example.net"):
        refused = stranger.post(path, json={"name": "V", "email": address, "votes": []})
        assert refused.status_code == 400, address
    assert Participant.select().count() == 0
    assert (
        stranger.post("/api/v1/polls/nope/votes", json={"name": "V", "votes": []}).status_code
        == 404
    )


def test_changing_ones_own_vote_with_the_token(poll, stranger):
    made = vote(stranger, poll["id"], "Vera", poll=poll).get_json()
    first = poll["options"][0]["id"]
    path = f"/api/v1/polls/{poll['id']}/votes/{made['participant_id']}"

    changed = stranger.patch(
        path,
        json={
            "token": made["token"],
            "votes": [{"option_id": first, "value": "no"}],
            "name": "Vera K.",
        },
    )

    assert changed.status_code == 200, changed.get_json()
    body = changed.get_json()
    assert body["name"] == "Vera K."
    assert body["votes"][0] == {"option_id": first, "value": "no"}
    assert body["votes"][1]["value"] == "ifneedbe"  # not named: kept


def test_tampered_or_foreign_tokens_are_refused(app, full, poll, stranger):
    vera = vote(stranger, poll["id"], "Vera", poll=poll).get_json()
    otto = vote(stranger, poll["id"], "Otto", poll=poll).get_json()
    other_poll = make_poll(full, title="Other")
    elsewhere = vote(stranger, other_poll["id"], "Vera", poll=other_poll).get_json()
    with app.test_request_context():
        booking_token = signing.sign(
            "booking-manage", {"p": poll["id"], "i": vera["participant_id"]}
        )
    path = f"/api/v1/polls/{poll['id']}/votes/{vera['participant_id']}"
    votes = [{"option_id": poll["options"][0]["id"], "value": "no"}]
    for token in (
        vera["token"][:-2] + ("AA" if not vera["token"].endswith("AA") else "BB"),
        otto["token"],
        elsewhere["token"],
        booking_token,
        "garbage",
    ):
        response = stranger.patch(path, json={"token": token, "votes": votes})
        assert response.status_code == 403, token
        assert response.get_json()["error"]["code"] == "forbidden"
    # The other poll's participant id with its own token, through this poll: refused too.
    sideways = f"/api/v1/polls/{poll['id']}/votes/{elsewhere['participant_id']}"
    assert (
        stranger.patch(sideways, json={"token": elsewhere["token"], "votes": []}).status_code == 403
    )
    assert public(stranger, poll["id"], token=otto["token"][:-1]).status_code == 403
    assert (
        Vote.get(
            Vote.participant == vera["participant_id"], Vote.option == votes[0]["option_id"]
        ).value
        == "yes"
    )


def test_votes_are_refused_once_closed_and_after_the_deadline(full, poll, stranger):
    made = vote(stranger, poll["id"], poll=poll).get_json()
    edit = f"/api/v1/polls/{poll['id']}/votes/{made['participant_id']}"
    assert full.post(f"/api/v1/polls/{poll['id']}/close").status_code == 200
    assert full.post(f"/api/v1/polls/{poll['id']}/close").status_code == 409

    closed = vote(stranger, poll["id"], poll=poll)
    assert closed.status_code == 409 and closed.get_json()["error"]["code"] == "poll_closed"
    assert "closed" in closed.get_json()["error"]["message"]
    assert stranger.patch(edit, json={"token": made["token"], "votes": []}).status_code == 409

    assert full.post(f"/api/v1/polls/{poll['id']}/reopen").status_code == 200
    assert vote(stranger, poll["id"], poll=poll).status_code == 201
    soon = datetime.now(UTC) + timedelta(hours=1)
    assert (
        full.patch(f"/api/v1/polls/{poll['id']}", json={"deadline": iso(soon)}).status_code == 200
    )
    Poll.update(deadline=datetime.now(UTC) - timedelta(minutes=1)).execute()

    late = vote(stranger, poll["id"], poll=poll)
    assert late.status_code == 409 and late.get_json()["error"]["code"] == "deadline_passed"
    assert "deadline" in late.get_json()["error"]["message"]
    assert stranger.patch(edit, json={"token": made["token"], "votes": []}).status_code == 409
    assert public(stranger, poll["id"]).get_json()["accepts_votes"] is False
    assert Participant.select().count() == 2


# --- privacy ---------------------------------------------------------------------------------


def test_public_outputs_never_hold_an_email_address(full, poll, stranger):
    made = vote(stranger, poll["id"], "Vera", "vera@example.net", poll=poll).get_json()
    vote(stranger, poll["id"], "Otto", "otto@example.net", poll=poll)
    outputs = [
        public(stranger, poll["id"]).get_data(as_text=True),
        public(stranger, poll["id"], token=made["token"]).get_data(as_text=True),
        json.dumps(made),
        stranger.get(f"/p/{poll['id']}").get_data(as_text=True),
        stranger.get(f"/p/{poll['id']}?token={made['token']}").get_data(as_text=True),
    ]
    for text in outputs:
        assert "@example.net" not in text
    # The owner may see them.
    assert "vera@example.net" in full.get(f"/api/v1/polls/{poll['id']}/export.csv").get_data(
        as_text=True
    )


def test_hidden_participants_are_never_revealed(full, stranger):
    made = make_poll(full, hide_participants=True)
    vera = vote(
        stranger, made["id"], "Vera Secret", values=("yes", "yes", "no"), poll=made
    ).get_json()
    vote(stranger, made["id"], "Otto Hidden", values=("yes", "no", "no"), poll=made)

    anonymous = public(stranger, made["id"]).get_json()
    assert anonymous["participants"] == [] and anonymous["you"] is None
    assert anonymous["participant_count"] == 2
    assert [(o["yes"], o["no"]) for o in anonymous["options"]] == [(2, 0), (1, 1), (0, 2)]
    as_vera = public(stranger, made["id"], token=vera["token"]).get_json()
    assert as_vera["participants"] == [] and as_vera["you"]["name"] == "Vera Secret"
    pages = [
        json.dumps(anonymous),
        json.dumps(as_vera),
        stranger.get(f"/p/{made['id']}").get_data(as_text=True),
        stranger.get(f"/p/{made['id']}?token={vera['token']}").get_data(as_text=True),
    ]
    for i, text in enumerate(pages):
        assert "Otto Hidden" not in text, i
        assert ("Vera Secret" in text) == (i in (1, 3)), i
    # The owner sees everyone.
    overlap = full.get(f"/api/v1/polls/{made['id']}/overlap").get_json()
    names = {p["name"] for o in overlap["options"] for p in o["answers"]["yes"]}
    assert names == {"Vera Secret", "Otto Hidden"}


def test_participants_see_each_others_names_and_votes_when_not_hidden(poll, stranger):
    vote(stranger, poll["id"], "Vera", values=("yes", "no", "ifneedbe"), poll=poll)
    shown = public(stranger, poll["id"]).get_json()
    assert [p["name"] for p in shown["participants"]] == ["Vera"]
    assert [v["value"] for v in shown["participants"][0]["votes"]] == ["yes", "no", "ifneedbe"]


def test_options_show_in_the_participants_zone_unless_locked(full, poll, stranger):
    shown = public(stranger, poll["id"], tz="America/New_York").get_json()
    assert shown["timezone"] == "America/New_York" and shown["poll_timezone"] == "Europe/Berlin"
    start = datetime.fromisoformat(shown["options"][0]["start_local"])
    assert start == at(3, 9) and start.utcoffset() in (timedelta(hours=-4), timedelta(hours=-5))
    local_end = datetime.fromisoformat(shown["options"][0]["end_local"])
    assert shown["options"][0]["label"].endswith(f"{start:%H:%M}–{local_end:%H:%M}")
    full.patch(f"/api/v1/polls/{poll['id']}", json={"zone_mode": "locked"})
    locked = public(stranger, poll["id"], tz="America/New_York").get_json()
    assert locked["timezone"] == "Europe/Berlin"
    assert datetime.fromisoformat(locked["options"][0]["start_local"]).utcoffset() >= timedelta(
        hours=1
    )


# --- comments ------------------------------------------------------------------------------


def test_comments_show_on_the_public_poll_and_can_be_turned_off(full, poll, stranger):
    path = f"/api/v1/polls/{poll['id']}/comments"
    posted = stranger.post(path, json={"name": "Vera", "body": "Thursday suits me best"})
    assert posted.status_code == 201
    assert posted.get_json()["name"] == "Vera"
    shown = public(stranger, poll["id"]).get_json()["comments"]
    assert [(c["name"], c["body"]) for c in shown] == [("Vera", "Thursday suits me best")]
    assert stranger.post(path, json={"name": "Vera", "body": " "}).status_code == 400

    full.patch(f"/api/v1/polls/{poll['id']}", json={"allow_comments": False})
    refused = stranger.post(path, json={"name": "Vera", "body": "again"})
    assert refused.status_code == 409
    assert public(stranger, poll["id"]).get_json()["comments"] == []


# --- overlap, decide, CSV -----------------------------------------------------------------------


def test_overlap_counts_scores_ranks_and_knows_when_the_owner_is_busy(full, alice, stranger):
    connection = make_connection(alice)
    full.post(
        "/api/v1/calendars", json={"slug": "work", "name": "Work", "timezone": "Europe/Berlin"}
    )
    full.post("/api/v1/calendars/work/sources", json={"connection_id": connection.id})
    add_event(connection.calendars[0], at(4, 9, 30), at(4, 11))
    made = make_poll(full, calendar="work")
    vote(stranger, made["id"], "Vera", values=("ifneedbe", "no", "yes"), poll=made)
    vote(stranger, made["id"], "Otto", values=("ifneedbe", "yes", "yes"), poll=made)
    vote(stranger, made["id"], "Ida", values=("yes",), poll=made)

    overlap = full.get(f"/api/v1/polls/{made['id']}/overlap").get_json()

    first, second, third = (o["id"] for o in made["options"])
    ranked = [
        (o["id"], o["yes"], o["ifneedbe"], o["no"], o["score"], o["best"])
        for o in overlap["options"]
    ]
    # A tie on the score goes to more yes; both share "best".
    assert ranked == [
        (third, 2, 0, 0, 4, True),
        (first, 1, 2, 0, 4, True),
        (second, 1, 0, 1, 2, False),
    ]
    by_id = {o["id"]: o for o in overlap["options"]}
    assert [p["name"] for p in by_id[first]["answers"]["ifneedbe"]] == ["Vera", "Otto"]
    assert [p["name"] for p in by_id[second]["answers"]["no"]] == ["Vera"]
    assert by_id[third]["busy"] is True and by_id[first]["busy"] is False
    assert overlap["participant_count"] == 3


def test_overlap_of_whole_days_is_busy_for_any_blocked_time_that_local_day(full, alice):
    connection = make_connection(alice)
    full.post("/api/v1/calendars", json={"slug": "work", "name": "Work", "timezone": "UTC"})
    full.post("/api/v1/calendars/work/sources", json={"connection_id": connection.id})
    # 23:30 UTC on the 1st is already the 2nd in Berlin.
    add_event(
        connection.calendars[0],
        datetime(2031, 5, 1, 22, 30, tzinfo=UTC),
        datetime(2031, 5, 1, 23, 0, tzinfo=UTC),
    )
    made = make_poll(
        full,
        options=[{"date": "2031-05-01"}, {"date": "2031-05-02"}, {"date": "2031-05-03"}],
        calendar="work",
        duration=None,
    )
    overlap = full.get(f"/api/v1/polls/{made['id']}/overlap").get_json()
    busy = {o["date"]: o["busy"] for o in overlap["options"]}
    assert busy == {"2031-05-01": False, "2031-05-02": True, "2031-05-03": False}
    assert all(o["best"] is False for o in overlap["options"])  # nobody voted yet


def test_overlap_without_a_calendar_says_busy_unknown(full, poll):
    overlap = full.get(f"/api/v1/polls/{poll['id']}/overlap").get_json()
    assert {o["busy"] for o in overlap["options"]} == {None}


def test_decide_closes_invites_those_with_an_address_and_queues_the_write_back(
    full, alice, stranger
):
    connection = make_connection(alice)
    full.post(
        "/api/v1/calendars", json={"slug": "work", "name": "Work", "timezone": "Europe/Berlin"}
    )
    full.post("/api/v1/calendars/work/sources", json={"connection_id": connection.id})
    made = make_poll(full, calendar="work", notify_owner=False)
    vote(stranger, made["id"], "Vera", "vera@example.net", poll=made)
    vote(stranger, made["id"], "Otto", poll=made)
    OutboxItem.delete().execute()
    chosen = made["options"][1]["id"]

    decided = full.post(f"/api/v1/polls/{made['id']}/decide", json={"option_id": chosen})

    assert decided.status_code == 200, decided.get_json()
    body = decided.get_json()
    assert body["status"] == "closed" and body["decided_option_id"] == chosen
    assert body["accepts_votes"] is False and body["decided_at"]
    items = list(OutboxItem.select().order_by(OutboxItem.id))
    kinds = sorted(i.kind for i in items)
    assert kinds == ["mail", "poll.writeback"]
    mail = next(i.payload for i in items if i.kind == "mail")
    assert mail["to"] == "vera@example.net"
    assert "METHOD:REQUEST" in mail["ics"] and f"UID:{made['id']}@poll.calmesh" in mail["ics"]
    assert "ORGANIZER;CN=Alice:mailto:alice@example.org" in mail["ics"]
    assert "otto" not in mail["ics"].lower()
    writeback = next(i.payload for i in items if i.kind == "poll.writeback")
    assert writeback == {"poll": made["id"]}
    # Deciding the same option again is a retry: nothing new is sent.
    again = full.post(f"/api/v1/polls/{made['id']}/decide", json={"option_id": chosen})
    assert again.status_code == 200 and OutboxItem.select().count() == 2
    assert (
        full.post(f"/api/v1/polls/{made['id']}/decide", json={"option_id": 10**9}).status_code
        == 422
    )
    assert vote(stranger, made["id"], poll=made).status_code == 409


def test_reopening_a_decided_poll_withdraws_the_decision(full, stranger, poll):
    vote(stranger, poll["id"], "Vera", "vera@example.net", poll=poll)
    full.post(f"/api/v1/polls/{poll['id']}/decide", json={"option_id": poll["options"][0]["id"]})
    OutboxItem.delete().execute()

    reopened = full.post(f"/api/v1/polls/{poll['id']}/reopen").get_json()

    assert reopened["status"] == "open" and reopened["decided_option_id"] is None
    mails = [i.payload for i in OutboxItem.select() if i.kind == "mail"]
    assert (
        len(mails) == 1 and "METHOD:CANCEL" in mails[0]["ics"] and "SEQUENCE:1" in mails[0]["ics"]
    )
    redecided = full.post(
        f"/api/v1/polls/{poll['id']}/decide", json={"option_id": poll["options"][2]["id"]}
    )
    assert redecided.status_code == 200
    request = [
        i.payload
        for i in OutboxItem.select()
        if i.kind == "mail" and "REQUEST" in (i.payload["ics"] or "")
    ]
    assert len(request) == 1 and "SEQUENCE:2" in request[0]["ics"]


def test_the_decided_option_cannot_be_edited_away(full, poll):
    full.post(f"/api/v1/polls/{poll['id']}/decide", json={"option_id": poll["options"][0]["id"]})
    response = full.patch(f"/api/v1/polls/{poll['id']}", json={"options": SLOTS[1:]})
    assert response.status_code == 409


def test_owner_is_mailed_about_votes_unless_turned_off(app, full, poll, stranger):
    vote(stranger, poll["id"], "Vera", "vera@example.net", poll=poll)
    process_due(app)
    mails = {m.to_address: m for m in MailMessage.select()}
    assert set(mails) == {"alice@example.org", "vera@example.net"}
    assert "Vera <vera@example.net> voted" in mails["alice@example.org"].body
    assert f"/p/{poll['id']}?token=" in mails["vera@example.net"].body
    MailMessage.delete().execute()

    full.patch(f"/api/v1/polls/{poll['id']}", json={"notify_owner": False})
    vote(stranger, poll["id"], "Otto", poll=poll)
    process_due(app)
    assert MailMessage.select().count() == 0


def test_webhooks_hear_of_votes_and_the_decision(full, poll, stranger):
    hook = full.post(
        "/api/v1/webhooks",
        json={"url": "http://127.0.0.1:9/hook", "events": ["poll.voted", "poll.decided"]},
    )
    assert hook.status_code == 201, hook.get_json()
    made = vote(stranger, poll["id"], "Vera", "vera@example.net", poll=poll).get_json()
    full.post(f"/api/v1/polls/{poll['id']}/decide", json={"option_id": poll["options"][0]["id"]})

    deliveries = list(WebhookDelivery.select().order_by(WebhookDelivery.id))
    assert [d.event for d in deliveries] == ["poll.voted", "poll.decided"]
    voted = json.loads(deliveries[0].body)["data"]
    assert voted["participant"]["id"] == made["participant_id"] and voted["action"] == "created"
    assert voted["poll"]["id"] == poll["id"]
    decided = json.loads(deliveries[1].body)["data"]
    assert decided["decided_option"]["id"] == poll["options"][0]["id"]


def test_csv_export_lists_every_vote_and_quotes_formulas(full, poll, stranger):
    vote(stranger, poll["id"], '=HYPERLINK("http://evil")', "vera@example.net", poll=poll)
    vote(stranger, poll["id"], "Otto", values=("no", "yes"), poll=poll)

    response = full.get(f"/api/v1/polls/{poll['id']}/export.csv")

    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0][:2] == ["Participant", "E-mail"] and len(rows[0]) == 5
    assert rows[1] == ['\'=HYPERLINK("http://evil")', "vera@example.net", "yes", "if need be", "no"]
    assert rows[2] == ["Otto", "", "no", "yes", ""]
    assert rows[3] == ["Total yes", "", "1", "1", "0"]
    assert rows[-1] == ["Score", "", "2", "3", "0"]


def test_public_votes_and_comments_from_one_address_are_throttled(app, poll, stranger):
    app.config["CALMESH"]._values["api.public_book_per_minute"] = 2
    assert vote(stranger, poll["id"], "A", poll=poll).status_code == 201
    comment = {"name": "B", "body": "hello"}
    assert stranger.post(f"/api/v1/polls/{poll['id']}/comments", json=comment).status_code == 201

    refused = vote(stranger, poll["id"], "C", poll=poll)

    assert refused.status_code == 429 and "Retry-After" in refused.headers
    assert stranger.post(f"/api/v1/polls/{poll['id']}/comments", json=comment).status_code == 429
    assert Participant.select().count() == 1


def test_the_list_pages_newest_first_and_filters_by_status(full):
    made = [make_poll(full, title=f"Poll {n}")["id"] for n in range(3)]
    full.post(f"/api/v1/polls/{made[0]}/close")

    first = full.get("/api/v1/polls?limit=2").get_json()
    second = full.get(f"/api/v1/polls?limit=2&cursor={first['next_cursor']}").get_json()

    assert [p["id"] for p in first["data"]] == [made[2], made[1]] and first["has_more"]
    assert [p["id"] for p in second["data"]] == [made[0]] and not second["has_more"]
    closed = full.get("/api/v1/polls?status=closed").get_json()["data"]
    assert [p["id"] for p in closed] == [made[0]]
