"""calmesh.api.me: the caller's own profile (``/api/v1/me``) and the health check
(``/api/health``)."""

from __future__ import annotations

import os
import re
import socket
from datetime import timedelta

import pytest

from calmesh import faults
from calmesh.api.me import ME_OUT
from calmesh.db import utcnow
from calmesh.jobs import heartbeat
from calmesh.models import Heartbeat


def test_me_works_for_a_session_and_for_every_scope(alice_session, api_as, alice):
    assert alice_session.get("/api/v1/me").get_json()["auth"] == "session"
    assert api_as(alice, "read").get("/api/v1/me").get_json()["email"] == "alice@example.org"


@pytest.mark.parametrize("scope", ["read", "book", "full"])
def test_me_answers_the_keys_owner_and_scope_in_the_declared_shape(api_as, alice, bob, scope):
    answer = api_as(alice, scope).get("/api/v1/me")

    body = answer.get_json()
    assert answer.status_code == 200
    assert list(body) == list(ME_OUT.fields)
    assert ME_OUT.parse(body)["created_at"].tzinfo is not None
    assert (body["id"], body["handle"], body["timezone"]) == (alice.id, "alice", "Europe/Berlin")
    assert (body["scope"], body["auth"]) == (scope, "api_key")
    assert api_as(bob, scope).get("/api/v1/me").get_json()["handle"] == "bob"


def test_me_needs_credentials(stranger):
    answer = stranger.get("/api/v1/me")

    assert answer.status_code == 401
    assert answer.get_json()["error"]["code"] == "unauthorized"


def test_health_needs_no_auth_and_reports_a_missing_scheduler(stranger):
    body = stranger.get("/api/health").get_json()
    assert body["database"] == {"ok": True, "error": None, "write_error": None}
    assert body["scheduler"]["ok"] is False and body["scheduler"]["last_heartbeat"] is None
    assert body["status"] == "degraded"


def test_health_reports_the_latest_heartbeat_without_naming_hosts_or_pids(stranger):
    heartbeat.beat()
    answer = stranger.get("/api/health")
    body = answer.get_json()
    assert body["status"] == "ok"
    assert body["scheduler"]["ok"] is True
    assert body["scheduler"]["age_seconds"] <= 1
    assert "hosts" not in body["scheduler"] and body["scheduler"]["holder"] is None
    text = answer.get_data(as_text=True)
    assert os.uname().nodename not in text
    assert not re.search(rf"\b{os.getpid()}\b", text)


def test_another_hosts_scheduler_does_not_count_for_this_host(app, stranger, monkeypatch):
    monkeypatch.setitem(app.config["CALMESH"]._values, "scheduler.embedded", True)
    Heartbeat.create(holder="other-host:4242", beat_at=utcnow(), started_at=utcnow())
    body = stranger.get("/api/health").get_json()
    assert body["status"] == "degraded" and body["scheduler"]["ok"] is False

    heartbeat.beat()  # this host's own scheduler
    assert stranger.get("/api/health").get_json()["scheduler"]["ok"] is True


def test_a_signed_in_caller_sees_every_hosts_scheduler(app, alice, api_as):
    Heartbeat.create(holder="other-host:4242", beat_at=utcnow(), started_at=utcnow())
    heartbeat.beat()
    hosts = api_as(alice, "read").get("/api/health").get_json()["scheduler"]["hosts"]
    holders = {h["holder"] for h in hosts}
    assert holders == {"other-host:4242", f"{os.uname().nodename}:{os.getpid()}"}
    assert all(h["ok"] for h in hosts)


def test_health_tells_the_public_neither_host_name_nor_pid(stranger):
    heartbeat.beat()
    response = stranger.get("/api/health")
    assert response.get_json()["scheduler"]["holder"] is None
    text = response.get_data(as_text=True)
    assert f"{socket.gethostname()}:{os.getpid()}" not in text


def test_health_shows_the_holder_to_a_key_or_a_session(alice, api_as, alice_session):
    heartbeat.beat()
    for caller in (api_as(alice, "read"), alice_session):
        holder = caller.get("/api/health").get_json()["scheduler"]["holder"]
        assert holder == f"{socket.gethostname()}:{os.getpid()}"


def test_a_scheduler_silent_for_three_intervals_is_degraded(app, stranger):
    interval = app.config["CALMESH"]["scheduler.heartbeat_seconds"]
    heartbeat.beat()
    Heartbeat.update(beat_at=utcnow() - timedelta(seconds=3 * interval + 30)).execute()

    body = stranger.get("/api/health").get_json()

    assert body["status"] == "degraded" and body["scheduler"]["ok"] is False
    assert body["scheduler"]["age_seconds"] >= 3 * interval + 30
    assert body["scheduler"]["last_heartbeat"].endswith("Z")


def test_failing_writes_make_the_instance_degraded_and_say_why(stranger):
    heartbeat.beat()
    faults.report(faults.DATABASE, "database or disk is full")
    try:
        body = stranger.get("/api/health").get_json()
    finally:
        faults.clear(faults.DATABASE)

    assert body["status"] == "degraded" and body["scheduler"]["ok"] is True
    assert body["database"] == {
        "ok": True,
        "error": None,
        "write_error": "database or disk is full",
    }
    assert stranger.get("/api/health").get_json()["status"] == "ok"  # over once cleared
