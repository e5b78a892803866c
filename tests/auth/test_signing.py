"""Signed links: bound to one purpose, refused when tampered with or expired
(an injected clock, not a wait), still verified after a key rotation."""

from __future__ import annotations

import pytest
from itsdangerous.timed import TimestampSigner

from calmesh.auth import keys, signing


def test_a_token_verifies_for_its_purpose_only(app):
    token = signing.sign("booking-manage", {"uid": "abc"})

    assert signing.verify("booking-manage", token) == {"uid": "abc"}
    with pytest.raises(signing.BadToken, match="poll vote link is invalid or has expired"):
        signing.verify("poll-vote", token)


@pytest.mark.parametrize(
    "edit", [lambda t: t[:-2] + "xx", lambda t: "x" + t, lambda t: "", str.upper]
)
def test_a_tampered_token_is_refused(app, edit):
    token = signing.sign("poll-vote", 7)
    with pytest.raises(signing.BadToken):
        signing.verify("poll-vote", edit(token))


def test_an_unknown_purpose_is_a_programming_error(app):
    with pytest.raises(ValueError, match="unknown token purpose"):
        signing.sign("everything", 1)


def test_a_token_expires_after_its_purposes_lifetime(app, monkeypatch):
    lifetime = signing.PURPOSES["oauth-state"]
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: 1_000_000)
    token = signing.sign("oauth-state", "s")

    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: 1_000_000 + lifetime)
    assert signing.verify("oauth-state", token) == "s"
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: 1_000_001 + lifetime)
    with pytest.raises(signing.BadToken):
        signing.verify("oauth-state", token)
    assert signing.verify("oauth-state", token, max_age=lifetime + 10) == "s"


def test_links_signed_before_a_key_rotation_still_verify(app):
    old = keys.current()
    token = signing.sign("booking-manage", "uid-1")
    app.extensions["calmesh.keys"] = keys.Keyring("a-new-secret-" + "n" * 40, (old.secret,))

    assert signing.verify("booking-manage", token) == "uid-1"
    fresh = signing.sign("booking-manage", "uid-2")
    app.extensions["calmesh.keys"] = keys.Keyring("a-new-secret-" + "n" * 40)
    assert signing.verify("booking-manage", fresh) == "uid-2"
    with pytest.raises(signing.BadToken):
        signing.verify("booking-manage", token)
