"""The dashboard's poll pages (create and edit by form, the heat-map, decide,
close/reopen, CSV), rendered by the app without a browser. (The public poll
page: tests/web/test_poll_public.py.)"""

from __future__ import annotations

import csv
import html
import io
import re
from datetime import UTC, datetime

import pytest

from calmesh.models import Poll, PollOption, Vote
from tests.conftest import CSRF, signed_in_client


@pytest.fixture
def owner(app, alice):
    return signed_in_client(app, alice)


def text_of(response) -> str:
    return html.unescape(response.get_data(as_text=True))


FORM = {
    "title": "Team dinner",
    "description": "Somewhere nice",
    "location": "Berlin",
    "timezone": "Europe/Berlin",
    "zone_mode": "participant",
    "duration": "90",
    "options": "2031-03-10 19:00-21:00\n2031-03-11 19:00\n\n2031-03-12 18:30 - 20:00\n",
    "deadline": "",
    "calendar": "",
    "allow_comments": "1",
    "notify_owner": "1",
    "csrf_token": CSRF,
}


def create(owner, **changes) -> Poll:
    response = owner.post("/polls/new", data={**FORM, **changes})
    assert response.status_code == 302, text_of(response)
    return Poll.select().order_by(Poll.id.desc()).get()


def public_form(client, poll: Poll, token: str = "") -> tuple[str, str]:
    """The public page, and the CSRF token of the visitor's fresh session."""
    page = client.get(f"/p/{poll.public_id}" + (f"?token={token}" if token else ""))
    assert page.status_code == 200
    body = text_of(page)
    return body, re.search(r'name="csrf_token" value="([^"]+)"', body).group(1)


def cast(client, poll: Poll, name: str, values: list[str], email: str = "", token: str = ""):
    _, csrf = public_form(client, poll, token)
    data = {"csrf_token": csrf, "name": name, "email": email, "tz": "Europe/Berlin"}
    if token:
        data["token"] = token
    for option, value in zip(PollOption.of(poll), values, strict=False):
        data[f"vote-{option.id}"] = value
    return client.post(f"/p/{poll.public_id}", data=data)


# --- the dashboard ---------------------------------------------------------------------------


def test_the_form_creates_a_poll_from_lines_in_its_zone(owner):
    poll = create(owner)
    options = list(PollOption.of(poll))
    assert [(o.start, o.end) for o in options] == [
        (datetime(2031, 3, 10, 18, tzinfo=UTC), datetime(2031, 3, 10, 20, tzinfo=UTC)),
        (datetime(2031, 3, 11, 18, tzinfo=UTC), datetime(2031, 3, 11, 19, 30, tzinfo=UTC)),
        (datetime(2031, 3, 12, 17, 30, tzinfo=UTC), datetime(2031, 3, 12, 19, tzinfo=UTC)),
    ]
    assert (poll.title, poll.location, poll.duration, poll.timezone) == (
        "Team dinner",
        "Berlin",
        90,
        "Europe/Berlin",
    )
    assert poll.allow_comments and poll.notify_owner and not poll.hide_participants
    listing = text_of(owner.get("/polls"))
    assert "Team dinner" in listing and f"/polls/{poll.public_id}" in listing


def test_whole_days_float_from_the_form(owner):
    poll = create(owner, options="2031-03-10\n2031-03-11", zone_mode="floating", duration="")
    assert [o.day.isoformat() for o in PollOption.of(poll)] == ["2031-03-10", "2031-03-11"]
    assert poll.zone_mode == "floating"


@pytest.mark.parametrize(
    "changes,message",
    [
        ({"options": "2031-03-10 19:00-21:00\nnext tuesday"}, "line 2 (“next tuesday”)"),
        ({"options": "2031-02-30"}, "line 1"),
        ({"options": ""}, "Options: needs at least 1 item"),
        (
            {"options": "2031-03-10\n2031-03-11 09:00-10:00"},
            "must all be whole days or all time slots",
        ),
        ({"title": ""}, "Title is required"),
        ({"deadline": "2001-01-01T10:00"}, "the deadline must be in the future"),
        ({"zone_mode": "floating"}, "only a poll of whole days can float"),
    ],
)
def test_form_errors_keep_the_input_and_save_nothing(owner, changes, message):
    response = owner.post("/polls/new", data={**FORM, **changes})
    assert response.status_code == 400
    body = text_of(response)
    assert message in body
    assert Poll.select().count() == 0
    assert FORM["description"] in body


def test_editing_keeps_the_votes_of_lines_that_stay(app, owner):
    poll = create(owner)
    client = app.test_client()
    cast(client, poll, "Vera", ["yes", "ifneedbe", "no"])
    form = text_of(owner.get(f"/polls/{poll.public_id}/edit"))
    lines = re.search(r'name="options"[^>]*>([^<]*)</textarea>', form).group(1).splitlines()
    assert lines == ["2031-03-10 19:00-21:00", "2031-03-11 19:00-20:30", "2031-03-12 18:30-20:00"]

    response = owner.post(
        f"/polls/{poll.public_id}/edit",
        data={**FORM, "options": "\n".join([lines[0], lines[2], "2031-03-13 19:00"])},
    )

    assert response.status_code == 302
    values = {(v.option.start.day, v.value) for v in Vote.select()}
    assert values == {(10, "yes"), (12, "no")}
    assert PollOption.select().count() == 3


def test_the_heat_map_puts_the_best_option_first_and_names_everyone(app, owner):
    poll = create(owner, hide_participants="1")
    # Two people, two browsers (one browser coming back is the same participant).
    cast(app.test_client(), poll, "Vera", ["no", "yes", "ifneedbe"], email="vera@example.net")
    cast(app.test_client(), poll, "Otto", ["ifneedbe", "yes", "ifneedbe"])

    body = text_of(owner.get(f"/polls/{poll.public_id}"))

    grid = body[body.index('id="heat-map"') :]
    headings = re.findall(r'<span class="opt-day">(\d+)</span>', grid)
    assert headings == ["11", "12", "10"]  # scores 4, 2, 1
    assert re.search(r'class="opt heat-4 best"', grid)
    assert "Vera" in grid and "Otto" in grid and "vera@example.net" in grid
    assert f"/p/{poll.public_id}" in body


def test_deciding_from_the_dashboard_closes_the_poll(app, owner):
    poll = create(owner)
    chosen = PollOption.of(poll).first()
    response = owner.post(
        f"/polls/{poll.public_id}/decide", data={"option_id": str(chosen.id), "csrf_token": CSRF}
    )
    assert response.status_code == 302
    fresh = Poll.get_by_id(poll.id)
    assert (fresh.status, fresh.decided_option_id) == ("closed", chosen.id)
    body = text_of(owner.get(f"/polls/{poll.public_id}"))
    assert "decided" in body and "✓ picked" in body
    public = text_of(app.test_client().get(f"/p/{poll.public_id}"))
    assert "It is decided:" in public and "Your vote" not in public


def test_close_and_reopen_from_the_dashboard(owner):
    poll = create(owner)
    owner.post(f"/polls/{poll.public_id}/close", data={"csrf_token": CSRF})
    assert Poll.get_by_id(poll.id).status == "closed"
    owner.post(f"/polls/{poll.public_id}/close", data={"csrf_token": CSRF})
    assert "Nothing changed: the poll is already closed." in text_of(
        owner.get(f"/polls/{poll.public_id}")
    )
    owner.post(f"/polls/{poll.public_id}/reopen", data={"csrf_token": CSRF})
    assert Poll.get_by_id(poll.id).status == "open"


def test_csv_export_from_the_dashboard(app, owner):
    poll = create(owner)
    cast(app.test_client(), poll, "@cmd", ["yes"], email="vera@example.net")
    response = owner.get(f"/polls/{poll.public_id}/export.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0] == [
        "Participant",
        "E-mail",
        "Mon 10 Mar 2031, 19:00–21:00",
        "Tue 11 Mar 2031, 19:00–20:30",
        "Wed 12 Mar 2031, 18:30–20:00",
    ]
    assert rows[1] == ["'@cmd", "vera@example.net", "yes", "", ""]


def test_another_owner_gets_404_everywhere(app, owner, bob):
    poll = create(owner)
    other = signed_in_client(app, bob)
    for path in ("", "/edit", "/export.csv"):
        assert other.get(f"/polls/{poll.public_id}{path}").status_code == 404, path
    for path in ("/decide", "/close", "/reopen", "/delete"):
        response = other.post(
            f"/polls/{poll.public_id}{path}", data={"csrf_token": CSRF, "option_id": "1"}
        )
        assert response.status_code == 404, path
    assert "Team dinner" not in text_of(other.get("/polls"))
    assert Poll.get_by_id(poll.id).status == "open"


def test_delete_from_the_dashboard(owner):
    poll = create(owner)
    assert (
        owner.post(f"/polls/{poll.public_id}/delete", data={"csrf_token": CSRF}).status_code == 302
    )
    assert Poll.select().count() == 0


def test_the_participants_language_is_chosen_in_the_editor(owner):
    from calmesh.inputs.polls import SETTINGS

    blank = text_of(owner.get("/polls/new"))
    assert re.findall(r'<option value="([a-z]{2})" lang="\1"', blank) == list(
        SETTINGS["language"].values
    )
    poll = create(owner, language="fr")
    assert poll.language == "fr"
    edit = text_of(owner.get(f"/polls/{poll.public_id}/edit"))
    assert '<option value="fr" lang="fr" selected>Français' in edit
    assert (
        owner.post(f"/polls/{poll.public_id}/edit", data={**FORM, "language": "de"}).status_code
        == 302
    )
    assert Poll.get_by_id(poll.id).language == "de"
    refused = owner.post("/polls/new", data={**FORM, "language": "xx"})
    assert refused.status_code == 400
    page = text_of(refused)
    assert (
        '<a href="#f-language">Participants\' language: must be one of en, de, fr, es</a>' in page
    )
