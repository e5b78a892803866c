"""The instance's secret key and the keys derived from it, one per purpose.

Nothing uses the secret itself. HKDF-SHA256 derives an independent key for
each purpose in :data:`PURPOSES`, so a key that serves one use (signing
cookies, say) tells nothing about another (encrypting stored calendar
credentials), and no use can be turned against another.

Rotation: a new ``security.secret_key`` with the old one listed in
``security.previous_secret_keys``. Everything is written with the keys of the
current secret; the keys of previous secrets are accepted for reading only
(cookies, signed links, stored credentials and webhook secrets), so nothing
becomes unreadable. ``python -m calmesh rotate-keys`` (``crypto.reencrypt_all``)
then rewrites what is stored under the current keys; after that a previous key
only keeps cookies and links that were signed with it valid.

The database records a fingerprint of the secret (an HMAC of a fixed label
under a derived key: it reveals nothing of the key). A process whose secret
is neither that one nor lists it as a previous key refuses to start: it could
read no session, link or credential of the others (:func:`check_fingerprint`).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from functools import lru_cache

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import Flask, current_app

from calmesh.config import ConfigError

PURPOSES = (
    "session",  # the session and remember-me cookies
    "links",  # signed links and tokens (itsdangerous): manage, vote, OAuth state, forms
    "credentials",  # stored calendar credentials (Fernet)
    "webhook-secrets",  # webhook signing secrets at rest (Fernet)
    "setup-token",  # the first-run token derived for the log
    "fingerprint",  # the fingerprint the database keeps
)
_FINGERPRINT_LABEL = b"calmesh key fingerprint"


@lru_cache(maxsize=64)
def derive(secret: str, purpose: str) -> bytes:
    """The 32-byte key for ``purpose`` derived from ``secret``.

    The salt and the info strings are those CalMesh has always used for the
    credentials key, so credentials stored before keys per purpose stay readable.
    """
    if purpose not in PURPOSES:
        raise ValueError(f"unknown key purpose {purpose!r}")
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"calmesh", info=purpose.encode())
    return hkdf.derive(secret.encode())


def fingerprint(secret: str) -> str:
    return hmac.new(derive(secret, "fingerprint"), _FINGERPRINT_LABEL, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Keyring:
    """The current secret and the previous ones, still accepted for reading."""

    secret: str = field(repr=False)
    previous: tuple[str, ...] = field(default=(), repr=False)

    def key(self, purpose: str) -> bytes:
        """The key to write with."""
        return derive(self.secret, purpose)

    def keys(self, purpose: str) -> list[bytes]:
        """Every key accepted for reading, the current one first."""
        return [derive(secret, purpose) for secret in self.secrets]

    @property
    def secrets(self) -> tuple[str, ...]:
        return (self.secret, *(p for p in self.previous if p != self.secret))

    def fingerprint(self) -> str:
        return fingerprint(self.secret)

    def accepts(self, recorded: str) -> bool:
        """Whether a fingerprint is of the current secret or a previous one."""
        return any(hmac.compare_digest(recorded, fingerprint(s)) for s in self.secrets)


def init_app(app: Flask, keyring: Keyring) -> None:
    app.extensions["calmesh.keys"] = keyring
    # Flask signs the session cookie, flask-login the remember cookie, with these.
    app.secret_key = keyring.key("session")
    app.config["SECRET_KEY_FALLBACKS"] = keyring.keys("session")[1:]


def current() -> Keyring:
    return current_app.extensions["calmesh.keys"]


class KeyMismatch(ConfigError):
    """This process's secret key is not the one the database was used with."""


def check_fingerprint(app: Flask) -> None:
    """Refuse to run with a key that does not match the database's; record it if none is.

    A previous key's fingerprint counts as a match (a rotation in progress), and
    the current one replaces it, so hosts still on the old key alone are refused
    from then on. Call it after the database is migrated.
    """
    from calmesh.db import db, utcnow, write_transaction
    from calmesh.models import KeyFingerprint

    keyring: Keyring = app.extensions["calmesh.keys"]
    mine = keyring.fingerprint()
    with db.connection_context(), write_transaction():
        row = KeyFingerprint.get_or_none(KeyFingerprint.id == 1)
        if row is None:
            KeyFingerprint.create(id=1, fingerprint=mine)
            return
        if not keyring.accepts(row.fingerprint):
            config = app.config["CALMESH"]
            raise KeyMismatch(
                "the secret key differs from the one this database was set up with: copy "
                f"data_dir/secret_key from the first host to {config.data_dir / 'secret_key'}, "
                "or set security.secret_key_file (CALMESH_SECURITY_SECRET_KEY_FILE) to it"
            )
        if row.fingerprint != mine:
            KeyFingerprint.update(fingerprint=mine, recorded_at=utcnow()).where(
                KeyFingerprint.id == 1
            ).execute()
