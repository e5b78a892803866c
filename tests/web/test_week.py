"""The calendar page's week grid and the day's availability, rendered by the app:
events on their rows and lanes, bookings marked, the working hours of the
calendar's booking pages, and weeks with a DST change."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time

import pytest

from calmesh.models import Booking, BookingPage
from calmesh.services import calendars
from tests.conftest import signed_in_client
from tests.factories import add_event, make_connection

MONDAY = date(2030, 3, 4)  # an ordinary week in Europe/Berlin (UTC+1)


def utc(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), UTC)


@pytest.fixture
def client(app, alice):
    return signed_in_client(app, alice)


@pytest.fixture
def work(alice):
    unified = calendars.create(alice, "work", "Work", "Europe/Berlin")
    connection = make_connection(alice, name="Radicale")
    calendars.add_source(unified, connection.id)
    return unified, connection.calendars.get()


def booking_page(alice, calendar, hours=(("09:00", "12:00"), ("13:00", "17:00")), **extra):
    return BookingPage.create(
        user=alice,
        slug=extra.pop("slug", "intro"),
        title="Intro",
        calendar=calendar,
        timezone=extra.pop("timezone", "Europe/Berlin"),
        weekly_hours={str(d): [list(r) for r in hours] for d in range(5)},
        **extra,
    )


def event_classes(body: str, summary: str) -> set[str]:
    found = re.search(rf'<li class="(wg-event [^"]*)"\s+title="[^"]*{summary}', body)
    assert found, f"{summary} is not on the grid"
    return set(found[1].split())


def test_events_sit_on_rows_of_the_calendars_zone_and_overlaps_share_the_day(client, work):
    _, remote = work
    add_event(remote, utc(MONDAY, 8), utc(MONDAY, 9, 30), "Planning")  # 09:00-10:30 Berlin
    add_event(remote, utc(MONDAY, 9), utc(MONDAY, 10), "Call")  # 10:00-11:00 Berlin

    body = client.get(f"/calendars/work?week={MONDAY}").get_data(as_text=True)

    planning, call = event_classes(body, "Planning"), event_classes(body, "Call")
    assert {"r-37", "s-6", "c-1", "w-30"} <= planning
    assert {"r-41", "s-4", "c-31", "w-30"} <= call
    assert "09:00–10:30" in body


def test_a_booking_is_marked_and_the_pending_one_says_unconfirmed(client, alice, work):
    unified, _ = work
    page = booking_page(alice, unified)
    Booking.create(
        page=page, user=alice, start=utc(MONDAY, 9), end=utc(MONDAY, 9, 30),
        status="pending", attendee_name="Ben", attendee_email="ben@example.net",
    )  # fmt: skip

    body = client.get(f"/calendars/work?week={MONDAY}").get_data(as_text=True)

    assert "booking" in event_classes(body, "Intro: Ben")
    assert "(unconfirmed)" in body
    booking = Booking.get(Booking.attendee_name == "Ben")
    assert body.count(f'<a href="/bookings/{booking.uid}">Intro: Ben</a>') == 2  # grid and list


def test_the_days_availability_keeps_to_the_pages_working_hours(client, alice, work):
    unified, remote = work
    booking_page(alice, unified)
    add_event(remote, utc(MONDAY, 9), utc(MONDAY, 10), "Call")  # 10:00-11:00 Berlin

    body = client.get(f"/calendars/work?week={MONDAY}&day={MONDAY}").get_data(as_text=True)
    free = body.split("Free within the working hours")[1].split("</ul>")[0]

    assert re.findall(r"<li>([^<]+)</li>", free) == ["09:00–10:00", "11:00–12:00", "13:00–17:00"]
    assert "00:00" not in free and "24:00" not in free
    # The grid shades the same hours: two bands a weekday.
    assert body.count('class="wg-open r-37 s-12"') == 5


def test_a_calendar_without_pages_counts_the_whole_day_and_says_why(client, work):
    body = client.get(f"/calendars/work?day={MONDAY}").get_data(as_text=True)
    assert "No booking page uses this calendar yet" in body
    assert "00:00–24:00" in body


def test_a_closed_day_of_the_pages_has_no_free_time(client, alice, work):
    unified, _ = work
    booking_page(alice, unified)
    saturday = date(2030, 3, 9)
    body = client.get(f"/calendars/work?day={saturday}").get_data(as_text=True)
    assert "Closed on this day" in body
    assert body.split("Free within the working hours")[1].split("</ul>")[0].count("<li>") == 1


@pytest.mark.parametrize(
    ("monday", "sunday", "hours", "rows"),
    [
        (date(2030, 3, 25), date(2030, 3, 31), "23 h", "Clocks go forward"),
        (date(2030, 10, 21), date(2030, 10, 27), "25 h", "Clocks go back"),
    ],
)
def test_a_dst_week_marks_the_short_or_long_sunday(client, work, monday, sunday, hours, rows):
    body = client.get(f"/calendars/work?week={monday}").get_data(as_text=True)
    assert hours in body and rows in body
    assert 'class="wg-dst' in body and "r-9 s-4" in body  # 02:00-03:00


def test_the_grid_and_the_list_show_an_all_day_event_on_each_of_its_days(client, work):
    _, remote = work
    add_event(remote, MONDAY, date(2030, 3, 6), "Offsite")  # Monday and Tuesday
    body = client.get(f"/calendars/work?week={MONDAY}").get_data(as_text=True)
    assert body.count('<li class="wg-chip src-0">Offsite</li>') == 2
    assert len(re.findall(r'<li class="event src-0">\s*<span class="time">all day', body)) == 2


def test_a_new_calendar_without_a_slug_takes_one_from_its_name(client, alice):
    from tests.conftest import CSRF

    made = client.post(
        "/calendars", data={"name": "Über Work", "slug": "", "timezone": "UTC", "csrf_token": CSRF}
    )
    assert made.status_code == 302 and made.headers["Location"].endswith("/calendars/uber-work")
    nameless = client.post("/calendars", data={"name": "", "slug": "", "csrf_token": CSRF})
    assert nameless.status_code == 400


def test_the_week_starts_on_the_owners_first_day_and_uses_their_clock(client, alice, work):
    _, remote = work
    alice.week_start, alice.clock = 6, "12"  # Sunday, 2:30pm
    alice.save()
    add_event(remote, utc(MONDAY, 13), utc(MONDAY, 14, 30), "Review")  # 14:00 Berlin
    body = client.get(f"/calendars/work?week={MONDAY}").get_data(as_text=True)
    assert "Week of 03 Mar 2030" in body  # the Sunday before
    heads = re.findall(r'<span class="wg-dayname[^"]*">(\w{3})', body)
    assert heads == ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    assert "2:00pm–3:30pm" in body and "14:00" not in body.split('class="wg-body"')[1]
