"""calmesh.effects.poll_writeback (kind ``poll.writeback``): a decided poll's
event in its linked calendar at a real Radicale, moved when decided again,
removed when the decision is withdrawn; a poll without a calendar queues
nothing."""

from __future__ import annotations

from calmesh.effects import poll_writeback
from calmesh.jobs import outbox as jobs_outbox
from calmesh.models import OutboxItem, Poll, PollOption
from calmesh.services import polls
from tests.effects.conftest import events_at
from tests.services import test_polls
from tests.services.test_polls import cast, new_poll

# The votes' signed links are built on the instance's URL (a fixture, used by name).
ctx = test_polls.ctx


def test_a_decision_is_written_moved_and_withdrawn(ctx, alice, dav_work, deliver_due):
    _calendar, url, radicale = dav_work
    poll = new_poll(alice, calendar="work")
    first, second, _ = PollOption.of(poll)
    polls.decide(poll, first.id, notify=False)
    deliver_due()
    (event,) = events_at(radicale, url)
    assert str(event["UID"]) == poll.public_id + "@poll.calmesh"
    assert event.decoded("DTSTART") == first.start

    polls.decide(Poll.get_by_id(poll.id), second.id, notify=False)
    deliver_due()
    (moved,) = events_at(radicale, url)
    assert moved.decoded("DTSTART") == second.start and int(moved["SEQUENCE"]) == 1

    polls.reopen(Poll.get_by_id(poll.id))
    deliver_due()
    assert events_at(radicale, url) == []
    assert Poll.get_by_id(poll.id).remote_href is None
    kinds = [i.kind for i in OutboxItem.select() if i.kind == poll_writeback.KIND]
    assert len(kinds) == 3


def test_deciding_without_a_calendar_writes_nothing_back(app, ctx, alice):
    poll = new_poll(alice)
    cast(poll, "Otto", ("yes",))
    OutboxItem.delete().execute()
    polls.decide(poll, PollOption.of(poll).first().id)
    assert [i.kind for i in OutboxItem.select()] == []  # Otto gave no address
    context = jobs_outbox.context(app)
    poll_writeback.deliver({"poll": poll.public_id}, context)  # nothing to do, and no error
    poll_writeback.deliver({"poll": "gone"}, context)
