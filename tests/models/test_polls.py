"""calmesh.models.polls: polls, their options, participants, votes and comments."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import peewee as pw
import pytest

from calmesh.db import db
from calmesh.models import Comment, Participant, Poll, PollOption, Vote
from calmesh.models.polls import POLL_STATUSES, VOTE_VALUES, ZONE_MODES, new_public_id
from tests.models.test_calendars import calendar

START = datetime(2030, 3, 12, 9, tzinfo=UTC)


def poll(user, **extra) -> Poll:
    return Poll.create(user=user, title="Lunch", timezone="Europe/Berlin", **extra)


def test_a_new_poll_is_open_in_each_participants_zone_with_comments_and_owner_mail(alice):
    row = Poll.get_by_id(poll(alice).id)

    assert row.status == "open" and row.status in POLL_STATUSES
    assert row.zone_mode == "participant" and row.zone_mode in ZONE_MODES
    assert (row.allow_comments, row.notify_owner, row.hide_participants) == (True, True, False)
    assert row.decided_option_id is None and row.sequence == 0


def test_public_ids_are_random_and_unique(alice):
    first = poll(alice)

    assert len(first.public_id) == 16 and first.public_id != new_public_id()
    with pytest.raises(pw.IntegrityError), db.atomic():
        poll(alice, public_id=first.public_id)


def test_polls_are_listed_per_owner(alice, bob):
    mine, theirs = poll(alice), poll(bob)

    assert list(Poll.for_user(alice)) == [mine]
    assert list(Poll.for_user(bob)) == [theirs]


def test_options_are_whole_days_or_time_slots_in_position_order(alice):
    row = poll(alice)
    third = PollOption.create(poll=row, position=2, start=START, end=START + timedelta(hours=1))
    first = PollOption.create(poll=row, position=0, day=date(2030, 3, 10))
    second = PollOption.create(poll=row, position=1, day=date(2030, 3, 11))

    assert list(PollOption.of(row)) == [first, second, third]
    assert [o.all_day for o in PollOption.of(row)] == [True, True, False]
    assert PollOption.get_by_id(third.id).start == START


def test_participants_and_comments_read_in_the_order_they_came(alice):
    row = poll(alice)
    later = Participant.create(poll=row, name="Later", created_at=START)
    earlier = Participant.create(poll=row, name="Earlier", created_at=START - timedelta(hours=1))
    second = Comment.create(poll=row, name="Bob", body="Fine", created_at=START)
    first = Comment.create(poll=row, name="Eve", body="Hi", created_at=START - timedelta(hours=1))

    assert list(Participant.of(row)) == [earlier, later]
    assert list(Comment.of(row)) == [first, second]
    assert (earlier.email, earlier.timezone, earlier.locale) == ("", "", "en")


def test_one_vote_per_participant_and_option(alice):
    row = poll(alice)
    option = PollOption.create(poll=row, day=date(2030, 3, 10))
    voter = Participant.create(poll=row, name="Bob")
    Vote.create(participant=voter, option=option, value="yes")

    with pytest.raises(pw.IntegrityError), db.atomic():
        Vote.create(participant=voter, option=option, value="no")
    assert VOTE_VALUES == ("yes", "ifneedbe", "no")


def test_deleting_a_poll_removes_everything_in_it(alice):
    row = poll(alice)
    option = PollOption.create(poll=row, day=date(2030, 3, 10))
    voter = Participant.create(poll=row, name="Bob")
    Vote.create(participant=voter, option=option, value="yes")
    Comment.create(poll=row, name="Bob", body="Hi")

    row.delete_instance()

    for model in (PollOption, Participant, Vote, Comment):
        assert not model.select().exists(), model.__name__


def test_deleting_its_calendar_keeps_the_poll(alice):
    work = calendar(alice)
    row = poll(alice, calendar=work)

    work.delete_instance()

    assert Poll.get_by_id(row.id).calendar is None
