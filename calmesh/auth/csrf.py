"""CSRF protection for every cookie-authenticated change.

A random token lives in the session; forms send it as ``csrf_token``, htmx
and fetch calls as the ``X-CSRF-Token`` header (set once on ``<body>``).
Bearer-key requests carry no cookie and need no token.
"""

from __future__ import annotations

import hmac
import secrets

from flask import request, session

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


def request_is_valid() -> bool:
    expected = session.get("csrf")
    sent = request.headers.get("X-CSRF-Token") or request.form.get("csrf_token", "")
    return bool(expected) and hmac.compare_digest(expected, sent)
