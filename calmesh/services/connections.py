"""Connections: create (checking the credentials first), OAuth consent, update, remove."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from calmesh.auth import crypto, signing
from calmesh.config import Config
from calmesh.db import utcnow, write_transaction
from calmesh.models import Connection, OAuthAttempt, RemoteCalendar, User
from calmesh.models.connections import new_version
from calmesh.providers import net, oauth, registry
from calmesh.providers.base import ProviderError
from calmesh.services import sync
from calmesh.services.errors import ServiceError

# Checking credentials happens on the request path: keep it short.
CHECK_TIMEOUT = 10.0


def _check_timeout(settings: Config) -> float:
    return min(CHECK_TIMEOUT, settings["sync.timeout_seconds"])


class ConnectionRefused(Exception):
    """The provider refused the new connection; the message says why. Nothing was saved."""


class NotConfigured(Exception):
    """OAuth is not set up for this provider on this instance."""


def public_endpoint(connection: Connection) -> str:
    """The endpoint with nothing secret: no user:password, no query; where the
    path is the secret itself (an iCal URL), only the host is shown."""
    if not connection.endpoint:
        return ""
    parts = urlsplit(connection.endpoint)
    host = parts.hostname or ""
    if parts.port:
        host += f":{parts.port}"
    integration = registry.get(connection.provider)
    if integration is None or integration.secret_path:
        return f"{parts.scheme}://{host}/…"
    return f"{parts.scheme}://{host}{parts.path}"


def get_for(user: User, connection_id: int) -> Connection | None:
    """The user's connection, or None (another user's answers 404 to the caller)."""
    return Connection.get_or_none((Connection.id == connection_id) & (Connection.user == user))


def create_with_credentials(
    user: User,
    kind: str,
    name: str,
    url: str,
    username: str = "",
    password: str = "",
    *,
    settings: Config,
) -> Connection:
    """CalDAV, iCloud or iCal URL: check with the provider, then save.

    The provider is asked for its calendars before anything is stored, so a
    wrong password or a dead URL is answered at once with a readable reason.
    A ``user:password@`` and the query in the URL are stored encrypted with
    the credentials, never in the endpoint (a username given apart wins over
    the URL's, as it does in the CalDAV library).
    """
    integration = registry.get(kind)
    if integration is None or integration.consent:
        raise ConnectionRefused(f"{kind!r} is not connected with a URL and credentials")
    endpoint = url or integration.default_endpoint
    if endpoint.startswith("webcal://"):
        endpoint = "https://" + endpoint[len("webcal://") :]
    endpoint, secret = net.split_secrets(endpoint)
    if username or password:
        credentials = {"username": username, "password": password}
    else:
        credentials = {k: v for k, v in secret.items() if k in ("username", "password")}
    if "query" in secret:
        credentials["query"] = secret["query"]
    connection = Connection(
        user=user,
        provider=kind,
        name=name,
        endpoint=endpoint,
        credentials=crypto.encrypt(credentials),
    )
    try:
        provider = sync.provider_for(connection, settings, timeout=_check_timeout(settings))
        calendars = provider.list_calendars()
    except ProviderError as exc:
        raise ConnectionRefused(str(exc)) from None
    with write_transaction():
        connection.next_sync_at = connection.calendars_listed_at = utcnow()
        connection.save()
        sync.upsert_calendars(connection, calendars)
    return connection


def create_from(user: User, kind: str, values: dict[str, Any], *, settings: Config) -> Connection:
    """:func:`create_with_credentials` with the fields of a parsed connect body (the
    REST endpoint's or the form's: ``name`` and, as the kind takes them, ``url``,
    ``username``, ``password``)."""
    return create_with_credentials(
        user,
        kind,
        values["name"],
        values.get("url", ""),
        values.get("username", ""),
        values.get("password", ""),
        settings=settings,
    )


def redirect_uri(kind: str, host_url: str, settings: Config) -> str:
    base = settings["server.base_url"] or host_url
    return base.rstrip("/") + f"/oauth/callback/{kind}"


class OAuthRefused(ServiceError):
    """A consent answer that may not complete its connection: forged, expired, used
    before, or brought back by another user or browser. Nothing was stored."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message, status, "oauth_refused")


class SignInRequired(ServiceError):
    """The consent answer is fine, but only its user may complete it: sign in first."""

    def __init__(self) -> None:
        super().__init__("sign in to finish connecting", 401, "sign_in_required")


# How long a consent round trip may take, and how long attempts are kept.
OAUTH_ATTEMPT_TTL = timedelta(seconds=signing.PURPOSES["oauth-state"])


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def start_oauth(
    user: User,
    kind: str,
    name: str,
    host_url: str,
    connection: Connection | None = None,
    browser: str | None = None,
    *,
    settings: Config,
) -> tuple[Connection, str]:
    """Create (or reuse, to reconnect) a connection and the consent URL to open.

    The consent can be completed only by ``user`` signed in, and, when
    ``browser`` is given (the flow started in a browser session:
    sessions.browser_key()), only in that browser; see :func:`finish_oauth`.
    """
    integration = registry.get(kind)
    if integration is None or not integration.consent:
        raise NotConfigured(f"{kind!r} is not connected by consent")
    client = sync.provider_settings(kind, settings)
    if not client.get("client_id") or not client.get("client_secret"):
        raise NotConfigured(
            f"{kind.title()} is not configured on this instance: set {kind}.client_id and "
            f"{kind}.client_secret (see README, 'Google and Microsoft')"
        )
    nonce, verifier = secrets.token_urlsafe(32), secrets.token_urlsafe(48)
    with write_transaction():
        if connection is None:
            connection = Connection.create(
                user=user,
                provider=kind,
                name=name,
                status="auth_required",
                last_error="waiting for consent",
            )
        OAuthAttempt.delete().where(
            OAuthAttempt.created_at < utcnow() - OAUTH_ATTEMPT_TTL
        ).execute()
        attempt = OAuthAttempt.create(
            connection=connection,
            user=user,
            kind=kind,
            nonce_hash=_digest(nonce),
            code_verifier=verifier,
            browser_hash=_digest(browser) if browser else None,
        )
    state = signing.sign("oauth-state", {"a": attempt.id, "u": user.id, "k": kind, "n": nonce})
    url = oauth.authorization_url(
        kind, client, redirect_uri(kind, host_url, settings), state, verifier
    )
    return connection, url


def _claim_attempt(kind: str, state: str, user: User | None, browser: str | None) -> OAuthAttempt:
    """The attempt a consent answer belongs to, once it is sure it may complete it.

    Checks, in order: the signature and age of ``state``, that its attempt
    exists for this provider with this nonce, that ``user`` (None: nobody
    signed in) started it, in this ``browser`` if a browser started it, and
    that it was not used before; then marks it used. Raises OAuthRefused or
    SignInRequired, having changed nothing.
    """
    try:
        data = signing.verify("oauth-state", state)
    except signing.BadToken:
        raise OAuthRefused(
            "This consent answer is invalid or has expired. Nothing was stored: start "
            "connecting again from your dashboard."
        ) from None
    attempt = OAuthAttempt.get_or_none(OAuthAttempt.id == data.get("a"))
    if (
        attempt is None
        or attempt.kind != kind
        or not hmac.compare_digest(attempt.nonce_hash, _digest(str(data.get("n", ""))))
    ):
        raise OAuthRefused(
            "This consent answer belongs to no connection waiting for one (removed, or for "
            "another provider). Nothing was stored."
        )
    if user is None:
        raise SignInRequired()
    if attempt.user_id != user.id or data.get("u") != user.id:
        raise OAuthRefused(
            "This consent was started by another CalMesh account. Nothing was stored; if "
            "someone sent you this link, do not use it. Connect your own calendar from your "
            "dashboard.",
            403,
        )
    if attempt.browser_hash and not (
        browser and hmac.compare_digest(attempt.browser_hash, _digest(browser))
    ):
        raise OAuthRefused(
            "This consent was started in another browser. Nothing was stored: start "
            "connecting again in this browser.",
            403,
        )
    claimed = (
        OAuthAttempt.update(used_at=utcnow())
        .where((OAuthAttempt.id == attempt.id) & OAuthAttempt.used_at.is_null())
        .execute()
    )
    if not claimed:
        raise OAuthRefused("This consent answer was used already. Nothing more was stored.")
    return attempt


def finish_oauth(
    kind: str,
    state: str,
    code: str,
    host_url: str,
    user: User | None = None,
    browser: str | None = None,
    *,
    settings: Config,
) -> Connection:
    """The consent came back: check that ``user`` in ``browser`` may complete it
    (:func:`_claim_attempt`), exchange the code, store the tokens."""
    attempt = _claim_attempt(kind, state, user, browser)
    connection = attempt.connection
    try:
        token = oauth.exchange_code(
            kind,
            sync.provider_settings(kind, settings),
            redirect_uri(kind, host_url, settings),
            code,
            sync.http_settings(settings, _check_timeout(settings)),
            attempt.code_verifier,
        )
    except ProviderError as exc:
        Connection.update(status="auth_required", last_error=str(exc)[:2000]).where(
            Connection.id == connection.id
        ).execute()
        raise ConnectionRefused(str(exc)) from None
    Connection.update(
        credentials=crypto.encrypt(token),
        status="pending",
        last_error="",
        failures=0,
        next_sync_at=utcnow(),
    ).where(Connection.id == connection.id).execute()
    return Connection.get_by_id(connection.id)


def refuse_oauth(
    kind: str, state: str, reason: str, user: User | None = None, browser: str | None = None
) -> None:
    """The owner declined consent (or the provider failed): say so on the connection,
    under the same checks as :func:`finish_oauth`."""
    attempt = _claim_attempt(kind, state, user, browser)
    Connection.update(
        status="auth_required", last_error=f"consent not given: {reason}"[:2000]
    ).where(Connection.id == attempt.connection_id).execute()


def update(
    connection: Connection,
    *,
    name: str | None = None,
    username: str | None = None,
    password: str | None = None,
    settings: Config,
) -> Connection:
    """Rename, or replace CalDAV/iCal credentials (checked first, like on create)."""
    if username is not None or password is not None:
        current = crypto.decrypt(connection.credentials)
        credentials = {
            **current,  # a secret query stays
            "username": current.get("username", "") if username is None else username,
            "password": current.get("password", "") if password is None else password,
        }
        trial = Connection(
            id=connection.id,
            user=connection.user,
            provider=connection.provider,
            endpoint=connection.endpoint,
            credentials=crypto.encrypt(credentials),
        )
        try:
            sync.provider_for(trial, settings, timeout=_check_timeout(settings)).list_calendars()
        except ProviderError as exc:
            raise ConnectionRefused(str(exc)) from None
        connection.credentials = trial.credentials
        connection.status, connection.last_error, connection.failures = "pending", "", 0
        connection.next_sync_at = utcnow()
    if name is not None:
        connection.name = name
    connection.save()
    return connection


def set_calendar_enabled(
    connection: Connection, calendar_id: int, enabled: bool
) -> RemoteCalendar | None:
    calendar = RemoteCalendar.get_or_none(
        (RemoteCalendar.id == calendar_id) & (RemoteCalendar.connection == connection)
    )
    if calendar is None:
        return None
    with write_transaction():
        calendar.enabled = enabled
        calendar.version = new_version()
        if not enabled:
            # A disabled calendar stops blocking time at once; enabling it syncs it anew.
            calendar.sync_token = None
            calendar.window_end = None
            for obj in calendar.objects:
                obj.delete_instance(recursive=True)
        calendar.save()
        if enabled:
            Connection.update(next_sync_at=utcnow()).where(Connection.id == connection.id).execute()
    return calendar


def request_sync(connection: Connection) -> Connection:
    """Ask the scheduler to sync now (it polls for due connections every few seconds)."""
    connection.next_sync_at = utcnow() - timedelta(seconds=1)
    connection.calendars_listed_at = None  # asked for by a person: look for new calendars too
    connection.save()
    return connection


def remove(connection: Connection) -> None:
    """Delete the connection with its calendars and every cached event."""
    connection.delete_instance(recursive=True)
