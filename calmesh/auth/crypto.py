"""Encryption at rest for calendar credentials and webhook secrets (Fernet).

Fernet (AES-128-CBC + HMAC-SHA256) under a key derived from the instance's
secret for each purpose (:mod:`calmesh.auth.keys`), so that backing up
``data_dir`` keeps them usable and a stolen database alone does not reveal
them. Values are written with the current secret's key and read with any of
the keys (current or previous), so rotating the secret never makes them
unreadable; :func:`reencrypt_all` rewrites them under the current key.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from calmesh.auth import keys

CREDENTIALS = "credentials"
WEBHOOK_SECRETS = "webhook-secrets"
# Webhook secrets were stored under the credentials key before keys per purpose;
# they are still read with it until ``rotate-keys`` rewrote them.
_ALSO_READ = {WEBHOOK_SECRETS: (CREDENTIALS,)}


class CredentialsUnreadable(Exception):
    """The stored credentials cannot be decrypted (the secret key changed)."""


def _fernet(keyring: keys.Keyring, purpose: str) -> MultiFernet:
    readable = [k for p in (purpose, *_ALSO_READ.get(purpose, ())) for k in keyring.keys(p)]
    # MultiFernet encrypts with the first key and decrypts with any.
    return MultiFernet([Fernet(base64.urlsafe_b64encode(k)) for k in readable])


def encrypt(
    data: dict[str, Any], purpose: str = CREDENTIALS, keyring: keys.Keyring | None = None
) -> str:
    fernet = _fernet(keyring or keys.current(), purpose)
    return fernet.encrypt(json.dumps(data).encode()).decode()


def decrypt(
    token: str, purpose: str = CREDENTIALS, keyring: keys.Keyring | None = None
) -> dict[str, Any]:
    if not token:
        return {}
    try:
        return json.loads(_fernet(keyring or keys.current(), purpose).decrypt(token.encode()))
    except InvalidToken:
        raise CredentialsUnreadable(
            "stored credentials cannot be decrypted: was the secret key changed? Reconnect."
        ) from None


def reencrypt(token: str, purpose: str = CREDENTIALS, keyring: keys.Keyring | None = None) -> str:
    """``token`` encrypted under the current key (unchanged if it already is).

    Raises CredentialsUnreadable when no current or previous key reads it.
    """
    if not token:
        return token
    keyring = keyring or keys.current()
    try:
        Fernet(base64.urlsafe_b64encode(keyring.key(purpose))).decrypt(token.encode())
        return token
    except InvalidToken:
        pass
    try:
        return _fernet(keyring, purpose).rotate(token.encode()).decode()
    except InvalidToken:
        raise CredentialsUnreadable("cannot be decrypted with any configured key") from None


def reencrypt_all(keyring: keys.Keyring | None = None) -> dict[str, int]:
    """Rewrite every stored credential and webhook secret under the current key.

    Returns counts: ``connections``, ``webhooks`` rewritten and ``unreadable``
    (values no configured key reads: left as they are, they need reconnecting).
    One transaction, so a crash leaves everything as it was.
    """
    from calmesh.db import db
    from calmesh.models import Connection, Webhook

    counts = {"connections": 0, "webhooks": 0, "unreadable": 0}
    targets = (
        ("connections", Connection, Connection.credentials, CREDENTIALS),
        ("webhooks", Webhook, Webhook.secret, WEBHOOK_SECRETS),
    )
    with db.atomic():
        for name, model, field, purpose in targets:
            for row_id, token in model.select(model.id, field).tuples():
                try:
                    fresh = reencrypt(token, purpose, keyring)
                except CredentialsUnreadable:
                    counts["unreadable"] += 1
                    continue
                if fresh != token:
                    model.update({field: fresh}).where(model.id == row_id).execute()
                    counts[name] += 1
    return counts
