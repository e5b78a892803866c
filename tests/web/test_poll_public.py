"""calmesh.web.poll_public: the public poll page over HTTP (vote, edit through
the link, comments, privacy, a closed poll or a passed deadline, caches) and
the decided poll's .ics, rendered by the app without a browser."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import icalendar

from calmesh.models import Participant, Poll, PollOption, Vote
from calmesh.services import polls
from tests.web import test_polls as shared
from tests.web.test_polls import cast, create, public_form, text_of

# The owner signed in to the dashboard (a fixture, used by name).
owner = shared.owner


def test_voting_on_the_page_then_changing_it_through_the_edit_link(app, owner):
    poll = create(owner)
    client = app.test_client()

    response = cast(client, poll, "Vera", ["yes", "ifneedbe", "no"], email="vera@example.net")

    assert response.status_code == 303
    link = response.headers["Location"]
    assert "token=" in link and "tz=Europe" in link
    participant = Participant.get()
    assert (participant.name, participant.email, participant.timezone) == (
        "Vera",
        "vera@example.net",
        "Europe/Berlin",
    )
    token = re.search(r"token=([^&]+)", link).group(1)
    page = text_of(client.get(link))
    assert "Your vote is saved" in page and "Your edit link" in page
    assert "Change your vote" in page and "(you)" in page

    fresh = app.test_client()  # another browser: only the link
    changed = cast(fresh, poll, "Vera K.", ["no", "yes", "yes"], token=token)

    assert changed.status_code == 303
    assert Participant.select().count() == 1
    assert Participant.get().name == "Vera K."
    assert sorted(v.value for v in Vote.select()) == ["no", "yes", "yes"]


def test_a_vote_without_a_name_shows_the_form_again(app, owner):
    poll = create(owner)
    response = cast(app.test_client(), poll, " ", ["yes"], email="vera@example.net")
    assert response.status_code == 400
    body = text_of(response)
    assert "Please enter your name." in body and 'value="vera@example.net"' in body
    assert Participant.select().count() == 0


def test_a_bad_edit_link_is_refused_but_the_poll_stays_readable(app, owner):
    poll = create(owner)
    response = app.test_client().get(f"/p/{poll.public_id}?token=forged")
    assert response.status_code == 403
    body = text_of(response)
    assert "Your edit link does not work" in body and "Team dinner" in body
    assert app.test_client().get("/p/unknown-poll").status_code == 404


def test_hidden_participants_and_emails_stay_off_the_public_page(app, owner):
    poll = create(owner, hide_participants="1")
    client = app.test_client()
    vera = cast(client, poll, "Vera Hidden", ["yes"], email="vera@example.net")
    cast(app.test_client(), poll, "Otto Hidden", ["yes", "no"], email="otto@example.net")

    anonymous = text_of(app.test_client().get(f"/p/{poll.public_id}"))
    as_vera = text_of(client.get(vera.headers["Location"]))

    for body in (anonymous, as_vera):
        assert "Otto Hidden" not in body and "@example.net" not in body
        assert "keeps participants private" in body
    assert "Vera Hidden" not in anonymous and "Vera Hidden" in as_vera


def test_a_closed_poll_shows_results_but_no_vote_form(app, owner):
    poll = create(owner)
    cast(app.test_client(), poll, "Vera", ["yes"])
    polls.close(poll)
    body, csrf = public_form(app.test_client(), poll)
    assert "This poll is closed" in body and "Vera" in body and "Save my vote" not in body
    refused = app.test_client()
    _, csrf = public_form(refused, poll)
    response = refused.post(f"/p/{poll.public_id}", data={"csrf_token": csrf, "name": "Late"})
    assert response.status_code == 409 and "closed" in text_of(response)


def test_the_page_shows_options_in_the_chosen_zone_unless_locked(app, owner):
    poll = create(owner)
    client = app.test_client()
    shown = text_of(client.get(f"/p/{poll.public_id}?tz=America/New_York&clock=24"))
    assert "14:00–16:00" in shown and "data-poll-detect" not in shown
    assert "data-poll-detect" in text_of(client.get(f"/p/{poll.public_id}"))
    Poll.update(zone_mode="locked").execute()
    locked = text_of(client.get(f"/p/{poll.public_id}?tz=America/New_York&clock=24"))
    assert "19:00–21:00" in locked and "the poll's zone" in locked
    # A locked zone still lets the participant pick the clock.
    assert 'name="tz"' not in locked.split('id="poll-results"')[0]
    assert 'id="poll-clock-24" name="clock" value="24" checked' in locked
    twelve = text_of(client.get(f"/p/{poll.public_id}?clock=12"))
    assert "7:00 PM–9:00 PM" in twelve and 'value="12" checked' in twelve


def test_the_zoned_pieces_come_alone_for_the_script_without_the_zone_list(app, owner):
    poll = create(owner)
    cast(app.test_client(), poll, "Vera", ["yes", "no"])
    client = app.test_client()
    page = client.get(f"/p/{poll.public_id}?clock=24")
    pieces = client.get(
        f"/p/{poll.public_id}?tz=America/New_York&clock=24", headers={"HX-Request": "true"}
    )
    assert pieces.status_code == 200 and "HX-Request" in pieces.headers["Vary"]
    body = text_of(pieces)
    assert "<html" not in body and 'value="Africa/Abidjan"' not in body
    assert 'value="Africa/Abidjan"' in text_of(page)
    # The booker's zone list: the common zones first, then grouped by region.
    zone_list = text_of(page).split('id="poll-tz"')[1].split("</select>")[0]
    first_group = r'^ name="tz">\s*<optgroup label="[^"]+"><option value="America/Los_Angeles"'
    assert re.search(first_group, zone_list)
    assert '<optgroup label="Europe">' in zone_list
    for piece in ("poll-head", "poll-results", "poll-vote", "comments"):
        assert f'id="{piece}"' in body and f'id="{piece}"' in text_of(page)
    # In the asked zone, down to the vote form's hidden zone.
    assert "14:00–16:00" in body and 'name="tz" value="America/New_York"' in body
    assert len(pieces.data) < len(page.data) / 2


def words(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub("<[^>]+>", " ", html))


def test_each_option_is_a_row_with_its_tally_and_who_answered(app, owner):
    poll = create(owner)
    cast(app.test_client(), poll, "Vera", ["yes", "ifneedbe"])
    cast(app.test_client(), poll, "Walt", ["no"])
    # While it takes votes, the phone's one list is the vote form: each option once,
    # with its tally, its answer buttons and who answered what.
    body = text_of(app.test_client().get(f"/p/{poll.public_id}?tz=Europe/Berlin"))
    assert 'class="poll-list"' not in body and 'href="#poll-vote"' in body
    rows = re.findall(r'<fieldset class="poll-choice">(.*?)</fieldset>', body, re.S)
    assert len(rows) == 3
    first, second, third = (words(r) for r in rows)
    assert "✓ yes 1 ~ if need be 0 ✗ no 1 ✓ Yes ~ If need be ✗ No" in first
    assert "Who answered what ✓ yes Vera ✗ no Walt" in first
    # Walt left the second and both the third untouched: "no answer", not "no".
    assert "if need be 1 · no answer 1 " in second and "no answer Walt" in second
    assert "yes 0 ~ if need be 0 · no answer 2 " in third
    assert "· no answer Vera · no answer Walt" in third
    # Closed, the list stands alone under the results.
    polls.close(poll)
    body = text_of(app.test_client().get(f"/p/{poll.public_id}?tz=Europe/Berlin"))
    rows = re.findall(r'<li class="poll-item[^"]*">(.*?)</ul>\s*</li>', body, re.S)
    assert len(rows) == 3 and "poll-choice" not in body
    assert "✓ yes 1 ~ if need be 0 ✗ no 1 ✓ yes Vera ✗ no Walt" in words(rows[0])


def test_comments_from_the_page(app, owner):
    poll = create(owner)
    client = app.test_client()
    _, csrf = public_form(client, poll)
    posted = client.post(
        f"/p/{poll.public_id}/comments",
        data={"csrf_token": csrf, "name": "Ida", "body": "<b>Hi</b>"},
    )
    assert posted.status_code == 303 and posted.headers["Location"].endswith("#comments")
    raw = client.get(f"/p/{poll.public_id}").get_data(as_text=True)
    assert "&lt;b&gt;Hi&lt;/b&gt;" in raw and "<b>Hi</b>" not in raw
    empty = client.post(f"/p/{poll.public_id}/comments", data={"csrf_token": csrf, "name": "Ida"})
    assert empty.status_code == 400 and "Please write a comment." in text_of(empty)


def test_public_posts_need_the_csrf_token(app, owner):
    poll = create(owner)
    client = app.test_client()
    assert client.post(f"/p/{poll.public_id}", data={"name": "Vera"}).status_code == 403
    assert Participant.select().count() == 0


def test_the_edit_link_page_is_kept_out_of_caches(app, owner):
    poll = create(owner)
    response = app.test_client().get(f"/p/{poll.public_id}")
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Referrer-Policy"] == "no-referrer"


def test_a_deadline_in_the_past_closes_voting_on_the_page(app, owner):
    poll = create(owner, deadline=(datetime.now() + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M"))
    assert poll.deadline is not None
    Poll.update(deadline=datetime.now(UTC) - timedelta(minutes=1)).execute()
    body, _ = public_form(app.test_client(), poll)
    assert "The deadline has passed" in body and "Save my vote" not in body


def test_an_unknown_poll_is_404(app):
    assert app.test_client().get("/p/no-such-poll").status_code == 404


def test_the_decided_event_is_downloadable_and_nothing_before(app, owner):
    poll = create(owner)
    client = app.test_client()
    assert client.get(f"/p/{poll.public_id}/event.ics").status_code == 404
    first = PollOption.of(poll).first()
    with app.test_request_context():
        polls.decide(poll, first.id, notify=False)
    answer = client.get(f"/p/{poll.public_id}/event.ics")
    assert answer.status_code == 200 and answer.mimetype == "text/calendar"
    (event,) = icalendar.Calendar.from_ical(answer.data).walk("VEVENT")
    assert str(event["SUMMARY"]) == "Team dinner"
    assert event.decoded("DTSTART") == first.start
