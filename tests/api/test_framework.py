"""The REST conventions: JSON errors everywhere, validation, scopes, CSRF, rate limits."""

from __future__ import annotations

import re

import pytest

from calmesh.api.framework import ROUTES


def error_of(response) -> dict:
    body = response.get_json()
    assert set(body) == {"error"}, body
    assert {"code", "message", "details"} <= set(body["error"])
    return body["error"]


def test_unknown_api_path_answers_json_404(stranger):
    response = stranger.get("/api/v1/does-not-exist")
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"


def test_wrong_method_answers_json_405_with_allow_header(stranger):
    response = stranger.delete("/api/health")
    assert response.status_code == 405
    assert error_of(response)["code"] == "method_not_allowed"
    assert "GET" in response.headers["Allow"]


def test_missing_credentials_answer_401(stranger):
    response = stranger.get("/api/v1/me")
    assert response.status_code == 401
    assert error_of(response)["code"] == "unauthorized"


@pytest.mark.parametrize(
    "header", ["Basic abc", "Bearer", "Bearer cm_live_nope", "Bearer " + "x" * 5000]
)
def test_bad_authorization_headers_answer_401(stranger, alice, header):
    response = stranger.get("/api/v1/me", headers={"Authorization": header})
    assert response.status_code == 401
    assert error_of(response)["code"] == "unauthorized"


def test_malformed_json_answers_400_invalid_json(alice_session):
    response = alice_session.post(
        "/api/v1/api-keys", data="{not json", content_type="application/json"
    )
    assert response.status_code == 400
    assert error_of(response)["code"] == "invalid_json"


@pytest.mark.parametrize("payload", ["[]", '"text"', "42", "NaN", '{"scope": NaN}'])
def test_json_that_is_not_an_object_is_refused(alice_session, payload):
    response = alice_session.post("/api/v1/api-keys", data=payload, content_type="application/json")
    assert response.status_code == 400
    assert error_of(response)["code"] in {"validation_error", "invalid_json"}


def test_validation_errors_name_each_field(alice_session):
    response = alice_session.post(
        "/api/v1/api-keys", json={"scope": "admin", "colour": "red", "name": 7}
    )
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "validation_error"
    fields = {d["field"]: d["message"] for d in error["details"]}
    assert fields == {
        "scope": "must be one of read, book, full",
        "colour": "is not a known field",
        "name": "must be a string",
    }


def test_naive_datetimes_are_refused(alice_session):
    response = alice_session.post(
        "/api/v1/api-keys", json={"scope": "read", "expires_at": "2030-01-01T10:00:00"}
    )
    assert response.status_code == 400
    assert "offset" in error_of(response)["details"][0]["message"]


def test_oversized_body_answers_json_413(app, alice_session):
    app.config["MAX_CONTENT_LENGTH"] = 1000
    response = alice_session.post(
        "/api/v1/api-keys", data="{" + " " * 5000 + "}", content_type="application/json"
    )
    assert response.status_code == 413
    assert error_of(response)["code"] == "payload_too_large"


def test_bad_query_parameters_are_validation_errors(alice_session):
    for query in ("limit=0", "limit=abc", "limit=100000", "cursor=%%%"):
        response = alice_session.get(f"/api/v1/api-keys?{query}")
        assert response.status_code == 400, query
        assert error_of(response)["code"] == "validation_error"


def test_scopes_nest_read_book_full(api_as, alice):
    for scope in ("read", "book", "full"):
        response = api_as(alice, scope).get("/api/v1/me")
        assert response.status_code == 200
        assert response.get_json()["scope"] == scope


def test_session_only_endpoints_refuse_even_a_full_key(api_as, alice):
    response = api_as(alice, "full").get("/api/v1/api-keys")
    assert response.status_code == 403
    assert error_of(response)["code"] == "forbidden"


def test_cookie_authenticated_change_without_csrf_token_is_refused(app, alice):
    from tests.conftest import signed_in_client

    client = signed_in_client(app, alice)
    response = client.post("/api/v1/api-keys", json={"scope": "read"})
    assert response.status_code == 403
    assert error_of(response)["code"] == "csrf_failed"
    response = client.post(
        "/api/v1/api-keys", json={"scope": "read"}, headers={"X-CSRF-Token": "wrong"}
    )
    assert response.status_code == 403


def test_bearer_requests_need_no_csrf_token(api_as, alice):
    assert api_as(alice, "read").get("/api/v1/me").status_code == 200


def test_rate_limit_answers_429_with_headers(app, api_as, alice):
    app.config["CALMESH"]._values["api.rate_limit_per_minute"] = 3
    api = api_as(alice, "read")
    statuses = []
    for _ in range(5):
        response = api.get("/api/v1/me")
        statuses.append(response.status_code)
    assert statuses == [200, 200, 200, 429, 429]
    assert error_of(response)["code"] == "rate_limited"
    assert int(response.headers["Retry-After"]) >= 1
    assert response.headers["X-RateLimit-Limit"] == "3"
    assert response.headers["X-RateLimit-Remaining"] == "0"
    assert int(response.headers["X-RateLimit-Reset"]) > 0


def test_each_key_has_its_own_rate_limit(app, api_as, alice):
    app.config["CALMESH"]._values["api.rate_limit_per_minute"] = 1
    assert api_as(alice, "read").get("/api/v1/me").status_code == 200
    assert api_as(alice, "read").get("/api/v1/me").status_code == 200


def test_security_headers_are_on_every_response(stranger):
    for path in ("/api/health", "/login", "/api/v1/nope"):
        headers = stranger.get(path).headers
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
        assert "script-src 'self'" in headers["Content-Security-Policy"]
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"]


def test_unexpected_errors_answer_json_500_without_traceback(app, stranger, monkeypatch):
    import calmesh.api.me as me

    def explode():
        raise RuntimeError("secret internals")

    monkeypatch.setattr(me, "latest_heartbeat", explode)
    response = stranger.get("/api/health")
    assert response.status_code == 500
    error = error_of(response)
    assert error["code"] == "internal_error"
    assert "secret internals" not in response.get_data(as_text=True)


BODY_ROUTES = [route for route in ROUTES if route.body is not None]


@pytest.mark.parametrize("route", BODY_ROUTES, ids=[f"{r.method} {r.path}" for r in BODY_ROUTES])
def test_no_body_may_carry_a_lone_surrogate_or_nul(api_as, alice, alice_session, route):
    """Refused as the body is read, before any field: a lone surrogate cannot
    be encoded to be stored or answered, and PostgreSQL refuses NUL."""
    path = re.sub(
        r"<(\w+:)?\w+>",
        lambda m: "1" if m[1] == "int:" else "x",
        route.extra["prefix"] + route.rule,
    )
    client = alice_session if route.auth == "session" else api_as(alice, "full")
    bodies = [
        body
        for text in ('"\\ud800"', '"a\\udfffb"', '"a\\u0000b"')
        for body in (
            '{"name": ' + text + "}",
            '{"k": [1, {"deep": ' + text + "}]}",
            "{" + text + ": 1}",
        )
    ]
    for raw in bodies:
        response = client.request(route.method, path, data=raw, content_type="application/json")
        assert response.status_code == 400, (route.path, raw, response.get_json())
        assert error_of(response)["code"] == "invalid_json"


def test_a_surrogate_pair_is_one_character_and_welcome(api_as, alice):
    response = api_as(alice, "full").post(
        "/api/v1/calendars",
        data='{"slug": "fun", "name": "Fun \\ud83d\\ude00", "timezone": "UTC"}',
        content_type="application/json",
    )
    assert response.status_code == 201 and response.get_json()["name"] == "Fun \U0001f600"
