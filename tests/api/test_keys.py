"""API keys over REST: session only, shown once, hashed, revocable, expiring."""

from __future__ import annotations

from datetime import timedelta

from calmesh.auth.apikeys import hash_key
from calmesh.db import utcnow
from calmesh.models import ApiKey


def test_create_returns_the_key_once_and_stores_only_its_hash(alice_session, alice):
    response = alice_session.post("/api/v1/api-keys", json={"name": "agent", "scope": "book"})
    assert response.status_code == 201
    body = response.get_json()
    key = body["key"]
    assert key.startswith("cm_live_") and len(key) > 40
    assert body["prefix"] == key[:12] and body["scope"] == "book" and body["status"] == "active"
    row = ApiKey.get_by_id(body["id"])
    assert row.key_hash == hash_key(key)
    assert key not in str(row.__data__.values())
    listed = alice_session.get("/api/v1/api-keys").get_json()
    assert "key" not in listed["data"][0]


def test_a_created_key_authenticates_and_records_last_use(alice_session, stranger):
    key = alice_session.post("/api/v1/api-keys", json={"scope": "read"}).get_json()["key"]
    me = stranger.get("/api/v1/me", headers={"Authorization": f"Bearer {key}"})
    assert me.status_code == 200
    assert me.get_json()["handle"] == "alice" and me.get_json()["auth"] == "api_key"
    assert ApiKey.get(ApiKey.key_hash == hash_key(key)).last_used_at is not None


def test_revoked_key_stops_working(alice_session, stranger):
    created = alice_session.post("/api/v1/api-keys", json={"scope": "read"}).get_json()
    revoked = alice_session.delete(f"/api/v1/api-keys/{created['id']}")
    assert revoked.status_code == 200 and revoked.get_json()["status"] == "revoked"
    me = stranger.get("/api/v1/me", headers={"Authorization": f"Bearer {created['key']}"})
    assert me.status_code == 401


def test_expired_key_stops_working(alice_session, stranger):
    soon = (utcnow() + timedelta(minutes=5)).isoformat()
    created = alice_session.post(
        "/api/v1/api-keys", json={"scope": "read", "expires_at": soon}
    ).get_json()
    ApiKey.update(expires_at=utcnow() - timedelta(seconds=1)).where(
        ApiKey.id == created["id"]
    ).execute()
    me = stranger.get("/api/v1/me", headers={"Authorization": f"Bearer {created['key']}"})
    assert me.status_code == 401
    listed = alice_session.get("/api/v1/api-keys").get_json()["data"]
    assert listed[0]["status"] == "expired"


def test_expiry_in_the_past_is_unprocessable(alice_session):
    past = (utcnow() - timedelta(days=1)).isoformat()
    response = alice_session.post("/api/v1/api-keys", json={"scope": "read", "expires_at": past})
    assert response.status_code == 422


def test_another_users_key_is_not_found(app, alice_session, bob):
    from calmesh.auth import apikeys

    bobs, _ = apikeys.create(bob, "bob's", "full")
    assert alice_session.delete(f"/api/v1/api-keys/{bobs.id}").status_code == 404
    assert ApiKey.get_by_id(bobs.id).revoked_at is None
    assert all(k["id"] != bobs.id for k in alice_session.get("/api/v1/api-keys").get_json()["data"])


def test_list_paginates_with_a_cursor(alice_session):
    ids = [
        alice_session.post("/api/v1/api-keys", json={"scope": "read"}).get_json()["id"]
        for _ in range(5)
    ]
    first = alice_session.get("/api/v1/api-keys?limit=2").get_json()
    assert [k["id"] for k in first["data"]] == ids[::-1][:2]
    assert first["has_more"] is True
    second = alice_session.get(f"/api/v1/api-keys?limit=2&cursor={first['next_cursor']}").get_json()
    third = alice_session.get(f"/api/v1/api-keys?limit=2&cursor={second['next_cursor']}").get_json()
    assert [k["id"] for k in second["data"] + third["data"]] == ids[::-1][2:]
    assert third["has_more"] is False and third["next_cursor"] is None
