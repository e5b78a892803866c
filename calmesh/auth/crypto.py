"""Encryption at rest for calendar credentials (passwords, OAuth tokens).

Fernet (AES-128-CBC + HMAC-SHA256) with a key derived from the instance's
secret key by HKDF, so that backing up ``data_dir`` keeps credentials usable
and a stolen database alone does not reveal them.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app


class CredentialsUnreadable(Exception):
    """The stored credentials cannot be decrypted (the secret key changed)."""


def _fernet(secret: str) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"calmesh", info=b"credentials").derive(
        secret.encode()
    )
    return Fernet(base64.urlsafe_b64encode(key))


def encrypt(data: dict[str, Any], secret: str | None = None) -> str:
    return _fernet(secret or current_app.secret_key).encrypt(json.dumps(data).encode()).decode()


def decrypt(token: str, secret: str | None = None) -> dict[str, Any]:
    if not token:
        return {}
    try:
        return json.loads(_fernet(secret or current_app.secret_key).decrypt(token.encode()))
    except InvalidToken:
        raise CredentialsUnreadable(
            "stored credentials cannot be decrypted: was the secret key changed? Reconnect."
        ) from None
