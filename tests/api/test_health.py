from __future__ import annotations

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
    assert ":" in body["scheduler"]["holder"]
