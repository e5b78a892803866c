"""Syncing connections against real servers: iCal feeds from a loopback HTTP
server (FeedServer), CalDAV from Radicale and Xandikos.

What a sync must do (SPEC §6): store what changed, expanded to UTC
occurrences over the horizon; spend one request on an unchanged feed; on a
failing source keep the last good events, say why, and retry with back-off;
never sync one connection twice at once; never let one failure stop the others.
"""

from __future__ import annotations

import contextlib
import threading
import time
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from urllib.parse import urljoin, urlsplit
from zoneinfo import ZoneInfo

import caldav
import pytest
from caldav.lib.error import DAVError

from calmesh.config import Config
from calmesh.db import db, utcnow
from calmesh.models import (
    CalendarObject,
    CalendarSource,
    Connection,
    Occurrence,
    RemoteCalendar,
)
from calmesh.services import calendars, connections, sync
from tests.conftest import free_port
from tests.providers import conftest as dav_fixtures
from tests.providers.feeds import FeedServer
from tests.settings import cfg

# The CalDAV servers live in tests/providers/conftest.py, which only that
# folder sees; bound here (as plain names, not imports, so that ruff does not
# take the fixture arguments for redefinitions) this file keeps mirroring
# calmesh/services/sync.py. pytest starts one Radicale and one Xandikos for it.
radicale = dav_fixtures.radicale
xandikos = dav_fixtures.xandikos
dav_server = dav_fixtures.dav_server

STAMP = "DTSTAMP:20260101T000000Z\r\n"


# --- iCalendar text ------------------------------------------------------------------


def ical_utc(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def vevent(uid: str, start: datetime, minutes: int = 60, summary: str = "", extra: str = "") -> str:
    """One VEVENT starting at the aware ``start``; ``extra`` is more property lines."""
    return (
        f"BEGIN:VEVENT\r\nUID:{uid}\r\n{STAMP}DTSTART:{ical_utc(start)}\r\n"
        f"DURATION:PT{minutes}M\r\nSUMMARY:{summary or uid}\r\n{extra}END:VEVENT\r\n"
    )


def vcalendar(*events: str, name: str | None = None) -> str:
    head = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Another App//EN\r\n"
    if name:
        head += f"X-WR-CALNAME:{name}\r\n"
    return head + "".join(events) + "END:VCALENDAR\r\n"


# Fixed once, so that a run crossing midnight UTC still compares like with like.
TODAY = utcnow().date()


def soon(days: int = 2, hour: int = 10, minute: int = 0) -> datetime:
    """A time ``days`` ahead, well inside the default horizon (30 days back, 365 ahead)."""
    return datetime.combine(TODAY + timedelta(days=days), datetime.min.time(), UTC).replace(
        hour=hour, minute=minute
    )


# --- the app and its rows ----------------------------------------------------------------


def configure(monkeypatch, app, values: dict) -> None:
    """Change settings of the running app for this test (dotted keys)."""
    monkeypatch.setitem(
        app.config, "CALMESH", Config({**app.config["CALMESH"].as_dict(), **values})
    )


def stored(connection: Connection) -> list[Occurrence]:
    return list(
        Occurrence.select()
        .join(RemoteCalendar)
        .where(RemoteCalendar.connection == connection.id)
        .order_by(Occurrence.start, Occurrence.uid)
    )


def spans(connection: Connection) -> list[tuple[str, datetime, datetime]]:
    return [(o.uid, o.start, o.end) for o in stored(connection)]


def fresh(connection: Connection) -> Connection:
    return Connection.get_by_id(connection.id)


def near(value: datetime | None, expected: datetime, slack: float = 5.0) -> bool:
    return value is not None and abs((value - expected).total_seconds()) <= slack


@pytest.fixture
def feeds() -> Iterator[FeedServer]:
    with FeedServer() as server:
        yield server


def subscribe(user, feeds: FeedServer, name: str, body: str, **options) -> Connection:
    """Serve ``body`` as ``name`` and connect it as an iCal URL (one request: the check)."""
    feeds.set(name, body, etag=True, **options)
    return connections.create_with_credentials(
        user, "ics", name, feeds.url_for(name), settings=cfg()
    )


TWO_EVENTS_AT = soon(3, 9)


def two_events(summary_b: str = "Review", start_b: datetime | None = None) -> str:
    return vcalendar(
        vevent("standup", TWO_EVENTS_AT, 15, "Standup"),
        vevent("review", start_b or TWO_EVENTS_AT + timedelta(hours=5), 60, summary_b),
        name="Team",
    )


# --- iCal URL: the happy path ------------------------------------------------------------


def test_a_new_ics_connection_syncs_and_stores_utc_occurrences(alice, feeds):
    berlin = ZoneInfo("Europe/Berlin")
    local = datetime.combine(soon(5).date(), datetime.min.time().replace(hour=10), berlin)
    body = vcalendar(
        vevent("one", soon(4, 9), 30, "One"),
        "BEGIN:VEVENT\r\nUID:berlin\r\n" + STAMP + "DTSTART;TZID=Europe/Berlin:"
        f"{local:%Y%m%dT%H%M%S}\r\nDTEND;TZID=Europe/Berlin:"
        f"{local + timedelta(hours=1):%Y%m%dT%H%M%S}\r\nSUMMARY:Berlin\r\nEND:VEVENT\r\n",
        name="Team",
    )
    connection = subscribe(alice, feeds, "team.ics", body)
    assert fresh(connection).status == "pending"

    report = sync.sync_connection(connection.id, cfg())

    assert (report.status, report.changed, report.occurrences) == ("ok", 2, 2)
    row = fresh(connection)
    assert (row.status, row.failures, row.last_error) == ("ok", 0, "")
    assert near(row.last_sync_at, utcnow())
    assert near(row.next_sync_at, utcnow() + timedelta(seconds=900)), "sync.interval_ics"
    assert row.leased_until is None
    assert spans(connection) == [
        ("one", soon(4, 9), soon(4, 9, 30)),
        ("berlin", local.astimezone(UTC), (local + timedelta(hours=1)).astimezone(UTC)),
    ]
    for occurrence in stored(connection):
        assert occurrence.start.utcoffset() == timedelta(0)
    assert RemoteCalendar.get(RemoteCalendar.connection == connection).name == "Team"


def test_an_edited_feed_changes_only_the_edited_event(alice, feeds):
    connection = subscribe(alice, feeds, "team.ics", two_events())
    sync.sync_connection(connection.id, cfg())
    before = {o.uid: o.id for o in stored(connection)}

    moved = TWO_EVENTS_AT + timedelta(hours=7)
    feeds.set("team.ics", two_events("Review (moved)", moved), etag=True)
    report = sync.sync_connection(connection.id, cfg())

    assert (report.status, report.changed, report.deleted) == ("ok", 1, 0)
    after = {o.uid: o for o in stored(connection)}
    assert after["standup"].id == before["standup"], "the unchanged event keeps its row"
    assert after["review"].id != before["review"]
    assert (after["review"].start, after["review"].summary) == (moved, "Review (moved)")


def test_an_event_removed_from_the_feed_loses_its_occurrences(alice, feeds):
    daily = vevent("daily", soon(2, 8), 30, extra="RRULE:FREQ=DAILY;COUNT=5\r\n")
    connection = subscribe(alice, feeds, "team.ics", vcalendar(daily, vevent("once", soon(3))))
    sync.sync_connection(connection.id, cfg())
    assert sorted({o.uid for o in stored(connection)}) == ["daily", "once"]
    assert len(stored(connection)) == 6

    feeds.set("team.ics", vcalendar(vevent("once", soon(3))), etag=True)
    report = sync.sync_connection(connection.id, cfg())

    assert (report.changed, report.deleted) == (0, 1)
    assert [o.uid for o in stored(connection)] == ["once"]
    assert CalendarObject.select().where(CalendarObject.href == "daily").count() == 0


def test_an_unchanged_feed_is_answered_304_and_changes_nothing(alice, feeds):
    connection = subscribe(alice, feeds, "team.ics", two_events())
    sync.sync_connection(connection.id, cfg())
    before = [(o.id, o.uid, o.start, o.end) for o in stored(connection)]
    token = RemoteCalendar.get(RemoteCalendar.connection == connection).sync_token
    requests = feeds.requests["team.ics"]

    report = sync.sync_connection(connection.id, cfg())

    assert feeds.requests["team.ics"] == requests + 1, "one request"
    assert feeds.last("team.ics").headers["if-none-match"] == feeds.etag_of("team.ics")
    assert (report.status, report.changed, report.deleted, report.occurrences) == ("ok", 0, 0, 0)
    assert report.requests == 1
    assert [(o.id, o.uid, o.start, o.end) for o in stored(connection)] == before
    assert RemoteCalendar.get(RemoteCalendar.connection == connection).sync_token == token


# --- iCal URL: failures ------------------------------------------------------------------------


def test_a_feed_that_is_down_keeps_the_last_good_events_and_backs_off(alice, feeds):
    connection = subscribe(alice, feeds, "team.ics", two_events())
    sync.sync_connection(connection.id, cfg())
    good = spans(connection)

    feeds.set("team.ics", "oops", status=500)
    first = sync.sync_connection(connection.id, cfg())

    row = fresh(connection)
    assert first.status == row.status == "error"
    assert "127.0.0.1" in row.last_error and "500" in row.last_error, row.last_error
    assert row.failures == 1
    assert near(row.next_sync_at, utcnow() + timedelta(seconds=60))
    assert row.leased_until is None
    assert spans(connection) == good, "the last good events are kept"

    sync.sync_connection(connection.id, cfg())
    row = fresh(connection)
    assert row.failures == 2
    assert near(row.next_sync_at, utcnow() + timedelta(seconds=120))
    assert spans(connection) == good


def test_back_off_is_capped_by_max_backoff_seconds(app, alice, feeds, monkeypatch):
    configure(monkeypatch, app, {"sync.max_backoff_seconds": 90})
    connection = subscribe(alice, feeds, "team.ics", two_events())
    feeds.set("team.ics", "down", status=503)
    waits = []
    for _ in range(3):
        sync.sync_connection(connection.id, cfg())
        row = fresh(connection)
        waits.append(round((row.next_sync_at - utcnow()).total_seconds()))
    assert waits == [60, 90, 90]
    assert fresh(connection).failures == 3


def test_a_refused_password_needs_the_owner_and_is_not_retried(alice, feeds):
    connection = subscribe(alice, feeds, "team.ics", two_events())
    sync.sync_connection(connection.id, cfg())
    good = spans(connection)

    feeds.set("team.ics", two_events(), etag=True, auth=("owner", "secret"))
    report = sync.sync_connection(connection.id, cfg())

    row = fresh(connection)
    assert report.status == row.status == "auth_required"
    assert "401" in row.last_error and "password" in row.last_error, row.last_error
    assert row.next_sync_at is None
    assert spans(connection) == good
    # Even when it was due, an auth_required connection waits for its owner.
    Connection.update(next_sync_at=utcnow() - timedelta(minutes=1)).where(
        Connection.id == connection.id
    ).execute()
    assert connection.id not in sync.due_connections()


def test_a_malformed_feed_is_an_error_and_keeps_the_events(alice, feeds):
    connection = subscribe(alice, feeds, "team.ics", two_events())
    sync.sync_connection(connection.id, cfg())
    good = spans(connection)

    feeds.set("team.ics", "<html><body>Log in</body></html>", etag=True)
    report = sync.sync_connection(connection.id, cfg())

    row = fresh(connection)
    assert report.status == row.status == "error"
    assert "not an iCalendar feed" in row.last_error, row.last_error
    assert spans(connection) == good


def test_a_slow_feed_fails_within_the_configured_timeout(app, alice, feeds, monkeypatch):
    connection = subscribe(alice, feeds, "team.ics", two_events())
    configure(monkeypatch, app, {"sync.timeout_seconds": 1})
    delay = 30  # the feed answers after this; the default timeout (60 s) would wait for it
    feeds.set("team.ics", two_events(), delay=delay)

    started = time.monotonic()
    report = sync.sync_connection(connection.id, cfg())
    took = time.monotonic() - started

    assert report.status == fresh(connection).status == "error"
    # Well before the feed would have answered: a ratio, not this machine's speed.
    assert took < delay / 3, f"took {took:.1f} s with a 1 s timeout"
    assert "in time" in fresh(connection).last_error


def test_a_recovered_feed_returns_to_ok_with_no_failures(alice, feeds):
    connection = subscribe(alice, feeds, "team.ics", two_events())
    sync.sync_connection(connection.id, cfg())
    feeds.set("team.ics", "down", status=502)
    sync.sync_connection(connection.id, cfg())
    sync.sync_connection(connection.id, cfg())
    assert fresh(connection).failures == 2

    feeds.set("team.ics", two_events("Back"), etag=True)
    report = sync.sync_connection(connection.id, cfg())

    row = fresh(connection)
    assert (report.status, row.status, row.failures, row.last_error) == ("ok", "ok", 0, "")
    assert near(row.next_sync_at, utcnow() + timedelta(seconds=900))
    assert [o.summary for o in stored(connection)] == ["Standup", "Back"]


# --- the lease ----------------------------------------------------------------------------


def test_a_held_lease_makes_a_sync_busy_and_change_nothing(alice, feeds):
    connection = subscribe(alice, feeds, "team.ics", two_events())
    requests = feeds.requests["team.ics"]
    assert sync.claim(connection.id)

    report = sync.sync_connection(connection.id, cfg())

    assert report.status == "busy"
    assert feeds.requests["team.ics"] == requests
    assert stored(connection) == []
    assert connection.id not in sync.due_connections()

    sync.release(connection.id, status="pending")
    assert sync.sync_connection(connection.id, cfg()).status == "ok"


def test_an_expired_lease_is_taken_over(alice, feeds):
    connection = subscribe(alice, feeds, "team.ics", two_events())
    # A worker on another host claimed it and died.
    Connection.update(
        leased_until=utcnow() - timedelta(seconds=1),
        lease_holder="gone-host:4242",
        status="syncing",
    ).where(Connection.id == connection.id).execute()
    assert connection.id in sync.due_connections()

    report = sync.sync_connection(connection.id, cfg())

    assert report.status == "ok"
    row = fresh(connection)
    assert (row.status, row.leased_until, row.lease_holder) == ("ok", None, "")
    assert len(stored(connection)) == 2


def test_two_concurrent_syncs_of_one_connection_run_once(app, alice, feeds):
    connection = subscribe(alice, feeds, "team.ics", two_events())
    feeds.set("team.ics", two_events(), etag=True, delay=1.0)
    requests = feeds.requests["team.ics"]
    start = threading.Barrier(2)
    reports, errors = [], []

    def run() -> None:
        try:
            with app.app_context(), db.connection_context():
                start.wait(timeout=10)
                reports.append(sync.sync_connection(connection.id, cfg()))
        except Exception as exc:  # surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    assert sorted(r.status for r in reports) == ["busy", "ok"]
    assert feeds.requests["team.ics"] == requests + 1
    assert len(stored(connection)) == 2
    assert fresh(connection).status == "ok"


# --- hostile recurrence ---------------------------------------------------------------------


def flood(uid: str, rule: str, start: datetime) -> str:
    """A series a real calendar never has: 250 bytes that repeat without end."""
    return vevent(uid, start, 1, extra=f"RRULE:{rule}\r\n")


def synced_within_memory(connection: Connection) -> tuple[sync.SyncReport, int]:
    """Sync, and the peak of memory allocated meanwhile (bytes)."""
    tracemalloc.start()
    try:
        report = sync.sync_connection(connection.id, cfg())
        return report, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def per_uid(connection: Connection) -> dict[str, int]:
    counts: dict[str, int] = {}
    for occurrence in stored(connection):
        counts[occurrence.uid] = counts.get(occurrence.uid, 0) + 1
    return counts


def test_minutely_secondly_and_huge_count_series_are_cut_and_the_rest_is_stored(
    app, alice, feeds, alice_session, monkeypatch
):
    configure(monkeypatch, app, {"sync.max_instances_per_series": 1000})  # fewer rows to write
    year_ago = soon(-365, 0)
    body = vcalendar(
        flood("every-minute", "FREQ=MINUTELY", year_ago),
        flood("every-second", "FREQ=SECONDLY", year_ago),
        flood("count-from-2020", "FREQ=MINUTELY;COUNT=999999999", datetime(2020, 1, 1, tzinfo=UTC)),
        vevent("standup", soon(3, 9), 15, extra="RRULE:FREQ=DAILY;COUNT=10\r\n"),
        vevent("review", soon(4, 14), 60),
        name="Team",
    )
    connection = subscribe(alice, feeds, "team.ics", body)

    report, peak = synced_within_memory(connection)

    counts = per_uid(connection)
    cap = app.config["CALMESH"]["sync.max_instances_per_series"]
    assert counts == {"every-minute": cap, "every-second": cap, "standup": 10, "review": 1}
    assert report.status == "ok" and report.occurrences == 2 * cap + 11
    assert peak < 64 * 2**20, f"{peak / 2**20:.0f} MiB"
    row = fresh(connection)
    assert row.status == "ok"
    assert row.last_error.startswith("3 event(s) repeat beyond the limits")
    assert "sync.max_instances_per_series" in row.last_error
    # The fault is readable where the owner looks: the API and the connections page.
    api = alice_session.get(f"/api/v1/connections/{connection.id}").get_json()
    assert api["last_error"] == row.last_error and api["status"] == "ok"
    page = alice_session.get("/connections").get_data(as_text=True)
    assert "repeat beyond the limits" in page


def test_many_series_stop_at_the_calendar_cap(app, alice, feeds, monkeypatch):
    configure(
        monkeypatch,
        app,
        {"sync.max_instances_per_series": 400, "sync.max_instances_per_calendar": 3000},
    )
    series = [flood(f"s{i:02}", "FREQ=MINUTELY", soon(1, 0, i)) for i in range(60)]
    body = vcalendar(*series, vevent("review", soon(4, 14), 60))
    connection = subscribe(alice, feeds, "team.ics", body)

    report, peak = synced_within_memory(connection)

    counts = per_uid(connection)
    assert sum(n for uid, n in counts.items() if uid != "review") == 3000
    assert counts["review"] == 1, "a single event is not an expansion: it is kept"
    assert report.status == "ok" and peak < 64 * 2**20
    assert fresh(connection).last_error.startswith("60 event(s) repeat beyond the limits")
    last = CalendarObject.get(CalendarObject.uid == "s59")
    assert "the calendar has more than 3000 recurring instances" in last.fault


def test_the_cut_stays_visible_until_the_feed_is_fixed(app, alice, feeds):
    body = vcalendar(flood("every-second", "FREQ=SECONDLY", soon(0, 0)), vevent("x", soon(2), 30))
    connection = subscribe(alice, feeds, "team.ics", body)
    sync.sync_connection(connection.id, cfg())
    fault = fresh(connection).last_error
    assert "every-second" in fault

    Connection.update(next_sync_at=utcnow()).where(Connection.id == connection.id).execute()
    sync.sync_connection(connection.id, cfg())  # unchanged: nothing is expanded again
    assert fresh(connection).last_error == fault

    feeds.set("team.ics", vcalendar(vevent("x", soon(2), 30)), etag=True)
    sync.sync_connection(connection.id, cfg())
    assert fresh(connection).last_error == ""
    assert per_uid(connection) == {"x": 1}


# --- the horizon --------------------------------------------------------------------------------


def days_from(first: datetime, end: datetime) -> list[datetime]:
    found, at = [], first
    while at < end:
        found.append(at)
        at += timedelta(days=1)
    return found


# --- CalDAV, on Radicale and Xandikos ---------------------------------------------------------


@pytest.fixture
def dav_calendar(dav_server) -> Iterator[str]:
    """A fresh calendar on the server, deleted afterwards so the account stays small."""
    url = dav_server.new_calendar("Sync test")
    yield url
    with dav_server.client() as client:
        caldav.Calendar(client=client, url=url).delete()


def dav_connect(user, server) -> Connection:
    return connections.create_with_credentials(
        user, "caldav", server.name, server.url, server.username, server.password, settings=cfg()
    )


def remote_of(connection: Connection, url: str) -> RemoteCalendar:
    return RemoteCalendar.get(
        (RemoteCalendar.connection == connection) & (RemoteCalendar.remote_id == url)
    )


def in_calendar(remote: RemoteCalendar) -> list[tuple[str, datetime, datetime]]:
    return [
        (o.uid, o.start, o.end)
        for o in Occurrence.select()
        .where(Occurrence.calendar == remote)
        .order_by(Occurrence.start, Occurrence.uid)
    ]


def put(server, calendar_url: str, name: str, ics: str) -> str:
    """Write ``ics`` as another application would; returns the href."""
    url = urljoin(calendar_url, name)
    with server.client() as client:
        answer = client.put(url, ics, {"Content-Type": "text/calendar; charset=utf-8"})
        assert answer.status in (201, 204), answer.status
    return urlsplit(url).path


def remove(server, calendar_url: str, name: str) -> None:
    with server.client() as client:
        assert client.delete(urljoin(calendar_url, name)).status in (200, 204)


def test_caldav_changes_made_at_the_server_are_followed_exactly(alice, dav_server, dav_calendar):
    put(dav_server, dav_calendar, "a.ics", vcalendar(vevent("a", soon(2, 9), 60, "Planning")))
    put(dav_server, dav_calendar, "b.ics", vcalendar(vevent("b", soon(2, 13), 30, "Lunch")))
    connection = dav_connect(alice, dav_server)
    remote = remote_of(connection, dav_calendar)

    assert sync.sync_connection(connection.id, cfg()).status == "ok"
    assert in_calendar(remote) == [
        ("a", soon(2, 9), soon(2, 10)),
        ("b", soon(2, 13), soon(2, 13, 30)),
    ]
    kept = Occurrence.get(Occurrence.uid == "b").id

    put(dav_server, dav_calendar, "a.ics", vcalendar(vevent("a", soon(4, 15), 45, "Moved")))
    put(dav_server, dav_calendar, "c.ics", vcalendar(vevent("c", soon(3, 8), 15, "New")))
    report = sync.sync_connection(connection.id, cfg())

    assert (report.changed, report.deleted) == (2, 0)
    assert in_calendar(remote) == [
        ("b", soon(2, 13), soon(2, 13, 30)),
        ("c", soon(3, 8), soon(3, 8, 15)),
        ("a", soon(4, 15), soon(4, 15, 45)),
    ]
    assert Occurrence.get(Occurrence.uid == "a").summary == "Moved"
    assert Occurrence.get(Occurrence.uid == "b").id == kept, "untouched events keep their rows"

    remove(dav_server, dav_calendar, "b.ics")
    report = sync.sync_connection(connection.id, cfg())

    assert (report.changed, report.deleted) == (0, 1)
    assert [uid for uid, _, _ in in_calendar(remote)] == ["c", "a"]


def kill_server(remote: RemoteCalendar) -> None:
    """Point the connection and its calendar at a port where nothing listens."""
    dead = f"127.0.0.1:{free_port()}"
    live = remote.remote_id.split("/")[2]
    RemoteCalendar.update(remote_id=remote.remote_id.replace(live, dead)).where(
        RemoteCalendar.id == remote.id
    ).execute()
    connection = remote.connection
    Connection.update(endpoint=connection.endpoint.replace(live, dead)).where(
        Connection.id == connection.id
    ).execute()


# A fixed horizon, so that the instants around the DST changes of 2027 can be
# worked out by hand and stay right whenever the suite runs.
PINNED = (datetime(2027, 1, 1, tzinfo=UTC), datetime(2028, 1, 1, tzinfo=UTC))

BERLIN_SERIES = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Another App//EN\r\n"
    "BEGIN:VEVENT\r\nUID:berlin-daily\r\n" + STAMP + "SUMMARY:Daily\r\n"
    "DTSTART;TZID=Europe/Berlin:20270325T090000\r\n"
    "DTEND;TZID=Europe/Berlin:20270325T093000\r\n"
    "RRULE:FREQ=DAILY;COUNT=7\r\n"
    "EXDATE;TZID=Europe/Berlin:20270326T090000\r\n"
    "END:VEVENT\r\n"
    "BEGIN:VEVENT\r\nUID:berlin-daily\r\n" + STAMP + "SUMMARY:Daily (moved)\r\n"
    "RECURRENCE-ID;TZID=Europe/Berlin:20270330T090000\r\n"
    "DTSTART;TZID=Europe/Berlin:20270330T140000\r\n"
    "DTEND;TZID=Europe/Berlin:20270330T143000\r\n"
    "END:VEVENT\r\nEND:VCALENDAR\r\n"
)
NEW_YORK_SERIES = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Another App//EN\r\n"
    "BEGIN:VEVENT\r\nUID:ny-daily\r\n" + STAMP + "SUMMARY:NY\r\n"
    "DTSTART;TZID=America/New_York:20271105T090000\r\n"
    "DURATION:PT1H\r\nRRULE:FREQ=DAILY;COUNT=4\r\n"
    "END:VEVENT\r\nEND:VCALENDAR\r\n"
)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def test_caldav_recurring_events_are_stored_at_the_right_instants_across_dst(
    alice, dav_server, dav_calendar, monkeypatch
):
    monkeypatch.setattr(sync, "horizon", lambda now=None: PINNED)
    put(dav_server, dav_calendar, "berlin.ics", BERLIN_SERIES)
    put(dav_server, dav_calendar, "ny.ics", NEW_YORK_SERIES)
    connection = dav_connect(alice, dav_server)

    assert sync.sync_connection(connection.id, cfg()).status == "ok"

    rows = list(
        Occurrence.select()
        .where(Occurrence.calendar == remote_of(connection, dav_calendar))
        .order_by(Occurrence.start)
    )
    # Europe/Berlin springs forward on Sunday 2027-03-28: 09:00 is 08:00Z
    # before, 07:00Z after. The 26th is excluded; the 30th moved to 14:00 (12:00Z).
    berlin = [(o.start, o.end, o.summary, o.recurrence_id) for o in rows if o.uid == "berlin-daily"]
    assert berlin == [
        (utc(2027, 3, 25, 8), utc(2027, 3, 25, 8, 30), "Daily", "2027-03-25T08:00:00Z"),
        (utc(2027, 3, 27, 8), utc(2027, 3, 27, 8, 30), "Daily", "2027-03-27T08:00:00Z"),
        (utc(2027, 3, 28, 7), utc(2027, 3, 28, 7, 30), "Daily", "2027-03-28T07:00:00Z"),
        (utc(2027, 3, 29, 7), utc(2027, 3, 29, 7, 30), "Daily", "2027-03-29T07:00:00Z"),
        (utc(2027, 3, 30, 12), utc(2027, 3, 30, 12, 30), "Daily (moved)", "2027-03-30T07:00:00Z"),
        (utc(2027, 3, 31, 7), utc(2027, 3, 31, 7, 30), "Daily", "2027-03-31T07:00:00Z"),
    ]
    # America/New_York falls back on Sunday 2027-11-07: 09:00 is 13:00Z before, 14:00Z after.
    assert [o.start for o in rows if o.uid == "ny-daily"] == [
        utc(2027, 11, 5, 13),
        utc(2027, 11, 6, 13),
        utc(2027, 11, 7, 14),
        utc(2027, 11, 8, 14),
    ]


def test_caldav_all_day_and_free_events_are_stored_as_such(alice, dav_server, dav_calendar):
    day = soon(6).date()
    all_day = (
        "BEGIN:VEVENT\r\nUID:holiday\r\n" + STAMP + f"DTSTART;VALUE=DATE:{day:%Y%m%d}\r\n"
        f"DTEND;VALUE=DATE:{day + timedelta(days=2):%Y%m%d}\r\nSUMMARY:Holiday\r\nEND:VEVENT\r\n"
    )
    put(dav_server, dav_calendar, "holiday.ics", vcalendar(all_day))
    put(
        dav_server,
        dav_calendar,
        "focus.ics",
        vcalendar(vevent("focus", soon(2, 14), 120, "Focus", "TRANSP:TRANSPARENT\r\n")),
    )
    connection = dav_connect(alice, dav_server)

    sync.sync_connection(connection.id, cfg())

    holiday = Occurrence.get(Occurrence.uid == "holiday")
    assert holiday.all_day is True
    assert (holiday.start_date, holiday.end_date) == (day, day + timedelta(days=2))
    assert isinstance(holiday.start_date, date) and not isinstance(holiday.start_date, datetime)
    assert holiday.busy is True
    focus = Occurrence.get(Occurrence.uid == "focus")
    assert (focus.busy, focus.all_day) == (False, False)
    assert (focus.start, focus.end) == (soon(2, 14), soon(2, 16))


def test_caldav_expired_sync_token_falls_back_to_a_full_diff(alice, dav_server, dav_calendar):
    for uid, day in (("a", 2), ("b", 3), ("c", 4)):
        put(dav_server, dav_calendar, f"{uid}.ics", vcalendar(vevent(uid, soon(day))))
    connection = dav_connect(alice, dav_server)
    sync.sync_connection(connection.id, cfg())
    remote = remote_of(connection, dav_calendar)
    kept = {o.uid: o.id for o in Occurrence.select().where(Occurrence.calendar == remote)}
    assert sorted(kept) == ["a", "b", "c"]

    # The server forgot our token (Radicale and Xandikos keep only some).
    RemoteCalendar.update(sync_token=remote.sync_token + "-expired").where(
        RemoteCalendar.id == remote.id
    ).execute()
    remove(dav_server, dav_calendar, "b.ics")
    report = sync.sync_connection(connection.id, cfg())

    assert report.status == "ok", report.message
    assert (report.changed, report.deleted) == (0, 1)
    after = {o.uid: o.id for o in Occurrence.select().where(Occurrence.calendar == remote)}
    assert after == {"a": kept["a"], "c": kept["c"]}
    assert remote_of(connection, dav_calendar).sync_token != remote.sync_token + "-expired"


def test_a_calendar_deleted_at_the_server_takes_its_source_along(alice, dav_server, dav_calendar):
    """A source naming one calendar must not widen to the whole connection when
    that calendar disappears (CalendarSource.remote_calendar is ON DELETE CASCADE)."""
    other = dav_server.new_calendar("Other")
    try:
        put(dav_server, dav_calendar, "mine.ics", vcalendar(vevent("mine", soon(2))))
        put(dav_server, other, "theirs.ics", vcalendar(vevent("theirs", soon(2, 14))))
        connection = dav_connect(alice, dav_server)
        sync.sync_connection(connection.id, cfg())
        unified = calendars.create(alice, "work", "Work", "UTC")
        source = calendars.add_source(unified, connection.id, remote_of(connection, other).id)
        window = (soon(1), soon(5))
        assert [e.occurrence.uid for e in calendars.events(unified, *window)] == ["theirs"]

        with dav_server.client() as client:
            caldav.Calendar(client=client, url=other).delete()
        connections.request_sync(fresh(connection))  # a person asked: list the calendars again
        assert sync.sync_connection(connection.id, cfg()).status == "ok"
    finally:
        with dav_server.client() as client, contextlib.suppress(DAVError):
            caldav.Calendar(client=client, url=other).delete()  # when the test stopped early

    assert RemoteCalendar.select().where(RemoteCalendar.remote_id == other).count() == 0
    shown = [e.occurrence.uid for e in calendars.events(unified, *window)]
    assert shown == [], "the source now brings the connection's other calendars"
    assert CalendarSource.get_or_none(CalendarSource.id == source.id) is None


def test_an_oversized_answer_is_a_source_fault_retried_with_back_off(
    app, alice, feeds, monkeypatch
):
    connection = subscribe(alice, feeds, "big.ics", two_events())
    configure(monkeypatch, app, {"sync.max_feed_bytes": 1024})
    feeds.set("big.ics", two_events() + " " * 2048, etag=True)

    report = sync.sync_connection(connection.id, cfg())

    assert report.status == fresh(connection).status == "error", "not auth_required"
    assert "larger than 1 KiB" in fresh(connection).last_error
    assert fresh(connection).next_sync_at is not None, "retried with back-off"
