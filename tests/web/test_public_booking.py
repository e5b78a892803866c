"""The public booking page, its confirmation and the visitor's manage page, through
Flask's test client: rendering, zones, the form, errors, escaping, framing, tokens."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta
from html import unescape
from zoneinfo import ZoneInfo

import pytest

from calmesh.models import Booking
from calmesh.services import booking_pages, bookings, calendars
from tests.conftest import make_app, make_user, signed_in_client

BERLIN, NEW_YORK = ZoneInfo("Europe/Berlin"), ZoneInfo("America/New_York")
EVERY_DAY = {d: [["09:00", "17:00"]] for d in booking_pages.DAYS}
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


def make_page(user, slug: str = "intro", **settings):
    if calendars.get_for(user, "work") is None:
        calendars.create(user, "work", "Work", "Europe/Berlin")
    # Parsed as the API parses it: the declarations fill in the questions' defaults.
    return booking_pages.create(
        user,
        booking_pages.NEW_PAGE.parse(
            {
                "slug": slug,
                "title": "Intro call",
                "calendar": "work",
                "timezone": "Europe/Berlin",
                "duration": 30,
                "weekly_hours": EVERY_DAY,
                "min_notice": 0,
                "location": "Video call",
                "questions": [
                    {"id": "company", "label": "Company", "type": "short_text", "required": True},
                    {
                        "id": "size",
                        "label": "Team size",
                        "type": "select",
                        "options": ["1-5", "6+"],
                    },
                    {"id": "ok", "label": "Send me a reminder", "type": "checkbox"},
                ],
                **settings,
            }
        ),
    )


def a_day() -> datetime:
    """A date ten days ahead, well inside the window, whatever today is."""
    return datetime.now(BERLIN).date() + timedelta(days=10)


def berlin(hour: int, minute: int = 0) -> datetime:
    return datetime.combine(a_day(), time(hour, minute), BERLIN).astimezone(UTC)


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def text_of(response) -> str:
    return response.get_data(as_text=True)


def links(html: str, css_class: str) -> list[str]:
    return [unescape(u) for u in re.findall(rf'class="{css_class}" href="([^"]+)"', html)]


def csrf_of(html: str) -> str:
    return CSRF_FIELD.search(html).group(1)


def form_url(start: datetime, tz: str = "America/New_York", **extra: str) -> str:
    query = "&".join(f"{k}={v}" for k, v in {"tz": tz, "start": iso(start), **extra}.items())
    return f"/alice/intro?{query}"


def booking_form(client, start: datetime, tz: str = "America/New_York", **fields: str) -> dict:
    """What a visitor's browser sends from the form of ``start``."""
    html = text_of(client.get(form_url(start, tz)))
    return {
        "csrf_token": csrf_of(html),
        "attempt": re.search(r'name="attempt" value="([^"]+)"', html).group(1),
        "tz": tz,
        "clock": "24",
        "start": iso(start),
        "name": "Vera Visitor",
        "email": "vera@example.org",
        "answers.company": "Acme",
        **fields,
    }


def post_booking(client, start: datetime, tz: str = "America/New_York", **fields: str):
    return client.post("/alice/intro", data=booking_form(client, start, tz, **fields))


def book_directly(app, page, start: datetime, name: str = "Other", tz: str = "UTC"):
    """A booking made elsewhere (the API, another visitor), through the service; it
    needs a request, as it builds the manage link for the e-mail."""
    with app.test_request_context():
        booking, _ = bookings.book(
            page,
            start=start,
            duration=None,
            attendee=bookings.Attendee(name, f"{name.lower().split()[0]}@example.org", tz),
            answers={"company": "Acme"},
        )
        return booking, bookings.manage_token(booking)


def alone(app, call, *args, **kw):
    """One request in an app context of its own, as every request has in production:
    the app fixture holds one context for the whole test, so ``g`` (where
    ``allow_framing`` is noted) would carry over from one request to the next."""
    with app.app_context():
        return call(*args, **kw)


@pytest.fixture
def page(app, alice):
    return make_page(alice)


@pytest.fixture
def visitor(app):
    return app.test_client()


# --- the page ---------------------------------------------------------------------------


def test_page_shows_the_summary_month_and_the_first_free_day(visitor, page):
    response = visitor.get("/alice/intro")
    assert response.status_code == 200
    html = text_of(response)
    for part in ("Intro call", "Alice", "30 min", "Video call", 'id="booker-tz"'):
        assert part in html
    assert 'data-booker-detect="tz"' in html  # JS swaps in the visitor's zone
    assert re.search(r'class="day open[^"]*"\s+href="[^"]+"', html)  # bookable days are links
    assert len(links(html, "slot")) > 0
    assert "<html" in html and 'id="month-next"' in html
    assert 'id="month-prev"' not in html  # nothing to book in the past
    # 12h/24h and durations are plain links; the zone a plain GET form.
    assert 'id="clock-12"' in html and 'method="get"' in html


def test_page_of_an_inactive_page_or_under_another_handle_is_404(visitor, page, bob):
    assert visitor.get("/bob/intro").status_code == 404
    assert visitor.get("/alice/nope").status_code == 404
    assert "There is no booking page here" in text_of(visitor.get("/alice/nope"))
    booking_pages.update(page, {"active": False})
    paused = visitor.get("/alice/intro")
    assert paused.status_code == 410  # gone for now: a designed page, not a bare error
    assert "not taking bookings right now" in text_of(paused) and "Alice" in text_of(paused)
    assert visitor.get(form_url(berlin(10))).status_code == 410


def test_day_fragment_lists_the_times_in_the_visitors_zone(visitor, page):
    day = a_day()
    response = visitor.get(
        f"/alice/intro?tz=America/New_York&clock=24&date={day}", headers={"HX-Request": "true"}
    )
    html = text_of(response)
    assert response.status_code == 200
    assert "<html" not in html and html.lstrip().startswith('<div id="booker"')
    assert "HX-Request" in response.headers["Vary"]
    times = re.findall(r'class="slot" href="[^"]+"[^>]*>([^<]+)</a>', html)
    # The page's 09:00-17:00 in Berlin is read in New York time, the same date.
    first = datetime.combine(day, time(9), BERLIN).astimezone(NEW_YORK)
    last = datetime.combine(day, time(16, 30), BERLIN).astimezone(NEW_YORK)
    assert times[0] == f"{first:%H:%M}" and times[-1] == f"{last:%H:%M}"
    assert len(times) == 16
    assert '<option value="America/New_York" selected>' in html
    assert "data-booker-detect" not in html  # the zone was chosen

    twelve = text_of(
        visitor.get(f"/alice/intro?tz=America/New_York&clock=12&date={day}&month={day:%Y-%m}")
    )
    shown = re.findall(r'class="slot"[^>]*>([^<]+)<', twelve)[0]
    assert re.fullmatch(rf"{first.hour % 12 or 12}:{first:%M}\s{first:%p}", shown)


@pytest.mark.parametrize(
    "query",
    [
        "month=9999-12",
        "month=0000-01",
        "month=2026-13",
        "date=2026-02-30",
        "date=9999-12-31",
        "start=9999-12-31T23:59:00Z&tz=Pacific/Kiritimati",
        "start=0001-01-01T00:00:00Z&tz=America/New_York",
        "start=tomorrow",
        "start=2026-03-01T10:00:00",
        "tz=Not/AZone",
        "tz=",
        "duration=abc",
        "duration=7",
        "duration=99999999999999999999",
        "clock=13",
    ],
)
def test_odd_query_values_fall_back_to_defaults(visitor, page, query):
    response = visitor.get(f"/alice/intro?{query}")
    assert response.status_code == 200
    assert 'id="month-title"' in text_of(response)  # the calendar, not a form for no time


def test_a_form_sent_without_a_usable_time_asks_for_one(visitor, page):
    data = {**booking_form(visitor, berlin(10)), "start": "9999-12-31T23:59:00Z"}
    response = visitor.post("/alice/intro", data=data)
    assert response.status_code == 400
    assert "Please choose a time first." in text_of(response)
    assert Booking.select().count() == 0


def test_a_slot_link_opens_the_form_with_the_pages_questions(visitor, page):
    day = a_day()
    html = text_of(visitor.get(f"/alice/intro?tz=Asia/Tokyo&date={day}"))
    html = text_of(visitor.get(links(html, "slot")[0]))
    assert 'method="post"' in html and csrf_of(html)
    for label in (
        'for="f-name"',
        'for="f-email"',
        'for="q-company"',
        'for="q-size"',
        'for="f-notes"',
    ):
        assert label in html
    assert (
        'id="q-company" name="answers.company" type="text" value="" maxlength="500" required'
        in html
    )
    assert 'name="tz" value="Asia/Tokyo"' in html
    assert "Confirm booking" in html


def test_booking_through_the_form_stores_it_and_confirms_in_the_visitors_zone(visitor, page):
    start = berlin(10)
    form = booking_form(visitor, start, notes="See you", **{"answers.ok": "yes"})
    response = visitor.post("/alice/intro", data=form)
    assert response.status_code == 303
    booking = Booking.get()
    assert (booking.start, booking.status) == (start, "accepted")
    assert booking.attendee_timezone == "America/New_York"
    assert (booking.attendee_name, booking.attendee_email) == ("Vera Visitor", "vera@example.org")
    assert booking.answers == {"company": "Acme", "ok": True}
    assert booking.notes == "See you"
    assert response.headers["Location"].startswith(f"/b/{booking.uid}/confirmed?token=")

    html = text_of(visitor.get(response.headers["Location"]))
    local = start.astimezone(NEW_YORK)
    assert "You are booked" in html
    assert f"{local:%H:%M}–{local + timedelta(minutes=30):%H:%M}" in html
    assert "America/New York" in html
    for kind in ("reschedule", "cancel"):
        link = unescape(re.search(rf'class="{kind}-link" href="([^"]+)"', html).group(1))
        assert visitor.get(link).status_code == 200

    # The same form sent twice (a double click) books once; a new form finds it taken.
    again = visitor.post("/alice/intro", data=form)
    assert again.headers["Location"].startswith(f"/b/{booking.uid}/confirmed?token=")
    assert post_booking(visitor, start).status_code == 409
    assert Booking.select().count() == 1


def test_a_forms_attempt_sent_again_with_other_details_reveals_nothing(app, visitor, page):
    """Someone who got hold of a visitor's form (its hidden attempt key) and sends
    it with other details gets a refusal, not that visitor's confirmation link."""
    start = berlin(10)
    form = booking_form(visitor, start)
    first = visitor.post("/alice/intro", data=form)
    assert first.status_code == 303
    other = app.test_client()
    response = other.post(
        "/alice/intro",
        data={**form, "name": "Mallory", "email": "mallory@example.org"},
    )
    html = text_of(response)
    assert response.status_code == 422 and "already sent with other details" in html
    assert Booking.get().uid not in html and "Vera" not in html
    assert form["attempt"] not in html  # the next send carries a new key
    assert Booking.select().count() == 1


def test_a_page_that_needs_confirmation_says_the_request_was_sent(visitor, alice):
    make_page(alice, requires_confirmation=True)
    response = post_booking(visitor, berlin(11))
    assert Booking.get().status == "pending"
    assert "Request sent" in text_of(visitor.get(response.headers["Location"]))


def test_a_required_question_is_enforced_and_the_input_kept(visitor, page):
    response = post_booking(visitor, berlin(10), **{"answers.company": "  "})
    html = text_of(response)
    assert response.status_code == 400
    assert Booking.select().count() == 0
    assert "Please answer this question." in html and 'aria-invalid="true"' in html
    assert 'value="Vera Visitor"' in html and 'value="vera@example.org"' in html


def test_a_bad_address_and_a_missing_answer_are_marked_together(visitor, page):
    response = post_booking(visitor, berlin(10), email="nope", **{"answers.company": ""})
    html = text_of(response)
    assert response.status_code == 400 and Booking.select().count() == 0
    assert "Please enter a valid e-mail address." in html
    assert "Please answer this question." in html


def test_bad_name_and_email_get_friendly_messages(visitor, page):
    html = text_of(post_booking(visitor, berlin(10), name="", email="not-an-address"))
    assert "Please enter your name." in html
    assert "Please enter a valid e-mail address." in html
    assert 'value="not-an-address"' in html
    # A name goes into e-mail subjects: one line only.
    html = text_of(post_booking(visitor, berlin(10), name="Eve\r\nBcc: all@example.org"))
    assert "Please enter your name on one line" in html
    assert Booking.select().count() == 0


def test_a_taken_slot_is_refused_kindly_with_the_days_other_times(app, visitor, page):
    start = berlin(10)
    book_directly(app, page, start)
    response = post_booking(visitor, start, notes="keep me")
    html = text_of(response)
    assert response.status_code == 409
    assert "someone booked this time a moment ago" in html
    assert "Traceback" not in html and "keep me" in html and 'value="Vera Visitor"' in html
    offered = re.findall(r'name="start" value="([^"]+)"', html)
    assert iso(start) not in offered and iso(berlin(10, 30)) in offered

    # Choosing one of them in the same form books it.
    data = {
        "csrf_token": csrf_of(html),
        "tz": "America/New_York",
        "start": iso(berlin(10, 30)),
        "name": "Vera Visitor",
        "email": "vera@example.org",
        "answers.company": "Acme",
    }
    assert visitor.post("/alice/intro", data=data).status_code == 303
    assert Booking.select().count() == 2


def test_a_time_outside_the_hours_is_refused_kindly(visitor, page):
    response = post_booking(visitor, berlin(20))
    assert response.status_code == 422
    assert "cannot be booked any more (outside the page" in text_of(response)


def test_booking_without_the_forms_token_is_refused(visitor, page):
    response = visitor.post(
        "/alice/intro", data={"start": iso(berlin(10)), "name": "x", "email": "x@example.org"}
    )
    assert response.status_code == 403
    assert Booking.select().count() == 0


def test_booking_posts_are_rate_limited(tmp_path):
    app = make_app(tmp_path, **{"api.public_book_per_minute": 2})
    with app.app_context():
        make_page(make_user("alice", "Europe/Berlin"))
        client = app.test_client()
        statuses = [post_booking(client, berlin(10), name="").status_code for _ in range(3)]
    assert statuses == [400, 400, 429]


# --- escaping ------------------------------------------------------------------------------

PAYLOADS = ("<script>alert(1)</script>", '"><img src=x onerror=alert(1)>', "javascript:alert(1)")


def assert_escaped(html: str, where: str) -> None:
    assert "<script>alert(1)" not in html, where
    assert "<img src=x" not in html, where
    assert 'href="javascript:' not in html.replace("'", '"'), where


def test_visitor_and_owner_text_is_escaped_on_every_page(app, alice, visitor):
    make_page(
        alice,
        title=PAYLOADS[0],
        description="\n".join(PAYLOADS),
        location=PAYLOADS[2],
        questions=[
            {"id": "a", "label": PAYLOADS[0], "type": "short_text"},
            {"id": "b", "label": PAYLOADS[1], "type": "long_text"},
            {"id": "c", "label": PAYLOADS[1], "type": "select", "options": [PAYLOADS[1]]},
            {"id": "d", "label": PAYLOADS[0], "type": "checkbox"},
        ],
    )
    name = PAYLOADS[1]
    response = post_booking(
        visitor,
        berlin(10),
        name=name,
        notes=" ".join(PAYLOADS),
        **{"answers.a": PAYLOADS[0], "answers.b": PAYLOADS[2], "answers.c": PAYLOADS[1]},
        **{"answers.d": "yes"},
    )
    assert response.status_code == 303, text_of(response)
    booking = Booking.get()
    assert booking.attendee_name == name and booking.answers["a"] == PAYLOADS[0]

    pages = {
        "booking page": visitor.get("/alice/intro"),
        "form": visitor.get(form_url(berlin(11))),
        "form with errors": post_booking(visitor, berlin(12), email="x", name=PAYLOADS[0]),
        "confirmation": visitor.get(response.headers["Location"]),
    }
    with app.test_request_context():
        token = bookings.manage_token(booking)
    pages["manage"] = visitor.get(f"/b/{booking.uid}?token={token}")
    owner = signed_in_client(app, alice)
    for path in ("/dashboard", "/booking-pages", "/bookings"):
        pages[path] = owner.get(path, follow_redirects=True)
    for where, answer in pages.items():
        html = text_of(answer)
        assert answer.status_code in (200, 400), where
        assert_escaped(html, where)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text_of(pages["manage"])
    assert "javascript:alert(1)" in text_of(pages["booking page"])  # shown, as text


# --- framing --------------------------------------------------------------------------------


def ancestors(response) -> str:
    return re.search(r"frame-ancestors ([^;]+)", response.headers["Content-Security-Policy"])[1]


def test_only_the_embeddable_pages_may_be_framed(app, alice, visitor, page):
    day, get = a_day(), visitor.get
    framed = {
        "page": alone(app, get, "/alice/intro?embed=1"),
        "fragment": alone(
            app, get, f"/alice/intro?embed=1&date={day}", headers={"HX-Request": "1"}
        ),
        "form": alone(app, get, form_url(berlin(10), embed="1")),
    }
    location = alone(app, post_booking, visitor, berlin(10)).headers["Location"]
    framed["confirmation"] = alone(app, get, location + "&embed=1")
    for name, response in framed.items():
        assert response.status_code == 200, name
        assert ancestors(response) == "*", name
        assert "X-Frame-Options" not in response.headers, name
    assert "data-booker-embed" in text_of(framed["page"])

    manage = location.replace("/confirmed", "")
    owner = signed_in_client(app, alice)
    refused = {
        "page without embed": alone(app, get, "/alice/intro"),
        "confirmation without embed": alone(app, get, location),
        "manage page": alone(app, get, manage + "&embed=1"),
        "login": alone(app, get, "/login?embed=1"),
        "dashboard": alone(app, owner.get, "/dashboard?embed=1"),
    }
    for name, response in refused.items():
        assert ancestors(response) == "'none'", name
        assert response.headers["X-Frame-Options"] == "DENY", name


def test_an_embedded_booking_stays_embeddable(app, visitor, page):
    html = text_of(visitor.get(form_url(berlin(10), embed="1")))
    assert 'action="/alice/intro?embed=1"' in html
    data = {
        "csrf_token": csrf_of(html),
        "tz": "UTC",
        "start": iso(berlin(10)),
        "name": "Em Bed",
        "email": "em@example.org",
        "answers.company": "Acme",
    }
    response = alone(app, visitor.post, "/alice/intro?embed=1", data=data)
    assert ancestors(response) == "*"
    assert "embed=1" in response.headers["Location"]
    confirmation = text_of(visitor.get(response.headers["Location"]))
    assert 'class="reschedule-link"' in confirmation and 'target="_blank"' in confirmation


# --- the visitor's manage page --------------------------------------------------------------


@pytest.fixture
def booked(app, page):
    return book_directly(app, page, berlin(10), "Vera Visitor", "America/New_York")


def test_manage_page_shows_the_booking_in_the_visitors_zone(visitor, booked):
    booking, token = booked
    response = visitor.get(f"/b/{booking.uid}?token={token}&clock=24")
    html = text_of(response)
    local = booking.start.astimezone(NEW_YORK)
    assert response.status_code == 200
    assert f"{local:%H:%M}–" in html and "America/New York" in html
    assert "Acme" in html and "Cancel booking" in html
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Referrer-Policy"] == "no-referrer"


def test_visitor_cancels_with_a_reason(visitor, booked):
    booking, token = booked
    html = text_of(visitor.get(f"/b/{booking.uid}?token={token}"))
    response = visitor.post(
        f"/b/{booking.uid}/cancel",
        data={"csrf_token": csrf_of(html), "token": token, "reason": "Something came up"},
    )
    assert response.status_code == 303
    fresh = Booking.get_by_id(booking.id)
    assert (fresh.status, fresh.reason) == ("cancelled", "Something came up")
    after = text_of(visitor.get(response.headers["Location"]))
    assert "Your booking is cancelled" in after and "Cancel booking" not in after


def test_visitor_reschedules_through_the_same_slot_list(visitor, booked):
    booking, token = booked
    day = a_day()
    html = text_of(visitor.get(f"/b/{booking.uid}?token={token}&date={day}"))
    slot_links = links(html, "slot")
    assert all(f"token={token}" in link for link in slot_links)
    new_start = berlin(14)
    choice = next(link for link in slot_links if iso(new_start) in link)
    step = text_of(visitor.get(choice))
    assert "Move my booking" in step
    response = visitor.post(
        f"/b/{booking.uid}/reschedule",
        data={
            "csrf_token": csrf_of(step),
            "token": token,
            "tz": "America/New_York",
            "start": iso(new_start),
            "reason": "later suits me",
        },
    )
    assert response.status_code == 303
    fresh = Booking.get_by_id(booking.id)
    assert (fresh.start, fresh.status, fresh.uid) == (new_start, "accepted", booking.uid)
    assert "Your booking is moved" in text_of(visitor.get(response.headers["Location"]))


def test_rescheduling_onto_a_taken_time_is_refused_kindly(app, visitor, booked, page):
    booking, token = booked
    book_directly(app, page, berlin(15))
    html = text_of(visitor.get(f"/b/{booking.uid}?token={token}"))
    response = visitor.post(
        f"/b/{booking.uid}/reschedule",
        data={"csrf_token": csrf_of(html), "token": token, "start": iso(berlin(15))},
    )
    assert response.status_code == 409
    assert "someone booked this time a moment ago" in text_of(response)
    assert Booking.get_by_id(booking.id).start == berlin(10)


@pytest.mark.parametrize("kind", ["tampered", "foreign", "missing"])
def test_a_bad_link_is_refused_with_a_clear_403(app, visitor, booked, page, kind):
    booking, token = booked
    _, foreign = book_directly(app, page, berlin(12))
    bad = {
        "tampered": token[:-3] + ("abc" if not token.endswith("abc") else "xyz"),
        "foreign": foreign,
        "missing": "",
    }[kind]
    csrf = csrf_of(text_of(visitor.get(form_url(berlin(11)))))
    answers = [
        visitor.get(f"/b/{booking.uid}?token={bad}"),
        visitor.get(f"/b/{booking.uid}/confirmed?token={bad}"),
        visitor.post(f"/b/{booking.uid}/cancel", data={"csrf_token": csrf, "token": bad}),
        visitor.post(
            f"/b/{booking.uid}/reschedule",
            data={"csrf_token": csrf, "token": bad, "start": iso(berlin(14))},
        ),
    ]
    for response in answers:
        html = text_of(response)
        assert response.status_code == 403
        assert "This link does not work" in html and "Traceback" not in html
    fresh = Booking.get_by_id(booking.id)
    assert (fresh.status, fresh.start) == ("accepted", berlin(10))


def test_cancelling_needs_the_forms_csrf_token(visitor, booked):
    booking, token = booked
    response = visitor.post(f"/b/{booking.uid}/cancel", data={"token": token})
    assert response.status_code == 403
    assert Booking.get_by_id(booking.id).status == "accepted"


# --- the zone picker: the zone list travels once -------------------------------------


def test_zone_list_comes_once_with_the_page_and_never_with_a_fragment(visitor, page):
    day = a_day()
    url = f"/alice/intro?tz=America/New_York&clock=24&date={day}"
    full = text_of(visitor.get(url))
    # The page carries every zone once (the plain select works without JavaScript).
    assert full.count('value="Pacific/Auckland"') == 1
    assert full.count('value="Europe/Berlin"') == 1  # also among the common zones: once
    assert '<optgroup label="Common">' in full and '<optgroup label="Pacific">' in full
    fragment = visitor.get(url, headers={"HX-Request": "true"})
    html = text_of(fragment)
    assert "Pacific/Auckland" not in html and "<optgroup" not in html
    # The fragment still submits the chosen zone, in the one option it carries.
    assert html.count("<option") == 1
    assert '<option value="America/New_York" selected>' in html
    # Only slots: a small part of the page's size (it was about 33 KB of zone names).
    assert len(fragment.get_data()) * 2 < len(full.encode())


def test_a_zone_chosen_in_the_fragment_still_changes_the_slots(visitor, page):
    day = a_day()
    slot = re.compile(r'class="slot" href="[^"]+"[^>]*>([^<]+)</a>')
    kolkata = slot.findall(
        text_of(
            visitor.get(
                f"/alice/intro?tz=Asia/Kolkata&clock=24&date={day}",
                headers={"HX-Request": "true"},
            )
        )
    )
    first = datetime.combine(day, time(9), BERLIN).astimezone(ZoneInfo("Asia/Kolkata"))
    assert kolkata[0] == f"{first:%H:%M}"


def test_a_reschedule_link_cannot_cancel_and_a_cancel_link_cannot_move(app, visitor, booked):
    """Each mailed link is signed for one purpose: replaying one at the other's
    endpoint (the page, the form, the REST call) is refused and changes nothing."""
    from calmesh.effects.visitor_mail import visitor_token

    booking, _ = booked
    move = visitor_token(booking, "reschedule")
    cancel = visitor_token(booking, "cancel")
    view = visitor_token(booking, "view")
    form = text_of(visitor.get(f"/b/{booking.uid}/reschedule?token={move}&start={iso(berlin(14))}"))
    assert "Move my booking" in form and "Cancel booking" not in form  # it offers no cancel
    csrf = csrf_of(form)
    for token in (move, view):
        assert visitor.get(f"/b/{booking.uid}/cancel?token={token}").status_code == 403
        replay = visitor.post(f"/b/{booking.uid}/cancel", data={"csrf_token": csrf, "token": token})
        assert replay.status_code == 403
        api = visitor.patch(f"/api/v1/bookings/{booking.uid}/cancel", json={"token": token})
        assert api.status_code == 403
    for token in (cancel, view):
        assert visitor.get(f"/b/{booking.uid}/reschedule?token={token}").status_code == 403
        replay = visitor.post(
            f"/b/{booking.uid}/reschedule",
            data={"csrf_token": csrf, "token": token, "start": iso(berlin(14))},
        )
        assert replay.status_code == 403
    fresh = Booking.get_by_id(booking.id)
    assert (fresh.status, fresh.start) == ("accepted", berlin(10))
    # Each still does its own job.
    moved = visitor.post(
        f"/b/{booking.uid}/reschedule",
        data={"csrf_token": csrf, "token": move, "tz": "UTC", "start": iso(berlin(14))},
    )
    assert moved.status_code == 303 and Booking.get_by_id(booking.id).start == berlin(14)
    page = text_of(visitor.get(f"/b/{booking.uid}/cancel?token={cancel}"))
    assert "Pick a new time" not in page  # its page offers no move
    done = visitor.post(f"/b/{booking.uid}/cancel", data={"csrf_token": csrf, "token": cancel})
    assert done.status_code == 303 and Booking.get_by_id(booking.id).status == "cancelled"
    after = text_of(visitor.get(unescape(done.headers["Location"])))
    assert "Book another time" in after and "clock=" in after
