"""Booking pages in the dashboard: every setting through the form, errors, edit, delete."""

from __future__ import annotations

import re
from html import unescape as html_unescape
from html.parser import HTMLParser

import pytest

from calmesh.models import BookingPage
from calmesh.services import calendars
from tests.conftest import CSRF, signed_in_client

XSS = "<script>alert(1)</script>"


class FormReader(HTMLParser):
    """What a browser would submit for the page's settings form, as typed by nobody."""

    def __init__(self, form_id: str = "page-form"):
        super().__init__()
        self.form_id, self.inside, self.fields = form_id, False, []
        self._select: str | None = None
        self._options: list[tuple[str, bool]] = []
        self._textarea: str | None = None
        self._text = ""

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and a.get("id") == self.form_id:
            self.inside = True
        if not self.inside:
            return
        if tag == "input" and a.get("name"):
            kind = a.get("type", "text")
            if kind in {"checkbox", "radio"}:
                if "checked" in a:
                    self.fields.append((a["name"], a.get("value", "on")))
            elif kind != "submit":
                self.fields.append((a["name"], a.get("value", "")))
        elif tag == "select":
            self._select, self._options = a.get("name"), []
        elif tag == "option" and self._select:
            self._options.append((a.get("value"), "selected" in a))
            self._text = ""
        elif tag == "textarea":
            self._textarea, self._text = a.get("name"), ""

    def handle_data(self, data):
        self._text += data
        if self._select and self._options and self._options[-1][0] is None:
            self._options[-1] = (data.strip(), self._options[-1][1])

    def handle_endtag(self, tag):
        if tag == "form" and self.inside:
            self.inside = False
        elif tag == "select" and self._select:
            chosen = [v for v, selected in self._options if selected] or [self._options[0][0]]
            self.fields.append((self._select, chosen[0]))
            self._select = None
        elif tag == "textarea" and self._textarea:
            self.fields.append((self._textarea, self._text))
            self._textarea = None


def form_of(html: str) -> dict[str, list[str]]:
    reader = FormReader()
    reader.feed(html)
    out: dict[str, list[str]] = {}
    for name, value in reader.fields:
        out.setdefault(name, []).append(value)
    return out


@pytest.fixture
def client(app, alice):
    calendars.create(alice, "work", "Work", "Europe/Berlin")
    calendars.create(alice, "home", "Home", "Europe/Berlin")
    return signed_in_client(app, alice)


def settings_form(**changes) -> dict:
    """A filled-in form: several ranges a day, two overrides, three questions."""
    form = {
        "csrf_token": CSRF,
        "_action": "save",
        "title": "Intro call",
        "slug": "intro",
        "description": "A first talk.",
        "location": "Video call",
        "active": "1",
        "requires_confirmation": "1",
        "calendar": "work",
        "timezone": "Europe/Berlin",
        "durations": "30, 20, 60, 120",  # in this order: the first is the default
        "slot_interval": "15",
        "hours-mon-0-start": "09:00",
        "hours-mon-0-end": "12:00",
        "hours-mon-1-start": "13:00",
        "hours-mon-1-end": "17:00",
        "hours-tue-0-start": "10:00",
        "hours-tue-0-end": "24:00",
        "hours-wed-0-start": "",  # a blank row is no range
        "hours-wed-0-end": "",
        "hours-fri-3-start": "08:00",  # rows may arrive numbered with gaps
        "hours-fri-3-end": "09:30",
        "override-0-date": "2030-12-27",
        "override-0-0-start": "10:00",
        "override-0-0-end": "12:00",
        "override-0-1-start": "14:00",
        "override-0-1-end": "15:00",
        "override-1-date": "2030-12-24",
        "override-1-off": "1",
        "buffer_before": "5",
        "buffer_after": "10",
        "min_notice": "120",
        "daily_limit": "4",
        "weekly_limit": "",
        "window_mode": "days",
        "window_days": "30",
        "window_start": "",
        "window_end": "",
        "question-0-label": "Topic",
        "question-0-type": "short_text",
        "question-0-required": "1",
        "question-1-label": "How did you hear of us?",
        "question-1-type": "select",
        "question-1-options": "A friend\r\n\r\nThe web\n",
        "question-2-label": "I accept the terms",
        "question-2-type": "checkbox",
        "question-2-required": "1",
        "question-2-options": "ignored for a checkbox",
    }
    form.update(changes)
    return form


EXPECTED = {
    "title": "Intro call",
    "slug": "intro",
    "description": "A first talk.",
    "location": "Video call",
    "active": True,
    "requires_confirmation": True,
    "calendar": "work",
    "timezone": "Europe/Berlin",
    "durations": [30, 20, 60, 120],
    "slot_interval": 15,
    "weekly_hours": {
        "mon": [["09:00", "12:00"], ["13:00", "17:00"]],
        "tue": [["10:00", "24:00"]],
        "wed": [],
        "thu": [],
        "fri": [["08:00", "09:30"]],
        "sat": [],
        "sun": [],
    },
    "date_overrides": [
        {"date": "2030-12-24", "hours": []},
        {"date": "2030-12-27", "hours": [["10:00", "12:00"], ["14:00", "15:00"]]},
    ],
    "buffer_before": 5,
    "buffer_after": 10,
    "min_notice": 120,
    "daily_limit": 4,
    "weekly_limit": None,
    "window_days": 30,
    "window_start": None,
    "window_end": None,
    "questions": [
        {"id": "topic", "label": "Topic", "type": "short_text", "required": True, "options": []},
        {
            "id": "how_did_you_hear_of_us",
            "label": "How did you hear of us?",
            "type": "select",
            "required": False,
            "options": ["A friend", "The web"],
        },
        {
            "id": "i_accept_the_terms",
            "label": "I accept the terms",
            "type": "checkbox",
            "required": True,
            "options": [],
        },
    ],
}


def stored(client, slug: str = "intro") -> dict:
    """The page as the REST API reports it."""
    response = client.get(f"/api/v1/booking-pages/{slug}")
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_create_stores_every_setting_as_the_form_said(client):
    response = client.post("/booking-pages/new", data=settings_form())
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/booking-pages/intro")
    got = stored(client)
    assert {k: got[k] for k in EXPECTED} == EXPECTED
    assert "Created “Intro call”" in client.get("/booking-pages/intro").get_data(as_text=True)


def test_a_date_range_window_and_durations_in_the_order_typed(client):
    form = settings_form(
        window_mode="range",
        window_start="2030-01-01",
        window_end="2030-03-31",
        durations="60, 15, 60, 30",
    )
    assert client.post("/booking-pages/new", data=form).status_code == 302
    got = stored(client)
    assert (got["window_start"], got["window_end"]) == ("2030-01-01", "2030-03-31")
    assert got["durations"] == [60, 15, 30]  # as typed, once each; the first is the default
    assert 'value="60, 15, 30"' in client.get("/booking-pages/intro").get_data(as_text=True)


def test_a_blank_slug_is_proposed_from_the_title(client):
    form = settings_form(title="Café: Intro call!", slug="")
    response = client.post("/booking-pages/new", data=form)
    assert response.headers["Location"].endswith("/booking-pages/cafe-intro-call")


def test_copy_to_all_weekdays_fills_mon_to_fri_without_saving(client):
    form = settings_form(_action="copy-hours:mon")
    response = client.post("/booking-pages/new", data=form, headers={"HX-Request": "true"})
    assert response.status_code == 200
    back = form_of(response.get_data(as_text=True))
    for day in ("mon", "tue", "wed", "thu", "fri"):
        assert (back[f"hours-{day}-0-start"], back[f"hours-{day}-1-end"]) == (["09:00"], ["17:00"])
    assert "hours-sat-0-start" not in back
    assert BookingPage.select().count() == 0
    bad = client.post("/booking-pages/new", data=settings_form(_action="copy-hours:xyz"))
    assert bad.status_code == 400


def test_the_live_preview_shows_the_form_as_typed(client):
    form = settings_form(title="<i>Deep dive</i>", durations="45, 15", location="Room 7")
    response = client.post("/booking-pages/_preview", data=form, headers={"HX-Request": "true"})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "&lt;i&gt;Deep dive&lt;/i&gt;" in html and "<i>" not in html
    assert html.index("45 min") < html.index("15 min")
    assert "Room 7" in html and "A friend / The web" in html and "/alice/intro" in html
    assert BookingPage.select().count() == 0


def test_the_edit_form_round_trips_unchanged(client):
    client.post("/booking-pages/new", data=settings_form())
    before = stored(client)
    html = client.get("/booking-pages/intro").get_data(as_text=True)
    form = form_of(html)
    assert form["hours-mon-1-start"] == ["13:00"] and form["question-1-id"] == [
        "how_did_you_hear_of_us"
    ]
    response = client.post("/booking-pages/intro", data=form)
    assert response.status_code == 302
    assert stored(client) == before


def test_edit_changes_settings_and_keeps_question_ids(client):
    client.post("/booking-pages/new", data=settings_form())
    form = form_of(client.get("/booking-pages/intro").get_data(as_text=True))
    form |= {
        "title": ["Intro call (new)"],
        "slug": ["hello"],
        "calendar": ["home"],
        "question-0-label": ["Your topic"],
        "hours-mon-1-start": [""],
        "hours-mon-1-end": [""],
        "window_mode": ["range"],
        "window_start": ["2030-01-01"],
        "window_end": ["2030-01-31"],
    }
    form.pop("active")  # unticked
    response = client.post("/booking-pages/intro", data=form)
    assert response.status_code == 302 and response.headers["Location"].endswith(
        "/booking-pages/hello"
    )
    got = stored(client, "hello")
    assert got["title"] == "Intro call (new)" and got["calendar"] == "home" and not got["active"]
    assert got["weekly_hours"]["mon"] == [["09:00", "12:00"]]
    assert got["questions"][0] == {**EXPECTED["questions"][0], "label": "Your topic"}
    assert (got["window_days"], got["window_start"], got["window_end"]) == (
        None,
        "2030-01-01",
        "2030-01-31",
    )
    assert client.get("/booking-pages/intro").status_code == 404


def test_invalid_input_is_shown_next_to_its_field_and_nothing_is_stored(client):
    form = settings_form(
        title="  ",
        slug="Bad Slug",
        durations="abc",
        **{"hours-mon-1-end": "25:00", "override-0-date": "2030-13-01", "question-1-label": ""},
        buffer_before="-5",
    )
    response = client.post("/booking-pages/new", data=form)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert BookingPage.select().count() == 0
    assert "Nothing was saved" in html
    assert 'id="e-title">Title is required' in html
    assert 'id="e-slug">Slug: lowercase letters, digits and inner hyphens' in html
    assert 'id="e-durations">Durations must be an integer' in html
    assert 'id="e-hours-mon-1">Mon, hours 2: end must be HH:MM (00:00-24:00)' in html
    assert 'id="e-override-0">Date override 1: date is not a valid calendar date' in html
    assert 'id="e-question-1">Question 2: label is required' in html
    assert 'id="e-buffer_before">Buffer before must be at least 0' in html
    # The summary links each problem to its input.
    for anchor in (
        "f-title",
        "f-slug",
        "f-durations",
        "f-hours-mon-1-start",
        "f-override-0-date",
    ):
        assert f'<a href="#{anchor}">' in html and f'id="{anchor}"' in html
    # What was typed stays in the form.
    form_back = form_of(html)
    assert form_back["slug"] == ["Bad Slug"] and form_back["durations"] == ["abc"]
    assert form_back["hours-mon-1-end"] == ["25:00"] and form_back["question-1-options"] == [
        "A friend\n\nThe web\n"
    ]


@pytest.mark.parametrize(
    ("changes", "key", "message"),
    [
        ({"calendar": "nope"}, "calendar", "No unified calendar with that slug"),
        ({"hours-mon-0-end": "08:00"}, "weekly_hours", "Mon: 09:00-08:00 ends before it starts"),
        (
            {"override-0-1-end": "13:00"},
            "date_overrides",
            "2030-12-27: 14:00-13:00 ends before it starts",
        ),
        ({"question-1-options": ""}, "questions", "a select needs options"),
        ({"window_mode": "range", "window_start": "2030-01-01"}, "window_start", "go together"),
    ],
)
def test_rules_of_the_service_are_shown_on_the_form(client, changes, key, message):
    response = client.post("/booking-pages/new", data=settings_form(**changes))
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert re.search(rf'id="e-{key}">[^<]*{re.escape(message)}', html), html
    assert BookingPage.select().count() == 0


def test_a_slug_of_another_owner_is_free_for_mine(client, app, bob):
    calendars.create(bob, "b", "B", "UTC")
    bobs = signed_in_client(app, bob)
    assert bobs.post("/booking-pages/new", data=settings_form(calendar="b")).status_code == 302
    assert client.post("/booking-pages/new", data=settings_form()).status_code == 302
    assert BookingPage.select().count() == 2
    again = client.post("/booking-pages/new", data=settings_form(slug="other"))
    assert again.status_code == 302
    response = client.post("/booking-pages/new", data=settings_form())
    assert response.status_code == 400
    assert "You already have a booking page with the slug &#39;intro&#39;" in response.get_data(
        as_text=True
    )


def test_a_taken_slug_on_edit_keeps_the_form_on_the_stored_page(client):
    client.post("/booking-pages/new", data=settings_form())
    client.post("/booking-pages/new", data=settings_form(slug="other"))
    form = form_of(client.get("/booking-pages/intro").get_data(as_text=True)) | {"slug": ["other"]}
    response = client.post("/booking-pages/intro", data=form)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert 'action="/booking-pages/intro"' in html and 'value="other"' in html
    assert stored(client)["slug"] == "intro"


def test_rows_are_added_and_removed_without_saving(client):
    add = client.post(
        "/booking-pages/new",
        data=settings_form(_action="add-range:hours-mon"),
        headers={"HX-Request": "true"},
    )
    assert add.status_code == 200 and BookingPage.select().count() == 0
    html = add.get_data(as_text=True)
    assert "<html" not in html
    assert re.search(r'name="hours-mon-2-start"[^>]*autofocus', html)
    assert 'value="13:00"' in html  # the other input is kept
    removed = client.post("/booking-pages/new", data=settings_form(_action="remove-question:0"))
    form = form_of(removed.get_data(as_text=True))
    assert (
        form["question-0-label"] == ["How did you hear of us?"] and "question-2-label" not in form
    )
    override = client.post("/booking-pages/new", data=settings_form(_action="add-range:override-1"))
    assert 'name="override-1-0-start"' in override.get_data(as_text=True)
    question = client.post("/booking-pages/new", data=settings_form(_action="add-question"))
    assert re.search(r'name="question-3-label"[^>]*autofocus', question.get_data(as_text=True))
    assert (
        client.post("/booking-pages/new", data=settings_form(_action="explode")).status_code == 400
    )


def test_list_preview_copy_and_embed(client):
    client.post("/booking-pages/new", data=settings_form())
    html = client.get("/booking-pages").get_data(as_text=True)
    assert "Intro call" in html and "http://127.0.0.1:8000/alice/intro" in html
    assert 'data-copy="#copy-' in html
    page = client.get("/booking-pages/intro").get_data(as_text=True)
    assert re.search(
        r'href="http://127.0.0.1:8000/alice/intro" target="_blank" rel="noopener"', page
    )
    assert 'data-copy="#page-url"' in page and 'data-copy="#embed-snippet"' in page
    assert "&lt;div data-calmesh-handle=&#34;alice&#34; data-calmesh-slug=&#34;intro&#34;" in page
    # Both of the seed's snippets, loading the script from the instance's root.
    assert 'data-copy="#embed-popup-snippet"' in page
    assert "data-mode=&#34;inline&#34;" in page and "data-mode=&#34;popup&#34;" in page
    assert re.search(r"src=&#34;https?://[^/&]+/embed\.js&#34;", page)


def test_the_embed_script_is_served_at_the_root_and_under_static(client):
    with client.get("/embed.js") as root, client.get("/static/embed.js") as static:
        assert root.status_code == static.status_code == 200
        assert root.mimetype == "text/javascript" and root.data == static.data
        assert b"data-calmesh-handle" in root.data


def test_active_toggle(client):
    client.post("/booking-pages/new", data=settings_form())
    response = client.post(
        "/booking-pages/intro/active",
        data={"csrf_token": CSRF, "active": "0"},
        headers={"HX-Request": "true"},
    )
    html = response.get_data(as_text=True)
    assert html.lstrip().startswith("<tr") and "Paused" in html
    assert stored(client)["active"] is False
    assert (
        client.post(
            "/booking-pages/intro/active", data={"csrf_token": CSRF, "active": "1"}
        ).status_code
        == 302
    )
    assert stored(client)["active"] is True


def test_delete(client):
    client.post("/booking-pages/new", data=settings_form())
    assert "Delete for good" in client.get("/booking-pages/intro").get_data(as_text=True)
    response = client.post("/booking-pages/intro/delete", data={"csrf_token": CSRF})
    assert response.status_code == 302
    assert BookingPage.select().count() == 0


def test_changes_need_the_csrf_token(client):
    form = settings_form()
    form.pop("csrf_token")
    assert client.post("/booking-pages/new", data=form).status_code in {400, 403}
    assert BookingPage.select().count() == 0


def test_bob_can_neither_see_nor_change_alices_pages(client, app, bob):
    client.post("/booking-pages/new", data=settings_form())
    bobs = signed_in_client(app, bob)
    assert "Intro call" not in bobs.get("/booking-pages").get_data(as_text=True)
    assert bobs.get("/booking-pages/intro").status_code == 404
    assert bobs.post("/booking-pages/intro", data=settings_form(title="Mine")).status_code == 404
    assert (
        bobs.post(
            "/booking-pages/intro/active", data={"csrf_token": CSRF, "active": "0"}
        ).status_code
        == 404
    )
    assert bobs.post("/booking-pages/intro/delete", data={"csrf_token": CSRF}).status_code == 404
    got = stored(client)
    assert got["title"] == "Intro call" and got["active"] is True


def test_new_form_lists_only_my_calendars(client, bob):
    calendars.create(bob, "bobs-secret", "Bob's secret", "UTC")
    html = client.get("/booking-pages/new").get_data(as_text=True)
    assert 'value="work"' in html and "bobs-secret" not in html


def test_titles_and_questions_are_escaped(client):
    form = settings_form(title=XSS, **{"question-0-label": XSS})
    assert client.post("/booking-pages/new", data=form).status_code == 302
    for path in ("/booking-pages", "/booking-pages/intro"):
        html = client.get(path).get_data(as_text=True)
        assert XSS not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_signed_out_visitors_are_sent_to_sign_in(app):
    response = app.test_client().get("/booking-pages")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


# --- the visitors' language and the notes field (issue 17's editor fields) -------------------


def test_the_visitors_language_and_the_notes_field_are_set_in_the_editor(client):
    from calmesh.inputs.booking_pages import SETTINGS

    blank = client.get("/booking-pages/new").get_data(as_text=True)
    offered = re.findall(r'<option value="([a-z]{2})" lang="\1"', blank)
    assert offered == list(SETTINGS["language"].values)  # the declaration's, in its order
    assert form_of(blank)["ask_notes"] == ["1"] and form_of(blank)["language"] == ["en"]

    form = settings_form(language="de")  # and no "ask_notes": the box left unticked
    assert client.post("/booking-pages/new", data=form).status_code == 302
    assert (stored(client)["language"], stored(client)["ask_notes"]) == ("de", False)
    edit = form_of(client.get("/booking-pages/intro").get_data(as_text=True))
    assert edit["language"] == ["de"] and "ask_notes" not in edit

    form = settings_form(language="fr", ask_notes="1")
    assert client.post("/booking-pages/intro", data=form).status_code == 302
    assert (stored(client)["language"], stored(client)["ask_notes"]) == ("fr", True)


def test_an_unknown_language_is_refused_beside_its_select(client):
    response = client.post("/booking-pages/new", data=settings_form(language="xx"))
    assert response.status_code == 400
    html = html_unescape(response.get_data(as_text=True))
    assert '<a href="#f-language">Visitors\' language must be one of en, de, fr, es</a>' in html
    assert (
        'href="#f-language"' in html
        and 'id="f-language" name="language" aria-invalid="true"' in html
    )
    assert BookingPage.select().count() == 0


def test_the_preview_leaves_the_notes_out_when_they_are_not_asked(client):
    asked = settings_form(ask_notes="1", language="es")
    html = client.post("/booking-pages/_preview", data=asked).get_data(as_text=True)
    assert "Anything that will help prepare?" in html and "Español" in html
    html = client.post("/booking-pages/_preview", data=settings_form()).get_data(as_text=True)
    assert "Anything that will help prepare?" not in html
