"""The first run: who may create the owner account.

While no user exists, ``/setup`` opens only with the setup token, whoever
asks. There is no exception for "local" requests: a request relayed by an SSH
tunnel, socat or a proxy that sends only ``CF-Connecting-IP`` arrives from
127.0.0.1 with no forwarding header, exactly like one from this machine.

The token is random: a nonce kept in the database, turned into the token with
the key derived from the secret for it (HMAC), so every worker and host prints and accepts the same
one, ``python -m calmesh setup-url`` can print it again, and the database
alone does not give it away. Creating the first user deletes the nonce: the
token never works again, even if the users were deleted later.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets

from flask import Flask

from calmesh.auth import keys
from calmesh.models import InstanceSetting, User

log = logging.getLogger("calmesh")


def needs_setup() -> bool:
    return not User.select().exists()


def _token_for(nonce: str) -> str:
    key = keys.current().key("setup-token")
    return hmac.new(key, b"calmesh-setup-token:" + nonce.encode(), hashlib.sha256).hexdigest()[:32]


def setup_token(renew: bool = False) -> str | None:
    """The setup token while no user exists (made on the first call; ``renew``
    replaces it, so the old one stops working), else None."""
    if not needs_setup():
        close()
        return None
    if renew:
        close()
    return _token_for(InstanceSetting.put_once(InstanceSetting.SETUP_NONCE, secrets.token_hex(16)))


def token_is_valid(sent: str | None) -> bool:
    """True when ``sent`` is the current setup token and no user exists yet."""
    if not sent or not needs_setup():
        return False
    nonce = InstanceSetting.read(InstanceSetting.SETUP_NONCE)
    return nonce is not None and hmac.compare_digest(sent.encode(), _token_for(nonce).encode())


def close() -> None:
    """Invalidate the setup token (the owner exists)."""
    InstanceSetting.forget(InstanceSetting.SETUP_NONCE)


def setup_url(renew: bool = False) -> str | None:
    """The ready first-run link, on the trusted origin; None once a user exists."""
    from calmesh.urls import external_url

    token = setup_token(renew)
    return external_url("web.setup", token=token) if token else None


def announce(app: Flask) -> None:
    """At start: log the first-run link while no user exists, and where links
    point while ``server.base_url`` is empty. Each worker of ``serve`` and
    ``gunicorn app:app`` calls it (they print the same link)."""
    from calmesh.urls import trusted_origin

    with app.app_context():
        url = setup_url()
        if url:
            log.warning(
                "No account yet. Create the owner at %s "
                "(python -m calmesh setup-url prints this link again).",
                url,
            )
        if not app.config["CALMESH"]["server.base_url"]:
            log.info(
                "server.base_url is empty: links in e-mails and feeds point at %s "
                "(the first-run origin, or the listen address); set it on a public instance.",
                trusted_origin(),
            )
