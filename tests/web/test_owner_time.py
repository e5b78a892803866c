"""Times on the owner's pages and in the owner's mails follow the owner's zone and
clock (web/owner_time.py's filters): the poll list, results and decide pages, the
connection card, the API keys, the mail about a vote. The owner here lives in
Kolkata (UTC+5:30, "IST") on a 12-hour clock, far from the poll's Berlin, so a
time shown in any other zone or clock reads differently."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from flask import render_template_string

from calmesh.auth import apikeys, sessions
from calmesh.models import ApiKey, OutboxItem, PollOption, User
from calmesh.services import polls
from tests.conftest import signed_in_client
from tests.factories import make_connection
from tests.web.test_polls import create, text_of

# 2031-03-10 18:00 UTC: 19:00 in Berlin, 23:30 in Kolkata.
MOMENT = datetime(2031, 3, 10, 18, 0, tzinfo=UTC)


@pytest.fixture
def owner(app, alice):
    return signed_in_client(app, alice)


def far_away(user) -> None:
    User.update(timezone="Asia/Kolkata", clock="12").where(User.id == user.id).execute()


def test_the_filters_use_the_signed_in_owners_habits_and_utc_for_nobody(app, alice):
    template = "{{ t | owner_moment }} · {{ t | owner_stamp }} · {{ owner_span(t, t) }}"
    with app.test_request_context():
        assert render_template_string(template, t=MOMENT).startswith("Mon 10 Mar 2031, 18:00 · ")
        assert render_template_string("{{ none | owner_time }}", none=None) == ""
    far_away(alice)
    with app.test_request_context():
        sessions.sign_in(User.get_by_id(alice.id))
        text = render_template_string(template, t=MOMENT)
    assert text == (
        "Mon 10 Mar 2031, 11:30pm · 2031-03-10 11:30pm IST · Monday, 10 March 2031, 11:30pm–11:30pm"
    )


def test_the_poll_pages_and_the_vote_mail_show_the_owners_zone_and_clock(owner, alice):
    # Made in Berlin: 19:00-21:00 there, the deadline at noon there (11:00 UTC).
    poll = create(owner, deadline="2031-03-01T12:00")
    far_away(alice)
    listed = text_of(owner.get("/polls"))
    assert "Sat 01 Mar 2031, 4:30pm" in listed and "12:00" not in listed
    results = text_of(owner.get(f"/polls/{poll.public_id}"))
    assert "11:30pm–1:30am (+1d)" in results  # 18:00-20:00 UTC, across Kolkata's midnight
    assert "19:00" not in results and "in your zone, Asia/Kolkata" in results
    assert "Sat 01 Mar 2031, 4:30pm" in results
    first = PollOption.of(poll).first()
    asked = text_of(owner.get(f"/polls/{poll.public_id}/decide?option_id={first.id}"))
    assert "Mon 10 Mar 2031, 11:30pm–1:30am (+1d)" in asked and "(Asia/Kolkata)" in asked
    polls.vote(poll, "Vera", "", [{"option_id": first.id, "value": "yes"}])
    to_owner = [
        i.payload["body"]
        for i in OutboxItem.select()
        if i.kind == "mail" and i.payload["to"] == alice.email
    ]
    assert len(to_owner) == 1 and "Mon 10 Mar 2031, 11:30pm–1:30am (+1d): yes" in to_owner[0]


def test_the_connection_card_shows_the_last_sync_on_the_owners_clock(owner, alice):
    connection = make_connection(alice)
    connection.last_sync_at = MOMENT
    connection.save()
    far_away(alice)
    card = text_of(owner.get("/connections"))
    assert "Mon 10 Mar 2031, 11:30pm" in card and "18:00 UTC" not in card


def test_the_api_keys_show_created_last_used_and_expiry_on_the_owners_clock(owner, alice):
    row, _ = apikeys.create(alice, "cli", "read")
    ApiKey.update(created_at=MOMENT, last_used_at=MOMENT, expires_at=MOMENT).where(
        ApiKey.id == row.id
    ).execute()
    far_away(alice)
    listed = text_of(owner.get("/api-keys"))
    assert listed.count("2031-03-10 11:30pm IST") == 3
    assert "UTC" not in listed
