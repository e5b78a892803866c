"""Deciding a poll, end to end against real servers: the event is written to the
linked unified calendar's write target on Radicale through the outbox (read
back with a plain CalDAV client, as another application sees it), the
invitation reaches a real SMTP server as METHOD:REQUEST, and reopening the
poll takes the event away again with a METHOD:CANCEL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import caldav
import pytest
from caldav.lib.error import NotFoundError
from flask import current_app

from calmesh.jobs.outbox import process_due
from calmesh.models import OutboxItem, Poll, RemoteCalendar
from calmesh.services import calendars, connections
from tests.providers import conftest as dav_fixtures
from tests.settings import cfg

# The session's Radicale (tests/providers/conftest.py), used here by name.
radicale = dav_fixtures.radicale

START = datetime.combine(date.today() + timedelta(days=9), datetime.min.time(), UTC).replace(
    hour=16
)


@pytest.fixture
def calendar_url(radicale) -> Iterator[str]:
    url = radicale.new_calendar("Polls")
    yield url
    with radicale.client() as client:
        caldav.Calendar(client=client, url=url).delete()


@pytest.fixture
def work(alice, radicale, calendar_url) -> RemoteCalendar:
    """alice's unified calendar "work", whose only (so default write) source is the
    test's calendar on Radicale."""
    connection = connections.create_with_credentials(
        alice,
        "caldav",
        "Radicale",
        radicale.url,
        radicale.username,
        radicale.password,
        settings=cfg(),
    )
    remote = RemoteCalendar.get(
        (RemoteCalendar.connection == connection) & (RemoteCalendar.remote_id == calendar_url)
    )
    unified = calendars.create(alice, "work", "Work", "Europe/Berlin")
    calendars.add_source(unified, connection.id, remote.id)
    return remote


@pytest.fixture
def mail_to(app, smtp_server):
    """Point the app's mail settings at the test's SMTP server."""
    app.config["CALMESH"]._values.update(smtp_server.settings())
    return smtp_server


def at_server(server, calendar_url: str, uid: str):
    with server.client() as client:
        try:
            event = caldav.Calendar(client=client, url=calendar_url).get_event_by_uid(uid)
        except NotFoundError:
            return None
        return event.icalendar_component


def invitations(smtp_server, method: str) -> list[tuple[list[str], str]]:
    """(recipients, calendar text) of each received mail with a text/calendar part."""
    found = []
    for received in smtp_server.messages:
        for part in received.message.walk():
            if part.get_content_type() == "text/calendar" and part.get_param("method") == method:
                found.append((received.rcpt_tos, part.get_content()))
    return found


def settle() -> None:
    """Run the outbox until nothing is due (the scheduler's job, run here by hand)."""
    for _ in range(10):
        if not process_due(current_app):
            break
    failed = [(i.kind, i.last_error) for i in OutboxItem.select() if i.status != "done"]
    assert failed == []


def test_a_decided_poll_is_written_to_radicale_and_mailed_as_a_request(
    api_as, alice, stranger, radicale, calendar_url, work, mail_to
):
    full = api_as(alice, "book")
    made = full.post(
        "/api/v1/polls",
        json={
            "title": "Board meeting",
            "location": "Room 4",
            "timezone": "Europe/Berlin",
            "calendar": "work",
            "options": [
                {"start": START.isoformat(), "end": (START + timedelta(hours=1)).isoformat()},
                {
                    "start": (START + timedelta(days=1)).isoformat(),
                    "end": (START + timedelta(days=1, hours=2)).isoformat(),
                },
            ],
        },
    ).get_json()
    pid, chosen = made["id"], made["options"][1]
    for name, email in (("Vera", "vera@example.net"), ("Otto", None)):
        body = {"name": name, "votes": [{"option_id": chosen["id"], "value": "yes"}]}
        if email:
            body["email"] = email
        assert stranger.post(f"/api/v1/polls/{pid}/votes", json=body).status_code == 201

    decided = full.post(f"/api/v1/polls/{pid}/decide", json={"option_id": chosen["id"]})
    assert decided.status_code == 200, decided.get_json()
    settle()

    uid = f"{pid}@poll.calmesh"
    event = at_server(radicale, calendar_url, uid)
    assert event is not None, "the decided event is at Radicale"
    assert str(event["summary"]) == "Board meeting" and str(event["location"]) == "Room 4"
    assert event["dtstart"].dt == START + timedelta(days=1)
    assert event["dtend"].dt == START + timedelta(days=1, hours=2)
    poll = Poll.get(Poll.public_id == pid)
    assert poll.remote_calendar_id == work.id and poll.remote_href
    # The event counts as busy at once, before the next sync.
    overlap = full.get(f"/api/v1/polls/{pid}/overlap").get_json()
    assert {o["id"]: o["busy"] for o in overlap["options"]} == {
        made["options"][0]["id"]: False,
        chosen["id"]: True,
    }

    requests = invitations(mail_to, "REQUEST")
    assert [to for to, _ in requests] == [["vera@example.net"]]
    ics = requests[0][1]
    assert "METHOD:REQUEST" in ics and f"UID:{uid}" in ics
    assert "ORGANIZER;CN=Alice:mailto:alice@example.org" in ics
    assert "ATTENDEE" in ics and "vera@example.net" in ics

    assert full.post(f"/api/v1/polls/{pid}/reopen").status_code == 200
    settle()

    assert at_server(radicale, calendar_url, uid) is None, "reopening removed the event"
    cancels = invitations(mail_to, "CANCEL")
    assert [to for to, _ in cancels] == [["vera@example.net"]]
    assert f"UID:{uid}" in cancels[0][1] and "SEQUENCE:1" in cancels[0][1]


def test_a_decided_whole_day_is_an_all_day_event(api_as, alice, radicale, calendar_url, work):
    full = api_as(alice, "book")
    day = (START + timedelta(days=3)).date()
    made = full.post(
        "/api/v1/polls",
        json={
            "title": "Offsite",
            "zone_mode": "floating",
            "calendar": "work",
            "options": [{"date": day.isoformat()}, {"date": (day + timedelta(days=1)).isoformat()}],
        },
    ).get_json()

    full.post(f"/api/v1/polls/{made['id']}/decide", json={"option_id": made["options"][0]["id"]})
    settle()

    event = at_server(radicale, calendar_url, f"{made['id']}@poll.calmesh")
    assert event is not None
    assert event["dtstart"].dt == day and event["dtend"].dt == day + timedelta(days=1)
