"""The provider contract (calmesh.providers.base.Provider), held by every provider.

One suite, run against each kind of remote CalMesh syncs with: Radicale and
Xandikos (CalDAV), a served iCal feed (tests/providers/feeds.py), and the
Google and Microsoft stand-ins (tests/standins/). A :class:`Backend` is
"another client" of that remote: it adds, edits and removes events there the
way the owner's calendar app would, and spoils a sync token the way the
service does. What is really specific to one provider (request counts, a
service's answer shapes, its faults) stays in that provider's own test module.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, unquote, urljoin, urlsplit

import pytest

from calmesh.engine.ical import EventDraft
from calmesh.engine.recurrence import Occurrence, expand
from calmesh.providers import registry
from calmesh.providers.base import (
    ChangeSet,
    ConnectionInfo,
    HttpSettings,
    Provider,
    ReadOnlyError,
    RemoteCalendarInfo,
    RemoteObject,
)
from tests.providers.feeds import FeedServer

WINDOW = (datetime(2027, 1, 1, tzinfo=UTC), datetime(2028, 1, 1, tzinfo=UTC))
START = datetime(2027, 7, 5, 8, 0, tzinfo=UTC)


def occurrences(obj: RemoteObject) -> list[Occurrence]:
    """What the sync service would store for ``obj`` over WINDOW."""
    if obj.occurrences is not None:
        return list(obj.occurrences)
    return expand(obj.ical, *WINDOW)


def hrefs(changes: ChangeSet) -> set[str]:
    return {o.href for o in changes.changed}


# --- the remotes, as another client sees them ---------------------------------------------


class Backend:
    """One remote calendar and a second client of it. ``add`` returns the href the
    provider reports the new event under."""

    kind: str
    writable = True

    def provider(self) -> Provider:
        raise NotImplementedError

    def calendar(self) -> RemoteCalendarInfo:
        raise NotImplementedError

    def add(self, uid: str, summary: str, start: datetime, minutes: int = 60) -> str:
        raise NotImplementedError

    def rename(self, href: str, summary: str) -> None:
        raise NotImplementedError

    def remove(self, href: str) -> None:
        raise NotImplementedError

    def refuse(self, token: str) -> str:
        """A token the remote no longer accepts, where ``token`` was a good one."""
        raise NotImplementedError

    def missing_href(self) -> str:
        raise NotImplementedError


def _vcalendar(uid: str, summary: str, start: datetime, minutes: int) -> str:
    end = start + timedelta(minutes=minutes)
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Other App//EN\r\n"
        f"BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20260101T000000Z\r\n"
        f"DTSTART:{start:%Y%m%dT%H%M%SZ}\r\nDTEND:{end:%Y%m%dT%H%M%SZ}\r\n"
        f"SUMMARY:{summary}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )


class CalDav(Backend):
    kind = "caldav"

    def __init__(self, server):
        self.server = server
        self.url = server.new_calendar()
        self.texts: dict[str, tuple[str, datetime, int]] = {}

    def provider(self) -> Provider:
        return registry.build(self.server.connection())

    def calendar(self) -> RemoteCalendarInfo:
        return RemoteCalendarInfo(self.url, "Test")

    def _put(self, name: str, text: str) -> str:
        url = urljoin(self.url, name)
        with self.server.client() as client:
            answer = client.put(url, text, {"Content-Type": "text/calendar; charset=utf-8"})
            assert answer.status in (201, 204), answer.status
        return quote(unquote(urlsplit(url).path), safe="/")  # as the provider spells it

    def add(self, uid, summary, start, minutes=60):
        href = self._put(f"{uid}.ics", _vcalendar(uid, summary, start, minutes))
        self.texts[href] = (uid, start, minutes)
        return href

    def rename(self, href, summary):
        uid, start, minutes = self.texts[href]
        self._put(f"{uid}.ics", _vcalendar(uid, summary, start, minutes))

    def remove(self, href):
        with self.server.client() as client:
            client.delete(urljoin(self.url, href))

    def refuse(self, token):
        return token + "x"  # Radicale answers 403, Xandikos 412

    def missing_href(self):
        return urlsplit(urljoin(self.url, "no-such-event.ics")).path


class Feed(Backend):
    kind = "ics"
    writable = False

    def __init__(self, feeds: FeedServer):
        self.feeds = feeds
        self.events: dict[str, str] = {}
        self._publish()

    def _publish(self) -> None:
        events = "".join(
            "BEGIN:VEVENT" + text.split("BEGIN:VEVENT", 1)[1].rsplit("END:VCALENDAR", 1)[0]
            for text in self.events.values()
        )
        calendar = (
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Other App//EN\r\n"
            + events
            + "END:VCALENDAR\r\n"
        )
        self.feeds.set("contract.ics", calendar, etag=True)

    def provider(self) -> Provider:
        return registry.build(
            ConnectionInfo(
                "ics", self.feeds.url_for("contract.ics"), {}, http=HttpSettings(allow_private=True)
            )
        )

    def calendar(self) -> RemoteCalendarInfo:
        return RemoteCalendarInfo("feed", "", writable=False)

    def add(self, uid, summary, start, minutes=60):
        self.events[uid] = _vcalendar(uid, summary, start, minutes)
        self._publish()
        return uid  # a feed's events are known by UID

    def rename(self, href, summary):
        text = self.events[href]
        old = text.split("SUMMARY:", 1)[1].split("\r\n", 1)[0]
        self.events[href] = text.replace(f"SUMMARY:{old}", f"SUMMARY:{summary}")
        self._publish()

    def remove(self, href):
        del self.events[href]
        self._publish()

    def refuse(self, token):
        return "not a token this provider wrote"

    def missing_href(self):
        return "no-such-event"


class Google(Backend):
    kind = "google"

    def __init__(self, standin):
        self.standin = standin

    def provider(self) -> Provider:
        return registry.build(self.standin.connection_info())

    def calendar(self) -> RemoteCalendarInfo:
        return RemoteCalendarInfo(self.standin.primary, "Alice")

    def add(self, uid, summary, start, minutes=60):
        end = start + timedelta(minutes=minutes)
        return self.standin.add_event(self.standin.primary, summary, start, end, uid=uid)

    def rename(self, href, summary):
        self.standin.change_event(self.standin.primary, href, summary=summary)

    def remove(self, href):
        self.standin.delete_event(self.standin.primary, href)

    def refuse(self, token):
        self.standin.expire_sync_tokens()  # 410 Gone from now on
        return token

    def missing_href(self):
        return "nosuchevent"


class Microsoft(Backend):
    kind = "microsoft"

    def __init__(self, standin):
        self.standin = standin

    def provider(self) -> Provider:
        return registry.build(self.standin.connection_info())

    def calendar(self) -> RemoteCalendarInfo:
        return RemoteCalendarInfo(self.standin.primary, "Calendar")

    def add(self, uid, summary, start, minutes=60):
        end = start + timedelta(minutes=minutes)
        return self.standin.add_event(self.standin.primary, summary, start, end, zone="UTC")

    def rename(self, href, summary):
        self.standin.change_event(self.standin.primary, href, subject=summary)

    def remove(self, href):
        self.standin.delete_event(self.standin.primary, href)

    def refuse(self, token):
        self.standin.expire_delta_links()  # 410 from now on
        return token

    def missing_href(self):
        return "AAMkAGNoSuchEvent"


BACKENDS = ["radicale", "xandikos", "ics", "google", "microsoft"]


@pytest.fixture(params=BACKENDS)
def backend(request) -> Iterator[Backend]:
    name = request.param
    if name in ("radicale", "xandikos"):
        yield CalDav(request.getfixturevalue(name))
    elif name == "ics":
        with FeedServer() as feeds:
            yield Feed(feeds)
    elif name == "google":
        yield Google(request.getfixturevalue("google_standin"))
    else:
        yield Microsoft(request.getfixturevalue("microsoft_standin"))


def uid() -> str:
    return f"{uuid.uuid4().hex[:12]}@contract"


def draft(event_uid: str) -> EventDraft:
    return EventDraft(
        uid=event_uid,
        summary="Booked: intro call",
        start=START + timedelta(days=3),
        end=START + timedelta(days=3, minutes=30),
        description="Booked through CalMesh",
    )


# --- the contract ----------------------------------------------------------------------------


def test_every_integration_is_covered_here():
    covered = {"caldav", "ics", "google", "microsoft"}
    # iCloud is CalDAV at Apple's URL: its own tests check only that URL.
    assert set(registry.kinds()) - {"icloud"} == covered


def test_the_calendar_is_listed_with_whether_it_is_writable(backend):
    listed = {c.remote_id: c for c in backend.provider().list_calendars()}
    calendar = backend.calendar()
    assert calendar.remote_id in listed
    assert listed[calendar.remote_id].writable is backend.writable


def test_a_first_sync_is_a_full_snapshot_of_every_event_with_a_token(backend):
    added = {backend.add(uid(), f"Event {n}", START + timedelta(hours=n)) for n in range(3)}

    changes = backend.provider().changes(backend.calendar(), None, WINDOW)

    assert changes.full is True
    assert hrefs(changes) == added
    assert changes.deleted == []
    assert changes.token


def test_a_timed_event_is_one_busy_utc_occurrence_with_its_uid_and_summary(backend):
    event_uid = uid()
    href = backend.add(event_uid, "Review", START, minutes=45)

    [obj] = backend.provider().changes(backend.calendar(), None, WINDOW).changed

    assert obj.href == href
    [occurrence] = occurrences(obj)
    assert (occurrence.start, occurrence.end) == (START, START + timedelta(minutes=45))
    assert occurrence.start.utcoffset() == timedelta(0)
    assert (occurrence.summary, occurrence.busy, occurrence.all_day) == ("Review", True, False)
    if backend.kind != "microsoft":  # Graph makes its own iCalUID
        assert occurrence.uid == event_uid


def test_an_incremental_sync_sees_exactly_an_insert_an_update_and_a_delete(backend):
    provider, calendar = backend.provider(), backend.calendar()
    a = backend.add(uid(), "A", START)
    b = backend.add(uid(), "B", START + timedelta(hours=2))
    backend.add(uid(), "C", START + timedelta(hours=4))
    first = provider.changes(calendar, None, WINDOW)

    backend.rename(a, "A renamed")
    backend.remove(b)
    d = backend.add(uid(), "D", START + timedelta(hours=6))
    second = provider.changes(calendar, first.token, WINDOW)

    assert second.full is False
    assert hrefs(second) == {a, d}
    assert second.deleted == [b]
    renamed = next(o for o in second.changed if o.href == a)
    assert [o.summary for o in occurrences(renamed)] == ["A renamed"]

    third = provider.changes(calendar, second.token, WINDOW)
    assert (third.full, third.changed, third.deleted) == (False, [], [])


def test_a_token_the_remote_refuses_gives_a_full_snapshot_and_a_working_token(backend):
    provider, calendar = backend.provider(), backend.calendar()
    one = backend.add(uid(), "One", START)
    first = provider.changes(calendar, None, WINDOW)
    two = backend.add(uid(), "Two", START + timedelta(hours=2))

    again = provider.changes(calendar, backend.refuse(first.token), WINDOW)

    assert again.full is True
    assert hrefs(again) == {one, two}
    assert again.token
    assert provider.changes(calendar, again.token, WINDOW).full is False


def test_a_written_event_comes_back_once_and_deleting_is_idempotent(backend):
    provider, calendar = backend.provider(), backend.calendar()
    event = draft(uid())
    if not backend.writable:
        for write in (
            lambda: provider.create_event(calendar.remote_id, event),
            lambda: provider.update_event(calendar.remote_id, "x", event),
            lambda: provider.delete_event(calendar.remote_id, "x"),
        ):
            with pytest.raises(ReadOnlyError):
                write()
        return
    token = provider.changes(calendar, None, WINDOW).token

    href = provider.create_event(calendar.remote_id, event)
    assert provider.create_event(calendar.remote_id, event) == href, "a retried create"
    written = provider.changes(calendar, token, WINDOW)

    assert hrefs(written) == {href}
    [occurrence] = occurrences(written.changed[0])
    assert (occurrence.start, occurrence.end) == (event.start, event.end)
    if backend.kind != "microsoft":  # Graph makes its own iCalUID
        assert occurrence.uid == event.uid

    provider.delete_event(calendar.remote_id, href)
    provider.delete_event(calendar.remote_id, href)  # gone already
    provider.delete_event(calendar.remote_id, backend.missing_href())  # never there
    after = provider.changes(calendar, written.token, WINDOW)
    assert after.deleted == [href]
    assert after.changed == []
