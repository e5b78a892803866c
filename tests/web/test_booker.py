"""The booker on its own: its state read from a query string, its links, and the
month it shows, filled from the services' slots (no ISO text parsed back)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from calmesh.schema import iso
from calmesh.services import public_booking
from calmesh.web import booker as booker_module
from calmesh.web.booker import Booker, clock_time, minutes_label, span, zone_groups
from tests.web.test_public_booking import make_page


def read(page, values, **kw):
    return Booker.read(
        page, "public.booking_page", {"handle": "alice", "slug": page.slug}, values, **kw
    )


def test_formatting_in_either_clock_and_zone():
    moment = datetime(2030, 3, 4, 13, 5, tzinfo=UTC)
    assert clock_time(moment, "24") == "13:05"
    assert clock_time(moment, "12") == "1:05pm"
    assert span(moment, moment + timedelta(minutes=30), "Europe/Berlin", "24") == (
        "Monday, 4 March 2030, 14:05–14:35"
    )
    assert (minutes_label(30), minutes_label(60), minutes_label(90)) == (
        "30 min",
        "1 h",
        "1 h 30 min",
    )


def test_every_zone_is_offered_once_common_ones_first():
    groups = zone_groups()
    assert groups[0][0] == "Common" and "UTC" in groups[0][1]
    listed = [zone for _, zones in groups for zone in zones]
    assert len(listed) == len(set(listed)) == len(booker_module.zones())


def test_bad_state_falls_back_and_links_keep_the_rest(app, alice):
    page = make_page(alice)
    with app.test_request_context("/alice/intro?embed=1"):
        b = read(
            page,
            {
                "tz": "Mars/Base",
                "clock": "13",
                "duration": "45",
                "date": "2030-02-30",
                "start": "x",
            },
            zone="Europe/Berlin",
        )
        assert (b.tz, b.clock, b.duration, b.day, b.start) == (
            "Europe/Berlin",
            "24",
            30,
            None,
            None,
        )
        assert b.detect == ("tz", "clock") and b.embed
        link = b.link(clock="12")
        assert "clock=12" in link and "tz=Europe/Berlin" in link and "embed=1" in link


def test_the_month_is_filled_from_the_services_slots(app, alice):
    page = make_page(alice)
    with app.test_request_context("/alice/intro"):
        b = read(page, {"tz": "America/New_York", "clock": "12"}, zone="Europe/Berlin")
        b.load()
        assert b.day is not None and b.day in b.slots
        first = b.day_times()[0]
        # The same slot the REST API serialises, labelled in the visitor's zone and clock.
        assert first.start.endswith("Z")
        start = public_booking.read_start(first.start)
        assert iso(start) == first.start
        assert first.label == clock_time(start.astimezone(ZoneInfo("America/New_York")), "12")
        cells = [cell for week in b.weeks() for cell in week if cell]
        assert [c.day for c in cells] == [b.month + timedelta(days=i) for i in range(len(cells))]
        assert sum(c.selected for c in cells) == 1


def test_the_months_end_where_the_window_does(app, alice):
    page = make_page(alice, window_days=None, window_start="2030-05-10", window_end="2030-06-20")
    with app.test_request_context("/alice/intro"):
        b = read(page, {"month": "2031-01"}, zone="UTC")
        b.now = datetime(2030, 1, 1, tzinfo=UTC)
        assert (b.first_month(), b.last_month()) == (date(2030, 5, 1), date(2030, 6, 1))
        b.load()
        assert b.month == date(2030, 6, 1) and b.next_month() is None
        assert b.previous_month() == date(2030, 5, 1)
