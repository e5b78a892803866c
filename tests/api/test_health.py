from __future__ import annotations

import os
import socket

from calmesh.jobs import heartbeat


def test_health_needs_no_auth_and_reports_a_missing_scheduler(stranger):
    body = stranger.get("/api/health").get_json()
    assert body["database"] == {"ok": True, "error": None}
    assert body["scheduler"]["ok"] is False and body["scheduler"]["last_heartbeat"] is None
    assert body["status"] == "degraded"


def test_health_reports_the_latest_heartbeat(stranger):
    heartbeat.beat()
    body = stranger.get("/api/health").get_json()
    assert body["status"] == "ok"
    assert body["scheduler"]["ok"] is True
    assert body["scheduler"]["age_seconds"] <= 1


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
