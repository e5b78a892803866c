"""calmesh.engine.calendar_links: "add to calendar" addresses that open Google's
and Outlook's new-event form prefilled, in UTC for timed events and with an
exclusive end date for all-day ones."""

from __future__ import annotations

from datetime import date, datetime
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

from calmesh.engine.calendar_links import GOOGLE, OFFICE, OUTLOOK, links_for
from calmesh.engine.ical import EventDraft

BERLIN = ZoneInfo("Europe/Berlin")


def query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def draft(**extra) -> EventDraft:
    values = {
        "uid": "b1@calmesh",
        "summary": "Intro call: Vera & Co",
        "start": datetime(2026, 7, 1, 9, 0, tzinfo=BERLIN),
        "end": datetime(2026, 7, 1, 9, 30, tzinfo=BERLIN),
        "description": "Booked via CalMesh.\nSee you?",
        **extra,
    }
    return EventDraft(**values)


def test_a_timed_event_goes_to_google_in_utc():
    links = links_for(draft(location="Room 1"), "https://cal.example.org/b/1.ics")
    assert links.google.startswith(GOOGLE + "?")
    q = query(links.google)
    assert q == {
        "action": "TEMPLATE",
        "text": "Intro call: Vera & Co",
        "dates": "20260701T070000Z/20260701T073000Z",
        "details": "Booked via CalMesh.\nSee you?",
        "location": "Room 1",
    }
    assert links.ics == "https://cal.example.org/b/1.ics"


def test_outlook_and_office_get_the_same_prefilled_form():
    links = links_for(draft(), "x.ics")
    assert links.outlook.startswith(OUTLOOK + "?") and links.office.startswith(OFFICE + "?")
    q = query(links.outlook)
    assert q == query(links.office)
    assert q["startdt"] == "2026-07-01T07:00:00Z" and q["enddt"] == "2026-07-01T07:30:00Z"
    assert q["subject"] == "Intro call: Vera & Co" and q["body"].startswith("Booked")
    assert "allday" not in q and "location" not in q, "nothing said when there is none"


def test_an_all_day_event_has_dates_and_an_exclusive_end():
    links = links_for(draft(start=date(2026, 7, 1), end=date(2026, 7, 3)), "x.ics")
    assert query(links.google)["dates"] == "20260701/20260703"
    q = query(links.outlook)
    assert (q["startdt"], q["enddt"], q["allday"]) == ("2026-07-01", "2026-07-03", "true")


def test_a_long_description_is_cut_to_keep_the_address_usable():
    links = links_for(draft(description="x" * 5000), "x.ics")
    assert len(query(links.google)["details"]) == 1500
    assert len(query(links.outlook)["body"]) == 1500
    assert len(links.google) < 2000
