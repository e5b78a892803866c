from __future__ import annotations

import os
import re
import socket

from calmesh.db import utcnow
from calmesh.jobs import heartbeat
from calmesh.models import Heartbeat


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
