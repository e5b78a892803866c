"""Signed, purpose-bound, expiring tokens (itsdangerous), one salt per purpose.

A token made for one purpose never verifies for another (the salt differs),
and a tampered, foreign or expired token is refused with :class:`BadToken`.
Tokens are signed with the ``links`` key of the current secret and verified
with that of any configured secret (:mod:`calmesh.auth.keys`), so links mailed
before a key rotation keep working while their old key is listed.
"""

from __future__ import annotations

from typing import Any

from itsdangerous import BadData, URLSafeTimedSerializer

from calmesh.auth import keys

PURPOSES = {
    "oauth-state": 30 * 60,  # the consent round trip
    "booking-manage": 400 * 86_400,  # a visitor's cancel/reschedule link (older mails)
    "booking-view": 400 * 86_400,  # the confirmation page and the .ics download
    "booking-reschedule": 400 * 86_400,  # moves the booking, cannot cancel it
    "booking-cancel": 400 * 86_400,  # cancels the booking, cannot move it
    "poll-vote": 400 * 86_400,  # a participant's edit link
    "public-form": 86_400,  # the CSRF token of a public page's form (works inside iframes)
}


class BadToken(Exception):
    """The token is malformed, tampered with, for another purpose, or expired."""


def _serializer(purpose: str) -> URLSafeTimedSerializer:
    if purpose not in PURPOSES:
        raise ValueError(f"unknown token purpose {purpose!r}")
    keyring = keys.current()
    # Links mailed before keys per purpose were signed with the secret itself;
    # the last of them expire 400 days after that change, then this can go.
    legacy = [secret.encode() for secret in keyring.secrets]
    # itsdangerous signs with the last key and verifies with any.
    verifying = [*legacy, *reversed(keyring.keys("links"))]
    return URLSafeTimedSerializer(verifying, salt=f"calmesh:{purpose}")


def sign(purpose: str, data: Any) -> str:
    return _serializer(purpose).dumps(data)


def verify(purpose: str, token: str, max_age: int | None = None) -> Any:
    try:
        return _serializer(purpose).loads(token, max_age=max_age or PURPOSES[purpose])
    except BadData:
        raise BadToken(f"the {purpose.replace('-', ' ')} link is invalid or has expired") from None
