"""m0021: credentials and tokens typed into connection URLs move into the
encrypted credentials; the connection keeps working."""

from __future__ import annotations

from calmesh import db
from calmesh.auth import crypto
from calmesh.models import Connection, RemoteCalendar
from calmesh.services import sync
from tests.services import test_sync as shared
from tests.services.test_sync import two_events
from tests.settings import cfg

NAME = "m0021_connection_url_secrets"
feeds = shared.feeds


def _as_before(**fields) -> Connection:
    """A connection row as it was stored before m0021, and the migration not applied."""
    db.SchemaVersion.delete().where(db.SchemaVersion.name == NAME).execute()
    return Connection.create(**fields)


def test_url_credentials_and_query_move_into_the_encrypted_credentials(app, alice, feeds):
    feeds.set("team.ics", two_events(), auth=("owner", "pw-in-url-1"))
    host = feeds.base_url.split("://", 1)[1]
    raw = f"http://owner:pw-in-url-1@{host}/team.ics?token=tok-in-url-2"
    connection = _as_before(
        user=alice,
        provider="ics",
        name="Team",
        endpoint=raw,
        credentials=crypto.encrypt({}),
        last_error=f"{raw}: could not connect",
    )
    dav = _as_before(
        user=alice,
        provider="caldav",
        name="DAV",
        endpoint="https://bob:dav-pw-3@dav.example.org/dav/",
        credentials=crypto.encrypt({"username": "bob", "password": "dav-pw-new"}),
    )
    calendar = RemoteCalendar.create(
        connection=dav, remote_id="https://bob:dav-pw-3@dav.example.org/dav/cal/", name="Cal"
    )
    untouched = _as_before(
        user=alice,
        provider="ics",
        name="Plain",
        endpoint="https://calendar.example.org/private-abc/basic.ics",
        credentials=crypto.encrypt({}),
    )

    assert db.migrate() == [NAME]

    rows = repr(list(Connection.select().dicts())) + repr(list(RemoteCalendar.select().dicts()))
    for secret in ("pw-in-url-1", "tok-in-url-2", "dav-pw-3"):
        assert secret not in rows
    moved = Connection.get_by_id(connection.id)
    assert moved.endpoint == f"http://{host}/team.ics"
    assert crypto.decrypt(moved.credentials) == {
        "username": "owner",
        "password": "pw-in-url-1",
        "query": "token=tok-in-url-2",
    }
    assert moved.last_error == f"http://…@{host}/team.ics?…: could not connect"
    # A password stored apart wins over the URL's, as when connecting.
    assert crypto.decrypt(Connection.get_by_id(dav.id).credentials)["password"] == "dav-pw-new"
    assert RemoteCalendar.get_by_id(calendar.id).remote_id == "https://dav.example.org/dav/cal/"
    assert Connection.get_by_id(untouched.id).endpoint == untouched.endpoint
    # The feed still answers: user, password and token are sent as before.
    assert sync.sync_connection(connection.id, cfg()).status == "ok"
    assert feeds.last("team.ics").query == "token=tok-in-url-2"
