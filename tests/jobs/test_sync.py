"""calmesh.jobs.sync: the scheduler's sync jobs. ``sync-due`` syncs every due
connection, several at once, so one failing or hung feed neither stops nor
starves the others; ``roll-horizon`` expands the stored series over the moved
horizon without a request to the provider, leaving a connection being synced
alone, within the instance caps."""

from __future__ import annotations

import math

from calmesh.auth import crypto, keys
from calmesh.db import utcnow
from calmesh.jobs.scheduler import JOBS
from calmesh.jobs.sync import roll_horizon, sync_due
from calmesh.models import CalendarObject, Connection
from calmesh.services import sync
from tests.services import test_sync as shared
from tests.services.test_sync import (
    configure,
    dav_connect,
    days_from,
    flood,
    fresh,
    in_calendar,
    kill_server,
    per_uid,
    put,
    remote_of,
    soon,
    stored,
    subscribe,
    two_events,
    vcalendar,
    vevent,
)
from tests.settings import cfg

# The feed server and the CalDAV servers of tests/services/test_sync.py (fixtures,
# bound by name).
feeds = shared.feeds
dav_server = shared.dav_server
dav_calendar = shared.dav_calendar
radicale = shared.radicale
xandikos = shared.xandikos


def test_both_jobs_are_scheduled_and_sync_due_runs_on_every_scheduler():
    assert JOBS["sync-due"].exclusive is False, "each connection is claimed by its own lease"
    assert JOBS["roll-horizon"].exclusive is True


def test_one_failing_connection_does_not_stop_the_others(app, alice, bob, feeds):
    broken = subscribe(alice, feeds, "broken.ics", two_events())
    locked = subscribe(alice, feeds, "locked.ics", two_events())
    working = subscribe(bob, feeds, "working.ics", two_events())
    feeds.set("broken.ics", "gone", status=500)
    # Restored from a backup made under another secret key: unreadable credentials.
    Connection.update(
        credentials=crypto.encrypt({"username": "u"}, keyring=keys.Keyring("another key"))
    ).where(Connection.id == locked.id).execute()
    assert sync.due_connections() == [broken.id, locked.id, working.id]

    assert sync_due(app) == 3

    assert fresh(broken).status == "error"
    # This host's key is wrong, not the credentials: retried (another host, or this
    # one once its key is fixed, can sync it), never parked as auth_required.
    assert fresh(locked).status == "error" and fresh(locked).next_sync_at is not None
    assert "this host cannot read the stored credentials" in fresh(locked).last_error
    assert "secret key" in fresh(locked).last_error
    assert fresh(working).status == "ok"
    assert len(stored(working)) == 2
    assert sync.due_connections() == [], "each waits: for its interval, back-off or owner"


def test_rolling_the_horizon_keeps_the_caps(app, alice, feeds, monkeypatch):
    configure(monkeypatch, app, {"sync.max_instances_per_series": 100})
    connection = subscribe(alice, feeds, "team.ics", vcalendar(flood("f", "FREQ=HOURLY", soon(0))))
    sync.sync_connection(connection.id, cfg())
    assert roll_horizon(app) == 100
    assert per_uid(connection) == {"f": 100}
    assert "'f' has more than 100 instances" in CalendarObject.get().fault


def test_roll_horizon_expands_further_without_asking_the_provider(app, alice, feeds, monkeypatch):
    configure(monkeypatch, app, {"sync.horizon_future_days": 10})
    first = soon(1, 7)
    daily = vevent("daily", first, 30, extra="RRULE:FREQ=DAILY\r\n")
    connection = subscribe(alice, feeds, "team.ics", vcalendar(daily))
    sync.sync_connection(connection.id, cfg())
    old_end = sync.horizon(cfg())[1]
    assert [o.start for o in stored(connection)] == days_from(first, old_end)
    requests = feeds.requests["team.ics"]

    configure(monkeypatch, app, {"sync.horizon_future_days": 40})
    new_end = sync.horizon(cfg())[1]
    assert roll_horizon(app) == len(days_from(first, new_end))

    assert [o.start for o in stored(connection)] == days_from(first, new_end)
    assert max(o.start for o in stored(connection)) > old_end
    assert feeds.requests["team.ics"] == requests, "no network request"
    row = fresh(connection)
    assert (row.status, row.leased_until) == ("ok", None)


def test_roll_horizon_leaves_a_connection_being_synced_alone(app, alice, feeds, monkeypatch):
    configure(monkeypatch, app, {"sync.horizon_future_days": 10})
    daily = vevent("daily", soon(1, 7), 30, extra="RRULE:FREQ=DAILY\r\n")
    connection = subscribe(alice, feeds, "team.ics", vcalendar(daily))
    sync.sync_connection(connection.id, cfg())
    count = len(stored(connection))
    configure(monkeypatch, app, {"sync.horizon_future_days": 40})
    assert sync.claim(connection.id)

    assert roll_horizon(app) == 0

    assert len(stored(connection)) == count
    assert fresh(connection).leased_until is not None, "the other sync's lease is untouched"


def test_roll_horizon_expands_caldav_series_with_the_server_gone(
    app, alice, dav_server, dav_calendar, monkeypatch
):
    configure(monkeypatch, app, {"sync.horizon_future_days": 10})
    first = soon(1, 7)
    put(
        dav_server,
        dav_calendar,
        "daily.ics",
        vcalendar(vevent("daily", first, 30, extra="RRULE:FREQ=DAILY\r\n")),
    )
    connection = dav_connect(alice, dav_server)
    sync.sync_connection(connection.id, cfg())
    remote = remote_of(connection, dav_calendar)
    assert [start for _, start, _ in in_calendar(remote)] == days_from(
        first, sync.horizon(cfg())[1]
    )
    kill_server(remote)  # whatever roll_horizon does, it cannot be a request

    configure(monkeypatch, app, {"sync.horizon_future_days": 40})
    roll_horizon(app)

    assert [start for _, start, _ in in_calendar(remote)] == days_from(
        first, sync.horizon(cfg())[1]
    )
    row = fresh(connection)
    assert (row.status, row.last_error) == ("ok", "")


def test_hung_feeds_do_not_starve_a_healthy_one(app, alice, feeds, monkeypatch):
    """Due connections sync at once (sync.concurrency): three feeds that never
    answer hold three threads; the healthy one keeps its own schedule."""
    from calmesh.jobs import drain

    configure(monkeypatch, app, {"sync.timeout_seconds": 3, "sync.interval_ics": 1})
    monkeypatch.setattr(drain, "BUDGET_SECONDS", 6.0)
    hung = [subscribe(alice, feeds, f"hung-{n}.ics", two_events()) for n in range(3)]
    healthy = subscribe(alice, feeds, "healthy.ics", two_events())
    for n in range(3):
        feeds.set(f"hung-{n}.ics", "", delay=math.inf)  # answered when subscribing, now hung
    Connection.update(next_sync_at=utcnow()).execute()
    before = feeds.requests["healthy.ics"]

    sync_due(app)

    assert all(fresh(c).status == "error" for c in hung), "each hung feed timed out"
    assert "in time" in fresh(hung[0]).last_error
    synced = feeds.requests["healthy.ics"] - before
    # Sequentially the healthy feed would have synced once behind 3 x 3 s of waiting.
    assert synced >= 3, f"the healthy feed synced {synced} times"
    assert fresh(healthy).status == "ok"
