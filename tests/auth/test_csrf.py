"""CSRF: a session token for the dashboard's forms and htmx calls, a signed
stateless one for the public pages (shown in other sites' iframes), and every
cookie-authenticated change without a valid one refused with 403."""

from __future__ import annotations

import pytest

from calmesh.auth import csrf, signing


def test_the_session_token_is_made_once_and_kept(app):
    with app.test_request_context("/calendars"):
        first = csrf.token()
        assert len(first) >= 32
        assert csrf.token() == first


@pytest.mark.parametrize(
    ("form", "headers", "valid"),
    [
        ({"csrf_token": "s3cret"}, {}, True),
        ({}, {"X-CSRF-Token": "s3cret"}, True),
        ({}, {}, False),
        ({"csrf_token": "wrong"}, {}, False),
        ({"csrf_token": "s3cre"}, {}, False),
        ({}, {"X-CSRF-Token": "S3CRET"}, False),
    ],
)
def test_a_dashboard_change_needs_the_sessions_token(app, form, headers, valid):
    with app.test_request_context("/calendars", method="POST", data=form, headers=headers):
        from flask import session

        session["csrf"] = "s3cret"
        assert csrf.request_is_valid() is valid


def test_an_empty_token_never_matches_a_session_without_one(app):
    with app.test_request_context("/calendars", method="POST", data={"csrf_token": ""}):
        assert csrf.request_is_valid() is False


def test_the_public_pages_use_a_signed_token_not_the_session(app, alice):
    with app.test_request_context("/alice/intro"):
        signed = csrf.token()
    assert signing.verify("public-form", signed) == "form"

    with app.test_request_context("/alice/intro", method="POST", data={"csrf_token": signed}):
        assert csrf.request_is_valid() is True
    for other in ("", "s3cret", signing.sign("poll-vote", "form")):
        with app.test_request_context("/alice/intro", method="POST", data={"csrf_token": other}):
            from flask import session

            session["csrf"] = "s3cret"
            assert csrf.request_is_valid() is False, other
