"""The CalDAV provider against real servers: Radicale and Xandikos.

Another application's changes are made with a plain caldav client, the way a
phone or Thunderbird would make them, and the provider must see exactly
those. Failures (wrong password, nothing listening, malformed answers, a
private address) must come out as readable ProviderErrors.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar
from urllib.parse import urljoin, urlsplit

import caldav
import pytest
from caldav.elements import cdav, dav
from caldav.elements import ical as apple
from caldav.lib import error

from calmesh.engine.ical import EventDraft
from calmesh.engine.recurrence import expand
from calmesh.providers import caldav as provider_module
from calmesh.providers import net, registry
from calmesh.providers.base import (
    AuthError,
    ConnectionInfo,
    HttpSettings,
    ProviderError,
    RemoteCalendarInfo,
)
from calmesh.providers.caldav import ICLOUD_URL, CalDavProvider, ICloudProvider
from tests.conftest import free_port
from tests.providers.feeds import TLS_NAME, FeedServer

WINDOW = (datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))


def vevent(uid: str, summary: str = "Meeting", extra: str = "", start: str = "20260302T090000Z"):
    """One event as another client would write it."""
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Other App//EN\r\n"
        f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20260101T000000Z\r\n"
        f"DTSTART:{start}\r\nDURATION:PT1H\r\nSUMMARY:{summary}\r\n{extra}"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    )


def put(server, calendar_url: str, name: str, ics: str) -> str:
    """PUT ``ics`` at ``name`` in the calendar with a plain client; returns the href (path)."""
    url = urljoin(calendar_url, name)
    with server.client() as client:
        answer = client.put(url, ics, {"Content-Type": "text/calendar; charset=utf-8"})
        assert answer.status in (201, 204), answer.status
    return urlsplit(url).path


def remove(server, calendar_url: str, href: str) -> None:
    with server.client() as client:
        assert client.delete(urljoin(calendar_url, href)).status in (200, 204)


def info_for(calendar_url: str) -> RemoteCalendarInfo:
    return RemoteCalendarInfo(remote_id=calendar_url, name="Test")


@pytest.fixture
def calendar_url(dav_server) -> str:
    return dav_server.new_calendar()


@pytest.fixture
def provider(dav_server) -> CalDavProvider:
    return CalDavProvider(dav_server.connection())


def draft(uid: str, summary: str = "Booked: intro call", sequence: int = 0) -> EventDraft:
    start = datetime(2026, 3, 10, 14, 0, tzinfo=UTC)
    return EventDraft(
        uid=uid,
        summary=summary,
        start=start,
        end=start + timedelta(minutes=30),
        description="Booked through CalMesh",
        sequence=sequence,
        organizer_email="alice@example.org",
        organizer_name="Alice",
        attendees=(("Visitor", "visitor@example.org"),),
    )


# --- calendars -------------------------------------------------------------------


def test_list_calendars_finds_a_new_calendar_with_its_name_color_and_zone(dav_server, provider):
    url = dav_server.new_calendar("Work ünd Play")
    tasks = dav_server.new_calendar("Chores", components=["VTODO"])
    zone = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Other App//EN\r\n"
        "BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\nBEGIN:STANDARD\r\n"
        "DTSTART:19701025T030000\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\n"
        "END:STANDARD\r\nEND:VTIMEZONE\r\nEND:VCALENDAR\r\n"
    )
    with dav_server.client() as client:
        caldav.Calendar(client=client, url=url).set_properties(
            [apple.CalendarColor("#FF8800FF"), cdav.CalendarTimeZone(zone)]
        )

    found = {c.remote_id: c for c in provider.list_calendars()}

    assert found[url].name == "Work ünd Play"
    assert found[url].color == "#FF8800"
    assert found[url].timezone == "Europe/Berlin"
    assert found[url].writable is True
    assert tasks not in found, "a task list has no events to sync"


# --- reading ---------------------------------------------------------------------------


def test_recurring_event_with_an_override_and_an_exdate_round_trips(
    dav_server, provider, calendar_url
):
    series = (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Other App//EN\r\n"
        "BEGIN:VEVENT\r\nUID:standup@test\r\nDTSTAMP:20260101T000000Z\r\n"
        "DTSTART;TZID=Europe/Berlin:20260323T090000\r\nDURATION:PT15M\r\n"
        "RRULE:FREQ=DAILY;COUNT=10\r\nEXDATE;TZID=Europe/Berlin:20260325T090000\r\n"
        "SUMMARY:Standup\r\nEND:VEVENT\r\n"
        "BEGIN:VEVENT\r\nUID:standup@test\r\nDTSTAMP:20260101T000000Z\r\n"
        "RECURRENCE-ID;TZID=Europe/Berlin:20260327T090000\r\n"
        "DTSTART;TZID=Europe/Berlin:20260327T113000\r\nDURATION:PT15M\r\n"
        "SUMMARY:Standup (late)\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    put(dav_server, calendar_url, "standup.ics", series)

    [obj] = provider.changes(info_for(calendar_url), None, WINDOW).changed

    assert "RECURRENCE-ID" in obj.ical and "EXDATE" in obj.ical
    occurrences = expand(obj.ical, *WINDOW)
    starts = [o.start for o in occurrences]
    assert len(occurrences) == 9  # ten, less the excluded one
    assert datetime(2026, 3, 25, 8, 0, tzinfo=UTC) not in starts
    assert datetime(2026, 3, 27, 10, 30, tzinfo=UTC) in starts  # the override, in CET
    assert datetime(2026, 3, 30, 7, 0, tzinfo=UTC) in starts  # after the DST change: CEST


def test_all_day_and_transparent_events_keep_their_data(dav_server, provider, calendar_url):
    put(
        dav_server,
        calendar_url,
        "holiday.ics",
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Other App//EN\r\n"
        "BEGIN:VEVENT\r\nUID:holiday@test\r\nDTSTAMP:20260101T000000Z\r\n"
        "DTSTART;VALUE=DATE:20260501\r\nDTEND;VALUE=DATE:20260502\r\n"
        "SUMMARY:Holiday\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
    )
    put(
        dav_server, calendar_url, "free.ics", vevent("free@test", "Focus", "TRANSP:TRANSPARENT\r\n")
    )

    objects = {
        o.href.rsplit("/", 1)[1]: o
        for o in provider.changes(info_for(calendar_url), None, WINDOW).changed
    }

    assert "DTSTART;VALUE=DATE:20260501" in objects["holiday.ics"].ical
    [holiday] = expand(objects["holiday.ics"].ical, *WINDOW)
    assert (holiday.all_day, holiday.start_date, holiday.end_date) == (
        True,
        date(2026, 5, 1),
        date(2026, 5, 2),
    )
    assert "TRANSP:TRANSPARENT" in objects["free.ics"].ical
    assert expand(objects["free.ics"].ical, *WINDOW)[0].busy is False


def test_to_dos_in_a_calendar_are_not_reported_as_events(dav_server, provider, calendar_url):
    event = put(dav_server, calendar_url, "event.ics", vevent("event@test"))
    put(
        dav_server,
        calendar_url,
        "todo.ics",
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Other App//EN\r\n"
        "BEGIN:VTODO\r\nUID:todo@test\r\nDTSTAMP:20260101T000000Z\r\nSUMMARY:Buy milk\r\n"
        "END:VTODO\r\nEND:VCALENDAR\r\n",
    )

    changes = provider.changes(info_for(calendar_url), None, WINDOW)

    assert [o.href for o in changes.changed] == [event]


# --- sync tokens ---------------------------------------------------------------------


def test_what_each_server_answers_to_a_token_it_does_not_know(dav_server, calendar_url):
    """Documents the two answers the provider must recognise (caldav's fallback off)."""
    with dav_server.client() as client:
        remote = caldav.Calendar(client=client, url=calendar_url)
        with pytest.raises(error.DAVError) as refused:
            remote.get_objects_by_sync_token(
                sync_token="no-such-token", load_objects=False, disable_fallback=True
            )
    expected = {"Radicale": 403, "Xandikos": 412}[dav_server.name]
    assert refused.value.status == expected
    assert dav.ValidSyncToken.tag in refused.value.preconditions


# --- request counts ------------------------------------------------------------------


def test_a_full_sync_is_one_request_and_an_oversized_answer_falls_back_to_batches(
    dav_server, calendar_url, monkeypatch
):
    with dav_server.client() as client:
        for i in range(200):
            client.put(urljoin(calendar_url, f"bulk{i}.ics"), vevent(f"bulk{i}@test"))
    provider = CalDavProvider(dav_server.connection())
    # Radicale sends the text in the sync-collection (after the 401 that asks
    # for the password); Xandikos answers 404 for it: one multiget follows.
    one_sync = {"Radicale": 2, "Xandikos": 2}[dav_server.name]

    full = provider.changes(info_for(calendar_url), None, WINDOW)
    renamed = put(dav_server, calendar_url, "bulk7.ics", vevent("bulk7@test", "Renamed"))
    incremental = provider.changes(info_for(calendar_url), full.token, WINDOW)

    assert len(full.changed) == 200
    assert full.requests == one_sync
    assert [o.href for o in incremental.changed] == [renamed]
    assert "SUMMARY:Renamed" in incremental.changed[0].ical
    assert incremental.requests == full.requests

    # An answer with every event's text over the cap: the list without the
    # text, then multigets of up to 64 (200 hrefs: four of them).
    monkeypatch.setattr(provider_module, "MULTIGET_BATCH", 64)
    listing_only = len(full.changed) * 400
    small = CalDavProvider(dav_server.connection(max_bytes=listing_only))
    batched = small.changes(info_for(calendar_url), None, WINDOW)
    assert {o.href for o in batched.changed} == {o.href for o in full.changed}
    assert all("BEGIN:VEVENT" in o.ical and o.etag for o in batched.changed)
    # Radicale: the 401, the refused answer, the list; Xandikos: the list.
    assert batched.requests == {"Radicale": 3, "Xandikos": 1}[dav_server.name] + 4


# --- writing -------------------------------------------------------------------------


def test_provider_writes_are_stored_as_written_for_other_clients(
    dav_server, provider, calendar_url
):
    # That sync sees them, and deleting twice, is the contract's (test_contract.py).
    uid = f"{uuid.uuid4()}@calmesh.test"
    href = provider.create_event(calendar_url, draft(uid))

    with dav_server.client() as client:
        remote = caldav.Calendar(client=client, url=calendar_url)
        [seen] = remote.get_events()
        assert urlsplit(str(seen.url)).path == urlsplit(calendar_url).path + href.rsplit("/", 1)[1]
        assert "Booked: intro call" in seen.data
        assert "SEQUENCE:0" in seen.data, "stored as written, SEQUENCE not bumped"

    assert provider.update_event(calendar_url, href, draft(uid, "Moved call", 1)) == href
    with dav_server.client() as client:
        [seen] = caldav.Calendar(client=client, url=calendar_url).get_events()
        assert "Moved call" in seen.data and "SEQUENCE:1" in seen.data

    provider.delete_event(calendar_url, href)
    with dav_server.client() as client:
        assert caldav.Calendar(client=client, url=calendar_url).get_events() == []


def test_an_event_that_cannot_be_written_is_refused_before_sending(dav_server, calendar_url):
    provider = CalDavProvider(dav_server.connection())
    bad = EventDraft("bad@test", "x", datetime(2026, 3, 1, 9), datetime(2026, 3, 1, 10))

    with pytest.raises(ProviderError, match="timezone-aware"):
        provider.create_event(calendar_url, bad)
    assert provider.requests == 0


def test_create_returns_where_another_client_already_stored_the_uid(
    dav_server, provider, calendar_url
):
    theirs = put(dav_server, calendar_url, "their-name.ics", vevent("shared@test"))

    assert provider.create_event(calendar_url, draft("shared@test")) == theirs


def test_a_uid_with_odd_characters_keeps_one_href_everywhere(dav_server, provider, calendar_url):
    uid = "odd uid/with@signs+ü;%"
    href = provider.create_event(calendar_url, draft(uid))
    snapshot = provider.changes(info_for(calendar_url), None, WINDOW)
    assert [o.href for o in snapshot.changed] == [href]

    provider.delete_event(calendar_url, href)
    after = provider.changes(info_for(calendar_url), snapshot.token, WINDOW)
    assert after.deleted == [href]


# --- failures ------------------------------------------------------------------------


def test_wrong_password_is_an_auth_error_without_the_password(radicale):
    connection = radicale.connection()
    connection.credentials = {"username": "alice", "password": "not-the-Secret-42"}

    with pytest.raises(AuthError) as refused:
        CalDavProvider(connection).list_calendars()

    assert refused.value.permanent is True
    assert "username or password" in str(refused.value)
    assert "not-the-Secret-42" not in str(refused.value)


def test_missing_calendar_is_a_provider_error(dav_server, provider):
    gone = urlsplit(dav_server.url)._replace(path=urlsplit(dav_server.url).path + "nope/")

    with pytest.raises(ProviderError, match="404"):
        provider.changes(info_for(gone.geturl()), None, WINDOW)


def test_nothing_listening_is_a_quick_retryable_error():
    connection = ConnectionInfo(
        kind="caldav",
        endpoint=f"http://127.0.0.1:{free_port()}/dav/",
        credentials={"username": "alice", "password": "pw-42"},
        http=HttpSettings(allow_private=True, timeout=40),
    )
    started = time.monotonic()

    with pytest.raises(ProviderError, match="could not connect") as failed:
        CalDavProvider(connection).list_calendars()

    # A refused connection is reported at once, not after the timeout: a ratio.
    assert time.monotonic() - started < connection.http.timeout / 4
    assert failed.value.permanent is False
    assert "pw-42" not in str(failed.value)


def test_private_address_is_refused_unless_allowed(radicale):
    connection = radicale.connection(allow_private=False)
    provider = CalDavProvider(connection)

    with pytest.raises(net.BlockedAddress, match="private or local address"):
        provider.list_calendars()
    assert provider.requests == 0, "refused before connecting"


class Stub(BaseHTTPRequestHandler):
    """Answers every request with the class's status, headers and body."""

    status = 207
    headers_out: ClassVar[dict[str, str]] = {}
    body = b""
    received: ClassVar[int] = 0

    def _answer(self) -> None:
        type(self).received += 1
        self.send_response(self.status)
        for name, value in self.headers_out.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    do_PROPFIND = do_REPORT = do_GET = do_OPTIONS = _answer

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def stub() -> Iterator[tuple[str, type[Stub]]]:
    handler = type("Handler", (Stub,), {})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/dav/", handler
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.mark.parametrize(
    ("status", "content_type", "body", "message"),
    [
        (207, "application/xml", b"<?xml version='1.0'?><multistatus xmlns='DAV:'><resp", "XML"),
        (200, "text/html", b"<!doctype html><p>Welcome to our site</p>", "text/html"),
        (207, "application/xml", b"<html>hi</html>", "not a WebDAV multistatus"),
        (200, "text/plain", b"", "not a WebDAV multistatus"),
    ],
    ids=["truncated-xml", "web-page", "wrong-xml", "empty"],
)
def test_malformed_answer_is_a_readable_provider_error(stub, status, content_type, body, message):
    url, handler = stub
    handler.status, handler.headers_out, handler.body = status, {"Content-Type": content_type}, body
    provider = CalDavProvider(ConnectionInfo("caldav", url, {}, HttpSettings(allow_private=True)))

    with pytest.raises(ProviderError, match=message):
        provider.list_calendars()
    with pytest.raises(ProviderError, match=message):
        provider.changes(info_for(url), None, WINDOW)


def test_a_redirect_to_a_private_address_is_refused(stub, monkeypatch):
    url, handler = stub
    handler.status = 301
    handler.headers_out = {"Location": f"http://127.0.0.2:{urlsplit(url).port}/dav/"}
    # Only the stub's own address counts as public here: the redirect target must not.
    monkeypatch.setattr(net, "is_public", lambda address: address == "127.0.0.1")
    provider = CalDavProvider(ConnectionInfo("caldav", url, {}, HttpSettings(allow_private=False)))

    with pytest.raises(net.BlockedAddress, match=r"127\.0\.0\.2"):
        provider.list_calendars()
    assert provider.requests == 2  # the first request, and the redirect it was refused


def test_an_oversized_answer_is_refused(stub):
    url, handler = stub
    handler.body = b"<multistatus xmlns='DAV:'>" + b" " * 4096 + b"</multistatus>"
    provider = CalDavProvider(
        ConnectionInfo("caldav", url, {}, HttpSettings(allow_private=True, max_bytes=1024))
    )

    with pytest.raises(ProviderError, match="more than"):
        provider.list_calendars()


# --- iCloud ----------------------------------------------------------------------------


def test_icloud_without_an_endpoint_uses_apples_url(monkeypatch):
    asked = []

    def guard(url: str, allow_private: bool, **_: object) -> None:
        asked.append(url)
        raise ProviderError("stopped before the network")

    monkeypatch.setattr(net, "check_url", guard)
    connection = ConnectionInfo("icloud", "", {"username": "a@icloud.com", "password": "abcd"})
    provider = registry.build(connection)

    assert isinstance(provider, ICloudProvider)
    assert provider.url == ICLOUD_URL == "https://caldav.icloud.com/"
    with pytest.raises(ProviderError, match="stopped"):
        provider.list_calendars()
    assert asked == [ICLOUD_URL]
    own = ConnectionInfo("icloud", "https://p42-caldav.icloud.com/", {})
    assert ICloudProvider(own).url == "https://p42-caldav.icloud.com/"


def test_a_name_rebound_to_loopback_after_the_check_never_reaches_it(stub, network):
    # First lookup public, later ones 127.0.0.1: niquests connects through the
    # provider's resolver, which looks the name up once, checks it and pins it.
    url, handler = stub
    port = urlsplit(url).port
    network.answer("rebind.test", ["93.184.215.14"], ["127.0.0.1"])
    info = ConnectionInfo("caldav", f"http://rebind.test:{port}/dav/", {}, HttpSettings(timeout=2))

    with pytest.raises(ProviderError, match="could not connect"):
        CalDavProvider(info).list_calendars()
    assert handler.received == 0
    assert network.attempts and set(network.attempts) == {("93.184.215.14", port)}


def test_a_name_with_a_private_address_is_refused_at_connect(stub, network):
    url, handler = stub
    network.answer("mixed.test", ["93.184.215.14", "::ffff:0:7f00:1"])
    info = ConnectionInfo("caldav", f"http://mixed.test:{urlsplit(url).port}/dav/", {})

    with pytest.raises(net.BlockedAddress):
        CalDavProvider(info).list_calendars()
    assert handler.received == 0
    assert network.attempts == []


def test_a_lan_server_by_name_works_when_private_addresses_are_allowed(radicale, network):
    # The pinned resolver is in the way of every request, and keeps the Host header.
    parts = urlsplit(radicale.url)
    network.answer("dav.lan.test", ["127.0.0.1"])
    info = radicale.connection()
    info.endpoint = parts._replace(netloc=f"dav.lan.test:{parts.port}").geturl()
    radicale.new_calendar("Pinned")

    names = [c.name for c in CalDavProvider(info).list_calendars()]
    assert "Pinned" in names
    assert network.lookups["dav.lan.test"] >= 1


def test_tls_names_and_verifies_the_host_not_the_pinned_address(network, monkeypatch):
    with FeedServer(tls=True) as feeds:
        port = int(feeds.base_url.rsplit(":", 1)[1])
        network.answer(TLS_NAME, ["127.0.0.1"])
        network.answer("impostor.test", ["127.0.0.1"])
        plain = caldav.get_davclient

        def trusting(**kw):
            # The test's own certificate authority; nothing else about the client changes.
            return plain(**kw, ssl_verify_cert=str(feeds.ca_file))

        monkeypatch.setattr(caldav, "get_davclient", trusting)
        settings = HttpSettings(allow_private=True, timeout=5)

        with pytest.raises(ProviderError, match="404"):  # reached, by name
            CalDavProvider(
                ConnectionInfo("caldav", f"https://{TLS_NAME}:{port}/dav/", {}, settings)
            ).list_calendars()
        assert feeds.server_names == [TLS_NAME]
        assert feeds.last("dav/").headers["host"] == f"{TLS_NAME}:{port}"
        # The certificate is valid for 127.0.0.1 too: checked against the pinned
        # address instead of the name, this would pass.
        with pytest.raises(ProviderError, match="certificate was refused"):
            CalDavProvider(
                ConnectionInfo("caldav", f"https://impostor.test:{port}/dav/", {}, settings)
            ).list_calendars()
        assert feeds.requests["dav/"] == 1
