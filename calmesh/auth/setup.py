"""The first-run page: who may create the owner account.

Only while no user exists, and only from this machine (a loopback address with
no proxy header in between) or with the setup token, which is derived from the
secret key so that every worker prints and accepts the same one.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress

from flask import current_app, request

from calmesh.auth import keys
from calmesh.models import User


def needs_setup() -> bool:
    return not User.select().exists()


def setup_token() -> str:
    configured = current_app.config["CALMESH"]["security.setup_token"]
    if configured:
        return configured
    digest = hmac.new(keys.current().key("setup-token"), b"calmesh-setup-token", hashlib.sha256)
    return digest.hexdigest()[:32]


def request_is_local() -> bool:
    forwarded = any(h in request.headers for h in ("X-Forwarded-For", "Forwarded", "X-Real-IP"))
    if forwarded and not current_app.config["CALMESH"]["server.trusted_proxies"]:
        return False  # an untrusted proxy: the loopback peer is the proxy, not the visitor
    try:
        return ipaddress.ip_address(request.remote_addr or "").is_loopback
    except ValueError:
        return False


def request_may_set_up(sent_token: str | None) -> bool:
    if request_is_local():
        return True
    return bool(sent_token) and hmac.compare_digest(sent_token, setup_token())
