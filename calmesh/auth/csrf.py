"""CSRF protection for every cookie-authenticated change.

A random token lives in the session; forms send it as ``csrf_token``, htmx
and fetch calls as the ``X-CSRF-Token`` header (set once on ``<body>``).
Bearer-key requests carry no cookie and need no token.

The public pages (booking, poll) are shown inside other sites' iframes, where
the browser does not send our SameSite session cookie. Their forms carry a
stateless signed token instead: it proves the form came from our page, and
nothing there acts with an account's authority.
"""

from __future__ import annotations

import hmac
import secrets

from flask import request, session

from calmesh.auth import signing

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def token() -> str:
    if request.blueprint == "public":
        return signing.sign("public-form", "form")
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


def request_is_valid() -> bool:
    sent = request.headers.get("X-CSRF-Token") or request.form.get("csrf_token", "")
    if request.blueprint == "public":
        try:
            return signing.verify("public-form", sent) == "form"
        except signing.BadToken:
            return False
    expected = session.get("csrf")
    return bool(expected) and hmac.compare_digest(expected, sent)
