"""Connections: create (checking the credentials first), OAuth consent, update, remove."""

from __future__ import annotations

from datetime import timedelta

from flask import current_app

from calmesh.auth import crypto, signing
from calmesh.db import utcnow, write_transaction
from calmesh.models import Connection, RemoteCalendar, User
from calmesh.models.connections import new_version
from calmesh.providers.base import ProviderError
from calmesh.providers.caldav import ICLOUD_URL
from calmesh.services import sync

# Checking credentials happens on the request path: keep it short.
CHECK_TIMEOUT = 10.0


def _check_timeout() -> float:
    return min(CHECK_TIMEOUT, current_app.config["CALMESH"]["sync.timeout_seconds"])


class ConnectionRefused(Exception):
    """The provider refused the new connection; the message says why. Nothing was saved."""


class NotConfigured(Exception):
    """OAuth is not set up for this provider on this instance."""


def get_for(user: User, connection_id: int) -> Connection | None:
    """The user's connection, or None (another user's answers 404 to the caller)."""
    return Connection.get_or_none((Connection.id == connection_id) & (Connection.user == user))


def create_with_credentials(
    user: User, kind: str, name: str, url: str, username: str = "", password: str = ""
) -> Connection:
    """CalDAV, iCloud or iCal URL: check with the provider, then save.

    The provider is asked for its calendars before anything is stored, so a
    wrong password or a dead URL is answered at once with a readable reason.
    """
    endpoint = url or (ICLOUD_URL if kind == "icloud" else "")
    if endpoint.startswith("webcal://"):
        endpoint = "https://" + endpoint[len("webcal://") :]
    credentials = {"username": username, "password": password} if username or password else {}
    connection = Connection(
        user=user,
        provider=kind,
        name=name,
        endpoint=endpoint,
        credentials=crypto.encrypt(credentials),
    )
    try:
        calendars = sync.provider_for(connection, timeout=_check_timeout()).list_calendars()
    except ProviderError as exc:
        raise ConnectionRefused(str(exc)) from None
    with write_transaction():
        connection.next_sync_at = connection.calendars_listed_at = utcnow()
        connection.save()
        sync.upsert_calendars(connection, calendars)
    return connection


def redirect_uri(kind: str, host_url: str) -> str:
    base = current_app.config["CALMESH"]["server.base_url"] or host_url
    return base.rstrip("/") + f"/oauth/callback/{kind}"


def start_oauth(
    user: User, kind: str, name: str, host_url: str, connection: Connection | None = None
) -> tuple[Connection, str]:
    """Create (or reuse, to reconnect) a connection and the consent URL to open."""
    settings = sync.provider_settings(kind)
    if not settings.get("client_id") or not settings.get("client_secret"):
        raise NotConfigured(
            f"{kind.title()} is not configured on this instance: set {kind}.client_id and "
            f"{kind}.client_secret (see README, 'Google and Microsoft')"
        )
    if connection is None:
        connection = Connection.create(
            user=user,
            provider=kind,
            name=name,
            status="auth_required",
            last_error="waiting for consent",
        )
    from calmesh.providers import oauth

    state = signing.sign("oauth-state", {"c": connection.id, "u": user.id, "k": kind})
    return connection, oauth.authorization_url(kind, settings, redirect_uri(kind, host_url), state)


def finish_oauth(kind: str, state: str, code: str, host_url: str) -> Connection:
    """The consent came back: check the state, exchange the code, store the tokens."""
    data = signing.verify("oauth-state", state)
    if data.get("k") != kind:
        raise signing.BadToken("the consent answer is for another provider")
    connection = Connection.get_or_none(
        (Connection.id == data["c"]) & (Connection.user == data["u"])
    )
    if connection is None:
        raise signing.BadToken("the connection this consent was for no longer exists")
    from calmesh.providers import oauth

    try:
        token = oauth.exchange_code(
            kind,
            sync.provider_settings(kind),
            redirect_uri(kind, host_url),
            code,
            sync.http_settings(_check_timeout()),
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


def refuse_oauth(state: str, reason: str) -> None:
    """The owner declined consent (or the provider failed): say so on the connection."""
    try:
        data = signing.verify("oauth-state", state)
    except signing.BadToken:
        return
    Connection.update(
        status="auth_required", last_error=f"consent not given: {reason}"[:2000]
    ).where((Connection.id == data["c"]) & (Connection.user == data["u"])).execute()


def update(
    connection: Connection,
    *,
    name: str | None = None,
    username: str | None = None,
    password: str | None = None,
) -> Connection:
    """Rename, or replace CalDAV/iCal credentials (checked first, like on create)."""
    if username is not None or password is not None:
        current = crypto.decrypt(connection.credentials)
        credentials = {
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
            sync.provider_for(trial, timeout=_check_timeout()).list_calendars()
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
