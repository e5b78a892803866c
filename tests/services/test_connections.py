"""The connections service: create (checked with the provider first), update,
enable/disable calendars, sync on request, remove, and the OAuth state checks.

Feeds come from a loopback HTTP server and CalDAV from a real Radicale.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from calmesh.auth import crypto, signing
from calmesh.db import utcnow
from calmesh.models import (
    CalendarObject,
    CalendarSource,
    Connection,
    OAuthAttempt,
    Occurrence,
    RemoteCalendar,
)
from calmesh.services import calendars, connections, sync
from tests.providers import conftest as dav_fixtures
from tests.services import test_sync as shared
from tests.services.test_sync import (
    configure,
    fresh,
    near,
    soon,
    stored,
    subscribe,
    two_events,
    vcalendar,
    vevent,
)
from tests.settings import cfg

# Fixtures of the sync tests and of tests/providers/conftest.py, bound as plain
# names (see tests/services/test_sync.py).
feeds = shared.feeds
radicale = dav_fixtures.radicale


# --- creating -----------------------------------------------------------------------------


def test_an_ics_connection_is_checked_then_saved_pending_and_due(alice, feeds):
    connection = subscribe(alice, feeds, "team.ics", two_events())

    assert feeds.requests["team.ics"] == 1, "the check fetched the feed once"
    row = fresh(connection)
    assert (row.provider, row.name, row.status) == ("ics", "team.ics", "pending")
    assert near(row.next_sync_at, utcnow()) and near(row.calendars_listed_at, utcnow())
    assert connection.id in sync.due_connections()
    [calendar] = RemoteCalendar.select().where(RemoteCalendar.connection == connection)
    assert (calendar.remote_id, calendar.name, calendar.writable) == ("feed", "Team", False)


def test_a_feed_that_is_not_there_is_refused_and_nothing_is_saved(alice, feeds):
    with pytest.raises(connections.ConnectionRefused, match="404"):
        connections.create_with_credentials(
            alice, "ics", "Nope", feeds.url_for("missing.ics"), settings=cfg()
        )
    assert Connection.select().count() == RemoteCalendar.select().count() == 0


def test_a_wrong_caldav_password_is_refused_and_nothing_is_saved(alice, radicale):
    with pytest.raises(connections.ConnectionRefused, match="401") as refused:
        connections.create_with_credentials(
            alice,
            "caldav",
            "Radicale",
            radicale.url,
            radicale.username,
            "not-the-password",
            settings=cfg(),
        )
    assert "not-the-password" not in str(refused.value)
    assert Connection.select().count() == 0


def test_credentials_are_stored_encrypted(alice, radicale):
    connection = connections.create_with_credentials(
        alice,
        "caldav",
        "Radicale",
        radicale.url,
        radicale.username,
        radicale.password,
        settings=cfg(),
    )
    raw = Connection.get_by_id(connection.id).credentials
    assert radicale.password not in raw
    assert crypto.decrypt(raw) == {"username": "alice", "password": radicale.password}


def test_get_for_finds_only_the_owners_connection(alice, bob, feeds):
    connection = subscribe(alice, feeds, "team.ics", two_events())
    assert connections.get_for(alice, connection.id).id == connection.id
    assert connections.get_for(bob, connection.id) is None


# --- updating -------------------------------------------------------------------------------


def test_new_credentials_are_checked_first_and_a_wrong_one_keeps_the_old(alice, radicale):
    connection = connections.create_with_credentials(
        alice,
        "caldav",
        "Radicale",
        radicale.url,
        radicale.username,
        radicale.password,
        settings=cfg(),
    )
    Connection.update(status="auth_required", failures=3, next_sync_at=None).where(
        Connection.id == connection.id
    ).execute()

    with pytest.raises(connections.ConnectionRefused, match="401"):
        connections.update(fresh(connection), password="wrong-again", settings=cfg())
    row = fresh(connection)
    assert crypto.decrypt(row.credentials)["password"] == radicale.password
    assert row.status == "auth_required"

    connections.update(
        fresh(connection), password=radicale.password, name="Home server", settings=cfg()
    )
    row = fresh(connection)
    assert (row.name, row.status, row.failures, row.last_error) == ("Home server", "pending", 0, "")
    assert connection.id in sync.due_connections()


# --- calendars on and off --------------------------------------------------------------------


def test_disabling_a_calendar_drops_its_events_at_once_and_enabling_brings_them_back(alice, feeds):
    connection = subscribe(alice, feeds, "team.ics", two_events())
    sync.sync_connection(connection.id, cfg())
    calendar = RemoteCalendar.get(RemoteCalendar.connection == connection)
    version = calendar.version
    assert len(stored(connection)) == 2

    off = connections.set_calendar_enabled(fresh(connection), calendar.id, False)

    assert off.enabled is False and off.version != version
    assert stored(connection) == []
    assert CalendarObject.select().where(CalendarObject.calendar == calendar).count() == 0
    sync.sync_connection(connection.id, cfg())
    assert stored(connection) == [], "a disabled calendar is not synced"

    connections.set_calendar_enabled(fresh(connection), calendar.id, True)
    assert connection.id in sync.due_connections()
    sync.sync_connection(connection.id, cfg())
    assert [o.uid for o in stored(connection)] == ["standup", "review"]


def test_another_connections_calendar_cannot_be_toggled(alice, bob, feeds):
    mine = subscribe(alice, feeds, "mine.ics", two_events())
    theirs = subscribe(bob, feeds, "theirs.ics", two_events())
    their_calendar = RemoteCalendar.get(RemoteCalendar.connection == theirs)
    assert connections.set_calendar_enabled(mine, their_calendar.id, False) is None
    assert RemoteCalendar.get_by_id(their_calendar.id).enabled is True


# --- sync on request ------------------------------------------------------------------------------


def test_a_requested_sync_is_due_at_once_and_lists_the_calendars_again(alice, feeds):
    connection = subscribe(alice, feeds, "team.ics", two_events())
    sync.sync_connection(connection.id, cfg())
    assert connection.id not in sync.due_connections()
    feeds.set(
        "team.ics",
        vcalendar(vevent("standup", soon(3, 9), 15, "Standup"), name="Renamed"),
        etag=True,
    )

    connections.request_sync(fresh(connection))

    assert fresh(connection).next_sync_at <= utcnow()
    assert sync.due_connections() == [connection.id]
    requests = feeds.requests["team.ics"]
    assert sync.sync_connection(connection.id, cfg()).status == "ok"
    assert feeds.requests["team.ics"] == requests + 1, "the listing's download is reused"
    assert RemoteCalendar.get(RemoteCalendar.connection == connection).name == "Renamed"
    assert [o.uid for o in stored(connection)] == ["standup"]


# --- removing -------------------------------------------------------------------------------------


def test_removing_a_connection_deletes_its_calendars_events_and_sources(alice, bob, feeds):
    connection = subscribe(alice, feeds, "team.ics", two_events())
    kept = subscribe(bob, feeds, "bobs.ics", two_events())
    for each in (connection, kept):
        sync.sync_connection(each.id, cfg())
    unified = calendars.create(alice, "work", "Work", "UTC")
    calendars.add_source(unified, connection.id)

    connections.remove(fresh(connection))

    assert Connection.get_or_none(Connection.id == connection.id) is None
    assert RemoteCalendar.select().where(RemoteCalendar.connection == connection.id).count() == 0
    assert CalendarSource.select().count() == 0
    assert Occurrence.select().count() == len(stored(kept)) == 2, "bob's are untouched"
    assert calendars.events(unified, soon(0), soon(10)) == []


# --- OAuth ----------------------------------------------------------------------------------------


def test_oauth_without_a_client_id_is_not_configured_and_saves_nothing(alice):
    with pytest.raises(connections.NotConfigured, match=r"google\.client_id"):
        connections.start_oauth(alice, "google", "Google", "http://localhost/", settings=cfg())
    assert Connection.select().count() == 0


@pytest.fixture
def google(app, monkeypatch):
    configure(
        monkeypatch,
        app,
        {"google.client_id": "client-123", "google.client_secret": "shh", "server.base_url": ""},
    )


def test_oauth_start_makes_a_waiting_connection_and_a_signed_state(alice, google):
    connection, url = connections.start_oauth(
        alice, "google", "Google", "http://localhost:8000/", settings=cfg()
    )

    row = fresh(connection)
    assert (row.provider, row.status) == ("google", "auth_required")
    assert row.next_sync_at is None and connection.id not in sync.due_connections()
    query = parse_qs(urlsplit(url).query)
    assert query["client_id"] == ["client-123"]
    assert query["redirect_uri"] == ["http://localhost:8000/oauth/callback/google"]
    state = signing.verify("oauth-state", query["state"][0])
    attempt = OAuthAttempt.get_by_id(state["a"])
    assert (attempt.connection_id, attempt.user_id, state["u"]) == (
        connection.id,
        alice.id,
        alice.id,
    )
    # Only the nonce's hash and the PKCE verifier stay here; the page gets its challenge.
    assert state["n"] not in attempt.nonce_hash and attempt.browser_hash is None
    assert query["code_challenge_method"] == ["S256"]
    assert attempt.code_verifier not in url


def test_oauth_answers_with_a_tampered_or_foreign_state_are_refused(alice, google):
    connection, url = connections.start_oauth(
        alice, "google", "Google", "http://localhost/", settings=cfg()
    )
    state = parse_qs(urlsplit(url).query)["state"][0]

    with pytest.raises(connections.OAuthRefused, match="invalid or has expired"):
        connections.finish_oauth(
            "google", state[:-2] + "xx", "code", "http://localhost/", alice, settings=cfg()
        )
    with pytest.raises(connections.OAuthRefused, match="another provider"):
        connections.finish_oauth(
            "microsoft", state, "code", "http://localhost/", alice, settings=cfg()
        )
    connections.remove(fresh(connection))
    with pytest.raises(connections.OAuthRefused, match="removed"):
        connections.finish_oauth(
            "google", state, "code", "http://localhost/", alice, settings=cfg()
        )


def test_refused_consent_is_recorded_on_the_connection(alice, bob, google):
    connection, url = connections.start_oauth(
        alice, "google", "Google", "http://localhost/", settings=cfg()
    )
    state = parse_qs(urlsplit(url).query)["state"][0]

    with pytest.raises(connections.OAuthRefused):
        connections.refuse_oauth("google", "forged", "whatever", alice)
    with pytest.raises(connections.OAuthRefused, match="another CalMesh account"):
        connections.refuse_oauth("google", state, "access_denied", bob)
    assert fresh(connection).last_error == "waiting for consent"  # untouched
    connections.refuse_oauth("google", state, "access_denied", alice)

    row = fresh(connection)
    assert (row.status, row.last_error) == ("auth_required", "consent not given: access_denied")
    assert row.next_sync_at is None
