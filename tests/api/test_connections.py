"""``/api/v1/connections``: connect (checked first), list, get, rename, calendars
on/off, sync now, remove; scopes and ownership; and no credential ever in an
answer or a log line.

CalDAV against a real Radicale, iCal URLs from a loopback feed server.
"""

from __future__ import annotations

import json
import logging
import socket
from datetime import datetime

import pytest

from calmesh.db import utcnow
from calmesh.jobs.sync import sync_due
from calmesh.models import CalendarObject, Connection, Occurrence, RemoteCalendar
from calmesh.providers import net
from calmesh.services import sync
from tests.conftest import CSRF
from tests.providers import conftest as dav_fixtures
from tests.services import test_sync as shared
from tests.services.test_sync import configure, fresh, stored, two_events
from tests.settings import cfg

# Fixtures of the sync tests and of tests/providers/conftest.py, bound as plain
# names (see tests/services/test_sync.py).
feeds = shared.feeds
radicale = dav_fixtures.radicale

# An iCal URL's path is often the only secret (Google's "secret address").
SECRET_FEED = "private/8f2b9c1d7e-secret-token/basic.ics"


@pytest.fixture
def full(api_as, alice):
    return api_as(alice, "full")


def create_ics(full, feeds, name: str = "team.ics", **body) -> dict:
    feeds.set(name, two_events(), etag=True)
    response = full.post(
        "/api/v1/connections/ics", json={"url": feeds.url_for(name), "name": "Team", **body}
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def error_of(response) -> dict:
    return response.get_json()["error"]


# --- connecting -------------------------------------------------------------------------------


def test_caldav_with_a_wrong_password_is_a_readable_422_and_stores_nothing(full, radicale):
    response = full.post(
        "/api/v1/connections/caldav",
        json={
            "url": radicale.url,
            "username": radicale.username,
            "password": "not-the-password",
            "name": "Radicale",
        },
    )

    assert response.status_code == 422
    error = error_of(response)
    assert error["code"] == "connection_failed"
    assert "127.0.0.1" in error["message"] and "401" in error["message"], error["message"]
    assert "not-the-password" not in response.get_data(as_text=True)
    assert Connection.select().count() == RemoteCalendar.select().count() == 0


def test_caldav_with_the_right_password_lists_its_calendars(full, radicale):
    calendar_url = radicale.new_calendar("Work")
    response = full.post(
        "/api/v1/connections/caldav",
        json={
            "url": radicale.url,
            "username": radicale.username,
            "password": radicale.password,
            "name": "Radicale",
        },
    )

    assert response.status_code == 201
    body = response.get_json()
    assert (body["provider"], body["name"], body["status"]) == ("caldav", "Radicale", "pending")
    assert body["read_only"] is False
    assert body["endpoint"] == radicale.url
    listed = {c["remote_id"]: c for c in body["calendars"]}
    assert listed[calendar_url]["name"] == "Work"
    assert listed[calendar_url]["writable"] is True and listed[calendar_url]["enabled"] is True
    assert radicale.password not in response.get_data(as_text=True)
    assert "password" not in body


def test_an_ics_connection_shows_only_the_host_of_its_url(full, feeds):
    body = create_ics(full, feeds, SECRET_FEED)

    assert body["provider"] == "ics" and body["read_only"] is True
    assert body["endpoint"] == feeds.base_url + "/…"
    assert [c["remote_id"] for c in body["calendars"]] == ["feed"]
    assert "secret-token" not in json.dumps(body)


def test_icloud_without_a_url_goes_to_apples_server_through_the_guard(app, full, monkeypatch):
    configure(monkeypatch, app, {"security.allow_private_addresses": False})
    asked = []

    def resolve(host, port, *args, **kw):
        # The network edge: pretend Apple's name resolves into a private network.
        asked.append(host)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.20.30.40", port))]

    monkeypatch.setattr(net.socket, "getaddrinfo", resolve)
    response = full.post(
        "/api/v1/connections/icloud",
        json={"username": "me@icloud.com", "password": "abcd-efgh-ijkl-mnop", "name": "iCloud"},
    )

    assert response.status_code == 422
    message = error_of(response)["message"]
    assert "caldav.icloud.com" in message and "private" in message, message
    assert asked == ["caldav.icloud.com"]
    assert Connection.select().count() == 0


@pytest.mark.parametrize("kind", ["google", "microsoft"])
def test_oauth_providers_without_a_client_id_are_not_configured(full, kind):
    response = full.post(f"/api/v1/connections/{kind}", json={"name": kind.title()})

    assert response.status_code == 422
    assert error_of(response)["code"] == "not_configured"
    assert f"{kind}.client_id" in error_of(response)["message"]
    assert Connection.select().count() == 0


def test_a_bad_ics_url_is_a_400_with_the_field(full):
    response = full.post("/api/v1/connections/ics", json={"url": "ftp://x/y.ics", "name": "X"})
    assert response.status_code == 400
    assert [d["field"] for d in error_of(response)["details"]] == ["url"]


# --- reading and changing ------------------------------------------------------------------------


def test_list_get_and_rename(full, feeds):
    created = create_ics(full, feeds)
    path = f"/api/v1/connections/{created['id']}"

    listed = full.get("/api/v1/connections").get_json()
    assert [c["id"] for c in listed["data"]] == [created["id"]]
    assert listed["has_more"] is False
    assert full.get(path).get_json() == created

    renamed = full.patch(path, json={"name": "Team calendar"})
    assert renamed.status_code == 200
    assert renamed.get_json()["name"] == "Team calendar"
    assert full.get(path).get_json()["name"] == "Team calendar"


def test_disabling_a_calendar_removes_its_occurrences_at_once(full, feeds):
    created = create_ics(full, feeds)
    sync.sync_connection(created["id"], cfg())
    connection = Connection.get_by_id(created["id"])
    assert len(stored(connection)) == 2
    calendar_id = created["calendars"][0]["id"]

    response = full.patch(
        f"/api/v1/connections/{created['id']}/calendars/{calendar_id}", json={"enabled": False}
    )

    assert response.status_code == 200
    assert response.get_json()["enabled"] is False
    assert stored(connection) == []
    missing = full.patch(
        f"/api/v1/connections/{created['id']}/calendars/99999", json={"enabled": False}
    )
    assert missing.status_code == 404


def test_sync_now_answers_202_and_makes_the_connection_due(app, full, feeds):
    created = create_ics(full, feeds)
    sync.sync_connection(created["id"], cfg())
    assert sync.due_connections() == []

    response = full.post(f"/api/v1/connections/{created['id']}/sync")

    assert response.status_code == 202
    due = datetime.fromisoformat(response.get_json()["next_sync_at"].replace("Z", "+00:00"))
    assert due <= utcnow()
    assert sync.due_connections() == [created["id"]]
    assert sync_due(app) == 1
    assert full.get(f"/api/v1/connections/{created['id']}").get_json()["status"] == "ok"


def test_sync_now_of_a_connection_waiting_for_its_owner_is_a_409(full, feeds):
    created = create_ics(full, feeds)
    feeds.set("team.ics", two_events(), auth=("owner", "pw"))
    sync.sync_connection(created["id"], cfg())

    response = full.post(f"/api/v1/connections/{created['id']}/sync")

    assert response.status_code == 409
    assert error_of(response)["code"] == "auth_required"
    assert "401" in error_of(response)["message"]


def test_delete_removes_the_connection_its_calendars_and_every_occurrence(full, feeds):
    created = create_ics(full, feeds)
    sync.sync_connection(created["id"], cfg())
    assert Occurrence.select().count() == 2

    response = full.delete(f"/api/v1/connections/{created['id']}")

    assert response.status_code == 200
    assert response.get_json() == {"id": created["id"], "deleted": True}
    assert full.get(f"/api/v1/connections/{created['id']}").status_code == 404
    assert Connection.select().count() == RemoteCalendar.select().count() == 0
    assert CalendarObject.select().count() == Occurrence.select().count() == 0


# --- who may -------------------------------------------------------------------------------------


def test_only_a_full_key_may_see_or_touch_connections(api_as, alice, full, feeds):
    """Connections are setup (scope full, as the seed documents): a read or book key
    neither lists them nor connects, syncs, changes or deletes one."""
    created = create_ics(full, feeds)
    path = f"/api/v1/connections/{created['id']}"
    calendar_id = created["calendars"][0]["id"]

    for scope in ("read", "book"):
        client = api_as(alice, scope)
        refused = [
            client.get("/api/v1/connections"),
            client.get(path),
            client.post(
                "/api/v1/connections/ics", json={"url": feeds.url_for("x.ics"), "name": "X"}
            ),
            client.post("/api/v1/connections/google", json={"name": "G"}),
            client.post(f"{path}/sync"),
            client.patch(path, json={"name": "Mine now"}),
            client.patch(f"{path}/calendars/{calendar_id}", json={"enabled": False}),
            client.delete(path),
        ]
        assert [r.status_code for r in refused] == [403] * len(refused), scope
    assert feeds.requests["x.ics"] == 0
    assert Connection.get_by_id(created["id"]).name == "Team"


def test_another_users_connection_is_not_found(api_as, bob, full, feeds):
    created = create_ics(full, feeds)
    path = f"/api/v1/connections/{created['id']}"
    calendar_id = created["calendars"][0]["id"]
    other = api_as(bob, "full")

    assert other.get("/api/v1/connections").get_json()["data"] == []
    answers = [
        other.get(path),
        other.patch(path, json={"name": "Bob's"}),
        other.post(f"{path}/sync"),
        other.patch(f"{path}/calendars/{calendar_id}", json={"enabled": False}),
        other.delete(path),
    ]
    assert [r.status_code for r in answers] == [404] * len(answers)
    assert Connection.get_by_id(created["id"]).name == "Team"


# --- no credential anywhere ---------------------------------------------------------------------


def test_no_credential_in_any_answer_or_log_line(app, full, feeds, caplog):
    """The feed's secret path and its password appear neither in the API's answers
    nor in the log at the default level (INFO), through create, sync and failure."""
    caplog.set_level(logging.INFO)
    password = "feed-pass-Qx7"
    feeds.set(SECRET_FEED, two_events(), etag=True, auth=("owner", password))
    answers = []
    created = full.post(
        "/api/v1/connections/ics",
        json={
            "url": feeds.url_for(SECRET_FEED),
            "name": "Team",
            "username": "owner",
            "password": password,
        },
    )
    assert created.status_code == 201
    answers.append(created)
    path = f"/api/v1/connections/{created.get_json()['id']}"
    answers.append(full.post(f"{path}/sync"))
    assert sync_due(app) == 1
    answers.append(full.get(path))
    feeds.set(SECRET_FEED, "down", status=500, auth=("owner", password))
    answers.append(full.post(f"{path}/sync"))
    assert sync_due(app) == 1
    answers.append(full.get(path))
    answers.append(full.get("/api/v1/connections"))
    assert fresh(Connection.get_by_id(created.get_json()["id"])).status == "error"

    for answer in answers:
        text = answer.get_data(as_text=True)
        assert "secret-token" not in text and password not in text, text
    logged = [r.getMessage() for r in caplog.records]
    leaks = [line for line in logged if "secret-token" in line or password in line]
    assert leaks == []


def test_no_caldav_password_in_any_answer_or_log_line(app, full, radicale, caplog):
    caplog.set_level(logging.INFO)
    created = full.post(
        "/api/v1/connections/caldav",
        json={
            "url": radicale.url,
            "username": radicale.username,
            "password": radicale.password,
            "name": "Radicale",
        },
    )
    connection_id = created.get_json()["id"]
    assert sync.sync_connection(connection_id, cfg()).status == "ok"
    wrong = full.patch(f"/api/v1/connections/{connection_id}", json={"password": "Wr0ng-pass"})
    assert wrong.status_code == 422
    answers = [created, wrong, full.get(f"/api/v1/connections/{connection_id}")]

    for answer in answers:
        text = answer.get_data(as_text=True)
        assert radicale.password not in text and "Wr0ng-pass" not in text, text
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert radicale.password not in logged and "Wr0ng-pass" not in logged


# --- secrets in the URL ---------------------------------------------------------------------

URL_PASSWORD = "url-pass-Zq9"
URL_TOKEN = "tok-5eCr3t-77"


def test_credentials_and_tokens_in_an_ics_url_are_stored_encrypted_and_never_shown(
    app, full, feeds, alice_session, caplog
):
    caplog.set_level(logging.INFO)
    feeds.set("team.ics", two_events(), etag=True, auth=("owner", URL_PASSWORD))
    host = feeds.base_url.split("://", 1)[1]
    url = f"http://owner:{URL_PASSWORD}@{host}/team.ics?key=k1&token={URL_TOKEN}"

    created = full.post("/api/v1/connections/ics", json={"url": url, "name": "Team"})

    assert created.status_code == 201, created.get_json()
    sent = feeds.last("team.ics")
    assert sent.query == f"key=k1&token={URL_TOKEN}", "the provider still sends the query"
    assert sent.headers["authorization"].startswith("Basic ")
    connection = Connection.get_by_id(created.get_json()["id"])
    assert connection.endpoint == f"http://{host}/team.ics"
    stored_row = Connection.select().where(Connection.id == connection.id).dicts().get()
    assert URL_TOKEN not in repr(stored_row) and URL_PASSWORD not in repr(stored_row)
    # The credentials hold them, encrypted; the sync sends them again.
    assert sync.sync_connection(connection.id, cfg()).status == "ok"
    assert feeds.last("team.ics").query.endswith(URL_TOKEN)
    # Replacing the password keeps the token in the query.
    changed = full.patch(f"/api/v1/connections/{connection.id}", json={"password": URL_PASSWORD})
    assert changed.status_code == 200, changed.get_json()
    assert feeds.last("team.ics").query.endswith(URL_TOKEN)

    shown = [
        created,
        changed,
        full.get(f"/api/v1/connections/{connection.id}"),
        full.get("/api/v1/connections"),
        alice_session.get("/connections"),
    ]
    for answer in shown:
        text = answer.get_data(as_text=True)
        assert URL_TOKEN not in text and URL_PASSWORD not in text, text
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert URL_TOKEN not in logged and URL_PASSWORD not in logged


def test_a_refused_url_with_secrets_is_not_shown_back(full, alice_session):
    url = f"http://owner:{URL_PASSWORD}@127.0.0.1:1/x.ics?token={URL_TOKEN}"

    refused = full.post("/api/v1/connections/ics", json={"url": url, "name": "Team"})
    page = alice_session.post(
        "/connections/add/ics", data={"url": url, "name": "Team", "csrf_token": CSRF}
    )

    assert refused.status_code == 422 and page.status_code == 400
    for answer in (refused, page):
        text = answer.get_data(as_text=True)
        assert URL_TOKEN not in text and URL_PASSWORD not in text, text
    assert Connection.select().count() == 0
