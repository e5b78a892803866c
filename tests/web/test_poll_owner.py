"""The owner's poll pages the Rallly way: "Decide" asks first and whether to notify,
the decided option stands out, comments show, a poll can be duplicated, and the
editor's error summary links to the field it names."""

from __future__ import annotations

import re

import pytest

from calmesh.models import OutboxItem, Poll, PollOption
from calmesh.services import polls, write_backs
from tests.conftest import CSRF, signed_in_client
from tests.services.test_write_backs import a_poll, decided, run_write_backs
from tests.web.test_booking_detail import fake_provider
from tests.web.test_polls import FORM, create, text_of


@pytest.fixture
def owner(app, alice):
    return signed_in_client(app, alice)


def mails() -> int:
    return OutboxItem.select().where(OutboxItem.kind == "mail").count()


def voted(poll: Poll, name: str = "Vera") -> None:
    first = PollOption.of(poll).first()
    polls.vote(poll, name, f"{name.lower()}@example.net", [{"option_id": first.id, "value": "yes"}])


def test_pick_asks_first_and_names_the_option_and_who_is_told(owner):
    poll = create(owner)
    voted(poll)
    option = PollOption.of(poll).first()
    body = text_of(owner.get(f"/polls/{poll.public_id}"))
    ask = f"/polls/{poll.public_id}/decide?option_id={option.id}"
    assert f'href="{ask}"' in body  # "Pick" is a link to the question, not a POST
    page = text_of(owner.get(ask))
    assert "Decide on this time?" in page and "Mon 10 Mar 2031, 19:00–21:00" in page
    assert "the 1 participant who gave an address" in page and "1 yes, 0 if need be, 0 no" in page
    assert Poll.get_by_id(poll.id).decided_option_id is None, "asking decides nothing"


def decide_by_form(owner, notify: str) -> tuple[Poll, PollOption, int]:
    """A poll with one vote decided on its first option; the mails queued before."""
    poll = create(owner)
    voted(poll)
    before = mails()
    option = PollOption.of(poll).first()
    owner.post(
        f"/polls/{poll.public_id}/decide",
        data={"option_id": str(option.id), "notify": notify, "csrf_token": CSRF},
    )
    return poll, option, before


def test_deciding_without_notifying_sends_no_invitation(owner):
    poll, option, before = decide_by_form(owner, notify="0")
    assert Poll.get_by_id(poll.id).decided_option_id == option.id
    assert mails() == before
    assert "Nobody was e-mailed" in text_of(owner.get(f"/polls/{poll.public_id}"))


def test_deciding_and_notifying_invites_the_participants(owner):
    _, _, before = decide_by_form(owner, notify="1")
    invitation = OutboxItem.select().where(OutboxItem.kind == "mail").order_by(OutboxItem.id.desc())
    assert mails() == before + 1 and invitation.get().payload["to"] == "vera@example.net"


def test_an_option_of_another_poll_cannot_be_asked_about(owner):
    poll, other = create(owner), create(owner, title="Other")
    foreign = PollOption.of(other).first()
    assert owner.get(f"/polls/{poll.public_id}/decide?option_id={foreign.id}").status_code == 404
    assert owner.get(f"/polls/{poll.public_id}/decide?option_id=x").status_code == 400


def test_the_decided_option_stands_out_and_best_marks_step_back(owner):
    poll = create(owner)
    voted(poll)
    last = PollOption.of(poll).order_by(PollOption.position.desc()).first()
    polls.decide(poll, last.id)
    body = text_of(owner.get(f"/polls/{poll.public_id}"))
    assert "Decided: Wed 12 Mar 2031, 18:30–20:00" in body  # the banner
    assert 'class="poll-grid heat-map has-decision"' in body
    assert body.count("decided-col") == 1 and ">Best<" not in body
    assert "Pick instead" in body


def test_comments_are_shown_to_the_owner(owner):
    poll = create(owner)
    polls.comment(poll, "Vera", "Thursday <b>suits</b> me")
    body = owner.get(f"/polls/{poll.public_id}").get_data(as_text=True)
    comments = body.split('id="comments-title"')[1].split("</section>")[0]
    assert "Vera" in comments and "Thursday &lt;b&gt;suits&lt;/b&gt; me" in comments


def test_duplicate_fills_the_editor_with_the_poll_and_leaves_the_votes(owner):
    poll = create(owner)
    voted(poll)
    body = text_of(owner.get(f"/polls/new?from={poll.public_id}"))
    assert 'value="Team dinner (copy)"' in body
    assert "2031-03-10 19:00-21:00" in body and "2031-03-12 18:30-20:00" in body
    made = owner.post(f"/polls/new?from={poll.public_id}", data={**FORM, "title": "Dinner 2"})
    assert made.status_code == 302
    copy = Poll.get(Poll.title == "Dinner 2")
    assert copy.id != poll.id and copy.participants.count() == 0


def test_duplicating_another_owners_poll_is_not_found(owner, bob):
    theirs = polls.create(
        bob, polls.NEW_POLL.parse({"title": "Bob's", "options": [{"date": "2031-01-01"}]})
    )
    assert owner.get(f"/polls/new?from={theirs.public_id}").status_code == 404


def test_the_error_summary_links_each_problem_to_its_field(owner):
    response = owner.post(
        "/polls/new", data={**FORM, "title": "", "options": "tomorrow", "deadline": "soon"}
    )
    assert response.status_code == 400
    body = text_of(response)
    summary = body.split('class="card error-summary"')[1].split("</div>")[0]
    links = re.findall(r'<a href="#([^"]+)">([^<]+)</a>', summary)
    assert [anchor for anchor, _ in links] == ["f-title", "options-field", "f-deadline"]
    assert links[0][1].startswith("Title: ") and "line 1" in links[1][1]
    for anchor, _ in links:
        assert f'id="{anchor}"' in body


# --- a decided poll's failed calendar write-back -------------------------------------------


@pytest.fixture
def provider(monkeypatch):
    return fake_provider(monkeypatch)


def failed_poll(app, alice, provider) -> Poll:
    provider.fail = "the server refused the credentials"
    poll = decided(app, a_poll(alice))
    run_write_backs(app)
    return poll


def test_a_polls_failed_write_back_shows_on_the_poll_overview_and_calendar_until_retried(
    app, owner, alice, provider
):
    poll = failed_poll(app, alice, provider)
    detail = text_of(owner.get(f"/polls/{poll.public_id}"))
    assert "Not in your calendar." in detail and "the server refused the credentials" in detail
    assert f'action="/polls/{poll.public_id}/write-back/retry"' in detail
    home = text_of(owner.get("/dashboard"))
    assert "Decided poll not written to your calendar:" in home and "Offsite" in home
    assert "1 decided poll could not be written" in text_of(owner.get("/calendars/work"))

    provider.fail = None
    retried = owner.post(f"/polls/{poll.public_id}/write-back/retry", data={"csrf_token": CSRF})
    assert retried.status_code == 302
    assert "Queued again for your calendar." in text_of(owner.get(retried.location))
    run_write_backs(app)
    detail = text_of(owner.get(f"/polls/{poll.public_id}"))
    assert "Not in your calendar." not in detail and "In <strong>Dav 0</strong> (Dav)" in detail
    assert "Decided poll not written" not in text_of(owner.get("/dashboard"))
    again = owner.post(f"/polls/{poll.public_id}/write-back/retry", data={"csrf_token": CSRF})
    said = text_of(owner.get(again.location))
    assert "Nothing changed: this poll's calendar write-back has not failed." in said


def test_dismissing_a_polls_failure_hides_it_but_keeps_it_stated_with_a_retry(
    app, owner, alice, provider
):
    poll = failed_poll(app, alice, provider)
    url = f"/polls/{poll.public_id}/write-back"
    done = owner.post(f"{url}/dismiss", data={"csrf_token": CSRF}, follow_redirects=True)
    body = text_of(done)
    assert "Failure dismissed." in body and "Not in your calendar." not in body
    assert "(dismissed)" in body  # still stated, with a Retry, in "Your calendar"
    assert "Decided poll not written" not in text_of(owner.get("/dashboard"))


def test_bob_cannot_retry_or_dismiss_alices_poll_write_back(app, alice, bob, provider):
    poll = failed_poll(app, alice, provider)
    bobs = signed_in_client(app, bob)
    for action in ("retry", "dismiss"):
        answer = bobs.post(
            f"/polls/{poll.public_id}/write-back/{action}", data={"csrf_token": CSRF}
        )
        assert answer.status_code == 404
    assert write_backs.state_of(Poll.get_by_id(poll.id)).shows_failure
