"""The poll service on its own: options that keep their ids, the tally and its
ranking, labels across DST, the privacy of public data, tokens, CSV quoting,
and the side effects each change queues."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pytest

from calmesh.auth import signing
from calmesh.models import OutboxItem, Participant, PollOption
from calmesh.services import poll_results, polls
from calmesh.services.polls import PollError


@pytest.fixture
def ctx(app):
    """Votes build signed links for their e-mails, on the instance's public URL."""
    app.config["CALMESH"]._values["server.base_url"] = "https://cal.example.org"
    with app.test_request_context("/"):
        yield


def slot(day: int, hour: int, minutes: int = 60) -> dict:
    start = datetime(2031, 3, day, hour, tzinfo=UTC)
    return {"id": None, "date": None, "start": start, "end": start + timedelta(minutes=minutes)}


def whole(day: date) -> dict:
    return {"id": None, "date": day, "start": None, "end": None}


def new_poll(user, options=None, **settings):
    data = polls.NEW_POLL.parse(
        {"title": "Planning", "timezone": "Europe/Berlin", "options": [{"date": "2031-03-10"}]}
    )
    data["options"] = options or [slot(10, 9), slot(10, 14), slot(11, 9)]
    return polls.create(user, {**data, **settings})


def cast(poll, name, values, email=None, tz=""):
    options = list(PollOption.of(poll))
    votes = [{"option_id": o.id, "value": v} for o, v in zip(options, values, strict=False) if v]
    return polls.vote(poll, name, email, votes, tz)


def test_options_are_kept_by_time_when_no_id_is_given(ctx, alice):
    poll = new_poll(alice)
    first, second, third = PollOption.of(poll)
    cast(poll, "Vera", ("yes", "ifneedbe", "no"))

    polls.update(poll, {"options": [slot(11, 9), slot(12, 9), slot(10, 9)]})

    kept = list(PollOption.of(poll))
    assert [o.id for o in kept[:2]] == [first.id, third.id]  # in time order
    assert kept[2].id not in (first.id, second.id, third.id)
    assert [o.position for o in kept] == [0, 1, 2]
    assert {(v["option_id"], v["value"]) for v in poll_results.votes_of(Participant.get())} == {
        (first.id, "yes"),
        (third.id, "no"),
    }


def test_changing_the_kind_replaces_every_option(ctx, alice):
    poll = new_poll(alice)
    cast(poll, "Vera", ("yes", "yes", "yes"))
    polls.update(poll, {"options": [whole(date(2031, 3, 10))]})
    assert [o.day for o in PollOption.of(poll)] == [date(2031, 3, 10)]
    assert poll_results.votes_of(Participant.get()) == []


def test_floating_needs_whole_days_even_when_options_stay(alice):
    poll = new_poll(alice)
    with pytest.raises(PollError) as refused:
        polls.update(poll, {"zone_mode": "floating"})
    assert refused.value.field == "zone_mode"


def test_vote_tokens_are_bound_to_the_poll_and_the_participant(ctx, alice):
    poll, other = new_poll(alice), new_poll(alice)
    vera, otto = cast(poll, "Vera", ("yes",)), cast(other, "Otto", ("yes",))
    token = polls.vote_token(vera, poll)
    assert polls.by_vote_token(poll.public_id, token).id == vera.id
    assert polls.by_vote_token(poll.public_id, token, vera.id).id == vera.id
    for public_id, candidate, participant_id in [
        (other.public_id, token, None),
        (poll.public_id, token, otto.id),
        (poll.public_id, polls.vote_token(otto, other), None),
        (poll.public_id, signing.sign("booking-manage", {"p": poll.public_id, "i": vera.id}), None),
        (poll.public_id, signing.sign("poll-vote", {"p": poll.public_id, "i": "1"}), None),
    ]:
        with pytest.raises(signing.BadToken):
            polls.by_vote_token(public_id, candidate, participant_id)


def test_votes_after_the_deadline_are_refused(ctx, alice):
    poll = new_poll(alice, deadline=datetime.now(UTC) + timedelta(hours=1))
    vera = cast(poll, "Vera", ("yes",))
    poll.deadline = datetime.now(UTC) - timedelta(seconds=1)
    poll.save()
    for attempt in (lambda: cast(poll, "Otto", ("yes",)), lambda: polls.edit_vote(vera, [])):
        with pytest.raises(PollError) as refused:
            attempt()
        assert (refused.value.status, refused.value.code) == (409, "deadline_passed")


def test_a_vote_queues_the_participants_link_and_the_owners_notice(ctx, alice):
    poll = new_poll(alice)
    cast(poll, "Vera", ("yes", "no"), email="vera@example.net", tz="America/New_York")
    mails = {i.payload["to"]: i.payload for i in OutboxItem.select() if i.kind == "mail"}
    assert set(mails) == {"vera@example.net", "alice@example.org"}
    assert "https://cal.example.org/p/" in mails["vera@example.net"]["body"]
    # Each in their own zone: 09:00 UTC is 05:00 in New York and 10:00 in Berlin
    # (the participant's mail in their language: English, 12-hour, unless they chose).
    assert re.search(
        r"Mon, Mar 10, 2031, 5:00\sAM–6:00\sAM: yes", mails["vera@example.net"]["body"]
    )
    assert "Mon 10 Mar 2031, 10:00–11:00: yes" in mails["alice@example.org"]["body"]
    assert "Tue 11 Mar 2031, 10:00–11:00: —" in mails["alice@example.org"]["body"]


def test_a_title_with_line_breaks_still_makes_a_one_line_subject(ctx, alice):
    poll = new_poll(alice, title="Dinner\r\nBcc: x@example.org")
    cast(poll, "Vera", ("yes",), email="vera@example.net")
    subjects = [i.payload["subject"] for i in OutboxItem.select() if i.kind == "mail"]
    assert subjects and all("\n" not in s and "\r" not in s for s in subjects)
