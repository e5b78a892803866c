"""Visitors' languages: every public page and every visitor or participant mail,
rendered in English, German, French and Spanish, holds no English left over.

How "no untranslated string" is checked, two ways:

* the catalogues: the messages extracted from the sources *now* (Babel's own
  extractor over ``calmesh/translations/babel.cfg``) are exactly those of each
  ``.po``, each translated, each ``.mo`` compiled from its ``.po``; a new
  ``_()`` without a translation fails here;
* the renders: a page or mail in German (French, Spanish) is compared word by
  word with the same page in English. A word of three letters or more that
  the English render has and the other one still shows is untranslated text,
  unless it is data (the page's title, names, zone names, links), a name the
  locale itself spells so (CLDR's month and day names) or a word the
  language's catalogue uses (German "Name", French "Total"). Text written
  into a template without ``_()`` fails here.
"""

from __future__ import annotations

import io
import json
import re
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest
from babel import Locale
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from calmesh.effects import booking_mail, visitor_mail
from calmesh.effects.visitor_mail import visitor_token
from calmesh.i18n import LANGUAGES
from calmesh.models import Booking, Participant, Poll, PollOption
from calmesh.schema import iana_zones
from calmesh.services import booking_pages, bookings, polls
from calmesh.urls import links
from tests.web.test_public_booking import CSRF_FIELD, a_day, berlin, make_page

ROOT = Path(__file__).resolve().parents[1]
TRANSLATIONS = ROOT / "calmesh" / "translations"
OTHERS = [code for code in LANGUAGES if code != "en"]
WORD = re.compile(r"[^\W\d_]{3,}")
# Data the test itself puts on the pages, and names no language translates.
DATA = (
    "Intro call Alice Video call Company Team size Send me a reminder Acme Visitor Vera "
    "Agenda first A reason vera visitor example org alice Team dinner Somewhere nice Berlin CalMesh English Deutsch "
    "Français Español Office Outlook com Google ics booking event https http localhost"
)


# --- the catalogues -----------------------------------------------------------------


def extracted() -> set[str | tuple[str, ...]]:
    method_map, options_map = _babel_config()
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(ROOT),
        method_map,
        options_map,
        keywords={"_": None, "gettext": None, "ngettext": (1, 2), "lazy_gettext": None},
    ):
        found.add(message if isinstance(message, str) else tuple(message))
    return found


def _babel_config():
    from babel.messages.frontend import parse_mapping_cfg

    with open(TRANSLATIONS / "babel.cfg") as config:
        return parse_mapping_cfg(config)


def catalogue(lang: str):
    with open(TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po", "rb") as po:
        return read_po(po, locale=lang)


@pytest.mark.parametrize("lang", OTHERS)
def test_every_message_in_the_sources_is_translated(lang):
    wanted = extracted()
    assert len(wanted) > 150  # the extractor did read the templates and modules
    po = catalogue(lang)
    have = {m.id if isinstance(m.id, str) else tuple(m.id): m for m in po if m.id}
    assert sorted(map(str, wanted - set(have))) == [], "run: bash scripts/i18n.sh extract"
    assert sorted(map(str, set(have) - wanted)) == [], "obsolete entries: scripts/i18n.sh extract"
    untranslated = [
        m.id
        for m in have.values()
        if not (all(m.string) if isinstance(m.string, tuple) else m.string) or m.fuzzy
    ]
    assert untranslated == []


def _key(value):
    return value if isinstance(value, str) else tuple(value)


@pytest.mark.parametrize("lang", OTHERS)
def test_each_compiled_catalogue_is_its_po(lang):
    with open(TRANSLATIONS / lang / "LC_MESSAGES" / "messages.mo", "rb") as mo:
        compiled = {_key(m.id): _key(m.string) for m in read_mo(mo) if m.id}
    written = {_key(m.id): _key(m.string) for m in catalogue(lang) if m.id}
    assert compiled == written, "run: bash scripts/i18n.sh compile"


@pytest.mark.parametrize("lang", OTHERS)
def test_placeholders_survive_translation(lang):
    for m in catalogue(lang):
        if not m.id:
            continue
        ids = m.id if isinstance(m.id, tuple) else (m.id,)
        strings = m.string if isinstance(m.string, tuple) else (m.string,)
        wanted = set(re.findall(r"%\(\w+\)[sd]", ids[-1]))
        for string in strings:
            assert set(re.findall(r"%\(\w+\)[sd]", string)) == wanted, (m.id, string)


# --- the renders --------------------------------------------------------------------


class _Text(HTMLParser):
    """What a visitor reads: text, and the attributes read aloud or shown."""

    SHOWN = ("aria-label", "title", "placeholder", "label", "alt", "data-booker-text")

    def __init__(self):
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self._skip += 1
        for name, value in attrs:
            if name == "data-booker-text":
                self.parts.extend(json.loads(value).values())  # the zone picker's words
            elif name in self.SHOWN and value:
                self.parts.append(value)

    def handle_endtag(self, tag):
        if tag in ("script", "style") and self._skip:
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)


def words_of(text: str, html: bool = True) -> set[str]:
    if html:
        parser = _Text()
        parser.feed(text)
        text = " ".join(parser.parts)
    text = re.sub(r"https?://\S+", " ", text)
    return set(WORD.findall(text))


def allowed(lang: str) -> set[str]:
    """Words a page in ``lang`` may share with English."""
    locale = Locale.parse(lang)
    names = [
        *locale.months["format"]["wide"].values(),
        *locale.months["stand-alone"]["wide"].values(),
        *locale.months["format"]["abbreviated"].values(),
        *locale.days["format"]["wide"].values(),
        *locale.days["format"]["abbreviated"].values(),
        *locale.days["stand-alone"]["abbreviated"].values(),
        *locale.day_periods["format"]["abbreviated"].values(),
    ]
    translated = [
        s
        for m in catalogue(lang)
        if m.id
        for s in (m.string if isinstance(m.string, tuple) else (m.string,))
    ]
    zones = [z.replace("_", " ").replace("/", " ") for z in iana_zones()]
    return words_of(" ".join([DATA, *names, *translated, *zones]), html=False)


def untranslated(english: str, other: str, lang: str, html: bool = True) -> set[str]:
    return (words_of(english, html) & words_of(other, html)) - allowed(lang)


def get(client, url: str, lang: str, status: int = 200) -> str:
    # An app context per request, as in production: the fixture's would keep the
    # first request's language in ``g`` for the next.
    with client.application.app_context():
        response = client.get(url, headers={"Accept-Language": lang})
    assert response.status_code == status, (url, response.status_code)
    return response.get_data(as_text=True)


@pytest.fixture
def page(app, alice):
    return make_page(alice)


@pytest.fixture
def booking(app, page):
    with app.test_request_context():
        booking, _ = bookings.book(
            page,
            start=berlin(11),
            duration=None,
            attendee=bookings.Attendee("Vera Visitor", "vera@example.org", "America/New_York"),
            notes="Agenda first",
            answers={"company": "Acme", "ok": True},
        )
    return booking


def public_urls(booking: Booking) -> list[tuple[str, int]]:
    view = visitor_token(booking, "view")
    move = visitor_token(booking, "reschedule")
    cancel = visitor_token(booking, "cancel")
    start = berlin(15).isoformat().replace("+00:00", "Z")
    return [
        ("/alice/intro", 200),
        (f"/alice/intro?date={a_day()}", 200),
        (f"/alice/intro?start={start}", 200),
        (f"/alice/intro?start={start}&embed=1", 200),
        (f"/b/{booking.uid}/confirmed?token={view}", 200),
        (f"/b/{booking.uid}?token={bookings.manage_token(booking)}", 200),
        (f"/b/{booking.uid}/reschedule?token={move}", 200),
        (f"/b/{booking.uid}/reschedule?token={move}&start={start}", 200),
        (f"/b/{booking.uid}/cancel?token={cancel}", 200),
        (f"/b/{booking.uid}/cancel?token={move}", 403),
        ("/alice/nothing-here", 404),
        ("/alice", 200),
    ]


@pytest.mark.parametrize("lang", OTHERS)
def test_every_booking_page_is_in_the_visitors_language(app, page, booking, lang):
    booking_pages.create(
        page.user,
        booking_pages.NEW_PAGE.parse(
            {
                "slug": "paused",
                "title": "Intro call",
                "calendar": "work",
                "timezone": "Europe/Berlin",
                "active": False,
            }
        ),
    )
    page.user.public_profile = True
    page.user.save()
    client = app.test_client()
    for url, status in [*public_urls(booking), ("/alice/paused", 410)]:
        english, other = get(client, url, "en", status), get(client, url, lang, status)
        assert f'<html lang="{lang}">' in other
        assert untranslated(english, other, lang) == set(), url


@pytest.mark.parametrize("lang", OTHERS)
def test_the_form_errors_and_the_cancelled_page_are_translated(app, page, booking, lang):
    client = app.test_client()
    start = berlin(15).isoformat().replace("+00:00", "Z")
    pages = {}
    for code in ("en", lang):
        form = get(client, f"/alice/intro?start={start}", code)
        with app.app_context():
            refused = client.post(
                "/alice/intro",
                data={"csrf_token": CSRF_FIELD.search(form).group(1), "start": start, "email": "x"},
                headers={"Accept-Language": code},
            )
        assert refused.status_code == 400
        pages[code] = refused.get_data(as_text=True)
    assert untranslated(pages["en"], pages[lang], lang) == set()

    cancel = visitor_token(booking, "cancel")
    with app.test_request_context():
        bookings.cancel(booking)
    url = f"/b/{booking.uid}/cancel?token={cancel}"
    english, other = get(client, url, "en"), get(client, url, lang)
    assert "/alice/intro" in other  # book another time
    assert untranslated(english, other, lang) == set()


def test_the_switcher_overrides_the_browser_and_is_kept(app, page):
    client = app.test_client()
    first = client.get("/alice/intro?lang=fr", headers={"Accept-Language": "de"})
    assert '<html lang="fr">' in first.get_data(as_text=True)
    assert "calmesh_lang=fr" in first.headers["Set-Cookie"]
    # The links of the flow carry it too (an embed's frame may have no cookies).
    assert "lang=fr" in re.search(r'class="slot" href="([^"]+)"', first.get_data(as_text=True))[1]
    later = client.get("/alice/intro", headers={"Accept-Language": "de"})
    assert '<html lang="fr">' in later.get_data(as_text=True)


def test_the_page_default_serves_browsers_asking_for_no_language_we_speak(app, page):
    booking_pages.update(page, {"language": "es"})
    client = app.test_client()
    assert '<html lang="es">' in get(client, "/alice/intro", "ja")
    assert '<html lang="de">' in get(client, "/alice/intro", "de-AT")


def test_the_clock_follows_the_locale_unless_chosen(app, page):
    client = app.test_client()
    day = f"/alice/intro?tz=Europe/Berlin&date={a_day()}"
    slot = re.compile(r'class="slot"[^>]*>([^<]+)<')
    assert re.fullmatch(r"9:00\sAM", slot.search(get(client, day, "en-US"))[1])
    assert slot.search(get(client, day, "en-GB"))[1] == "09:00"
    assert slot.search(get(client, day, "de"))[1] == "09:00"
    assert slot.search(get(client, day + "&clock=12", "de"))[1].startswith("9:00")


def test_the_owner_dashboard_stays_english(app, alice):
    from tests.conftest import signed_in_client

    owner = signed_in_client(app, alice)
    html = owner.get("/booking-pages", headers={"Accept-Language": "de"}).get_data(as_text=True)
    assert '<html lang="en">' in html and "Zum Inhalt" not in html


# --- the mails ----------------------------------------------------------------------


def _mails(app, booking_: Booking, lang: str) -> list[str]:
    Booking.update(attendee_locale=lang).where(Booking.id == booking_.id).execute()
    fresh = Booking.get_by_id(booking_.id)
    texts = []
    with app.test_request_context():
        for what in ("requested", "accepted", "rescheduled", "declined", "cancelled"):
            subject, body = visitor_mail.booking_notice(fresh, what, "A reason", links())
            texts.append(f"{subject}\n{body}")
        draft = visitor_mail.visitor_draft(fresh, links())
        texts.append(draft.description)
    return texts


@pytest.mark.parametrize("lang", OTHERS)
def test_every_visitor_mail_and_its_ics_text_is_translated(app, booking, lang):
    english = _mails(app, booking, "en")
    other = _mails(app, booking, lang)
    for en, text in zip(english, other, strict=True):
        assert untranslated(en, text, lang, html=False) == set(), text


@pytest.fixture
def poll(app, alice) -> Poll:
    start = datetime(2031, 3, 10, 18, tzinfo=UTC)
    with app.test_request_context():
        return polls.create(
            alice,
            polls.NEW_POLL.parse(
                {
                    "title": "Team dinner",
                    "location": "Berlin",
                    "timezone": "Europe/Berlin",
                    "options": [
                        {"start": (start + timedelta(days=i)).isoformat()} for i in range(2)
                    ],
                    "duration": 90,
                }
            ),
        )


def _poll_mails(app, poll: Poll, lang: str) -> list[str]:
    with app.test_request_context():
        participant = Participant.get_or_none(Participant.poll == poll) or polls.vote(
            poll, "Vera Visitor", "vera@example.org", [], "America/New_York"
        )
        Participant.update(locale=lang).where(Participant.id == participant.id).execute()
        participant = Participant.get_by_id(participant.id)
        options = list(PollOption.of(poll))
        votes = {options[0].id: "yes"}
        subject, body = visitor_mail.vote_saved(
            poll, participant, options, votes, "America/New_York", "https://x.example/p/1"
        )
        texts = [f"{subject}\n{body}"]
        for method in ("REQUEST", "CANCEL"):
            subject, body = visitor_mail.poll_invitation(
                poll, options[0], participant, "America/New_York", method, links()
            )
            texts.append(f"{subject}\n{body}")
        texts.append(visitor_mail.poll_draft(poll, options[0], participant).description)
    return texts


@pytest.mark.parametrize("lang", OTHERS)
def test_every_participant_mail_and_the_poll_page_are_translated(app, poll, lang):
    for en, text in zip(_poll_mails(app, poll, "en"), _poll_mails(app, poll, lang), strict=True):
        assert untranslated(en, text, lang, html=False) == set(), text
    client = app.test_client()
    participant = Participant.get(Participant.poll == poll)
    token = polls.vote_token(participant, poll)
    urls = [f"/p/{poll.public_id}", f"/p/{poll.public_id}?token={token}"]
    for url in urls:
        english, other = get(client, url, "en"), get(client, url, lang)
        assert untranslated(english, other, lang) == set(), url
    with app.test_request_context():
        polls.decide(poll, PollOption.of(poll).first().id)
    english, other = get(client, urls[0], "en"), get(client, urls[0], lang)
    assert "calendar.google.com" in other
    assert untranslated(english, other, lang) == set()


def test_a_queued_visitor_mail_speaks_the_language_of_the_booking(app, page):
    from calmesh.models import OutboxItem

    client = app.test_client()
    start = berlin(15).isoformat().replace("+00:00", "Z")
    form = get(client, f"/alice/intro?start={start}", "de")
    done = client.post(
        "/alice/intro",
        data={
            "csrf_token": CSRF_FIELD.search(form).group(1),
            "start": start,
            "tz": "Europe/Berlin",
            "name": "Vera Visitor",
            "email": "vera@example.org",
            "answers.company": "Acme",
        },
        headers={"Accept-Language": "de-DE"},
    )
    assert done.status_code == 303
    assert Booking.get().attendee_locale == "de_DE"
    booking = Booking.get()
    # Queued as an intent; rendered as the scheduler renders it at delivery.
    queued = {
        i.payload["role"]: i.payload for i in OutboxItem.select() if i.kind == booking_mail.KIND
    }
    with app.app_context():
        visitor = booking_mail.attendee_mail(booking, queued["attendee"]["what"], "", links())
        owner = booking_mail.owner_mail(booking, queued["owner"]["what"], "", links())
    assert visitor.subject == "Bestätigt: Intro call" and "Hallo Vera Visitor," in visitor.body
    assert "Bei Alice über CalMesh gebucht." in io.StringIO(visitor.ics or "").read().replace(
        "\r\n ", ""
    )
    assert "Booking confirmed" in owner.subject  # the owner's mail stays English


def test_participants_mails_follow_their_page_language(app, poll):
    client = app.test_client()
    page = get(client, f"/p/{poll.public_id}", "fr")
    csrf = CSRF_FIELD.search(page).group(1)
    option = PollOption.of(poll).first()
    response = client.post(
        f"/p/{poll.public_id}",
        data={
            "csrf_token": csrf,
            "name": "Vera",
            "email": "vera@example.org",
            f"vote-{option.id}": "yes",
        },
        headers={"Accept-Language": "fr-FR"},
    )
    assert response.status_code == 303
    assert Participant.get().locale == "fr_FR"


def test_the_public_profile_lists_active_pages_only_when_the_owner_turns_it_on(app, alice, page):
    from tests.conftest import CSRF, signed_in_client

    visitor = app.test_client()
    assert "Intro call" not in get(visitor, "/alice", "en", 404)  # off by default
    owner = signed_in_client(app, alice)
    saved = owner.post(
        "/profile",
        data={
            "csrf_token": CSRF,
            "name": "Alice",
            "timezone": "Europe/Berlin",
            "public_profile": "1",
        },
    )
    assert saved.status_code == 302
    listed = get(visitor, "/alice", "de")
    assert "/alice/intro" in listed and "Wählen Sie, was Sie buchen möchten." in listed
    booking_pages.update(page, {"active": False})
    assert "/alice/intro" not in get(visitor, "/alice", "en")
