"""Calendar connections: list, connect (credentials or OAuth), sync, remove.

``POST /connections/{kind}`` is made for every integration in
:mod:`calmesh.providers.registry`, from its declared body and summary.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import current_app, request

from calmesh.api.framework import ApiError, endpoint, not_found
from calmesh.api.framework import current_principal as who
from calmesh.api.pagination import PAGE_QUERY, page_of, paginate
from calmesh.api.serializers import iso
from calmesh.auth import sessions
from calmesh.models import Connection, RemoteCalendar
from calmesh.models.connections import STATUSES
from calmesh.providers import registry
from calmesh.providers.base import Integration
from calmesh.schema import Boolean, Choice, DateTime, Integer, List, Object, String
from calmesh.services import connections as service

TAG = "Connections"

CALENDAR_OUT = Object(
    {
        "id": Integer(),
        "remote_id": String(),
        "name": String(),
        "color": String(),
        "writable": Boolean(),
        "enabled": Boolean(),
        "timezone": String(),
        "synced_at": DateTime(nullable=True),
    },
    name="RemoteCalendar",
)
CONNECTION_OUT = Object(
    {
        "id": Integer(),
        "provider": Choice(*registry.kinds()),
        "name": String(),
        "endpoint": String(description="The server, without credentials or secret path parts"),
        "status": Choice(*STATUSES),
        "last_sync_at": DateTime(nullable=True),
        "next_sync_at": DateTime(nullable=True),
        "last_error": String(),
        "read_only": Boolean(),
        "calendars": List(CALENDAR_OUT),
        "created_at": DateTime(),
    },
    name="Connection",
)


def calendar_out(calendar: RemoteCalendar) -> dict:
    return {
        "id": calendar.id,
        "remote_id": "feed" if _secret_path(calendar.connection) else calendar.remote_id,
        "name": calendar.name,
        "color": calendar.color,
        "writable": calendar.writable,
        "enabled": calendar.enabled,
        "timezone": calendar.timezone,
        "synced_at": iso(calendar.synced_at),
    }


def connection_out(connection: Connection) -> dict:
    calendars = (
        RemoteCalendar.select()
        .where(RemoteCalendar.connection == connection)
        .order_by(RemoteCalendar.id)
    )
    return {
        "id": connection.id,
        "provider": connection.provider,
        "name": connection.name,
        "endpoint": service.public_endpoint(connection),
        "status": connection.status,
        "last_sync_at": iso(connection.last_sync_at),
        "next_sync_at": iso(connection.next_sync_at),
        "last_error": connection.last_error,
        "read_only": _integration(connection).read_only,
        "calendars": [calendar_out(c) for c in calendars],
        "created_at": iso(connection.created_at),
    }


def _integration(connection: Connection) -> Integration:
    return registry.INTEGRATIONS[connection.provider]


def _secret_path(connection: Connection) -> bool:
    return _integration(connection).secret_path


def _settings():
    return current_app.config["CALMESH"]


def owned(connection_id: int) -> Connection:
    connection = service.get_for(who().user, connection_id)
    if connection is None:
        raise not_found("connection")
    return connection


def refused(exc: Exception) -> ApiError:
    return ApiError(422, "connection_failed", str(exc))


@endpoint(
    "/connections",
    "GET",
    auth="full",
    query=Object(PAGE_QUERY),
    response=page_of(CONNECTION_OUT, "ConnectionPage"),
    summary="List calendar connections",
    tag=TAG,
)
def list_connections(query):
    return paginate(
        Connection.for_user(who().user), order=[Connection.id], serialize=connection_out, **query
    )


def _create(kind: str, body: dict) -> dict:
    try:
        connection = service.create_from(who().user, kind, body, settings=_settings())
    except service.ConnectionRefused as exc:
        raise refused(exc) from None
    return connection_out(connection)


OAUTH_OUT = Object(
    {
        "connection": CONNECTION_OUT,
        "authorization_url": String(
            description="Open this in a browser signed in to CalMesh as the same user (in "
            "the same browser, when a browser session started it) to give consent"
        ),
    },
    name="OAuthStart",
)


def _browser() -> str | None:
    """The browser to bind a consent to: the caller's, when it is a signed-in session."""
    return sessions.browser_key() if who().via_session else None


def _start_oauth(kind: str, body: dict) -> dict:
    try:
        connection, url = service.start_oauth(
            who().user,
            kind,
            body["name"],
            request.host_url,
            browser=_browser(),
            settings=_settings(),
        )
    except service.NotConfigured as exc:
        raise ApiError(422, "not_configured", str(exc)) from None
    return {"connection": connection_out(connection), "authorization_url": url}


def _connect_view(integration: Integration) -> Callable:
    kind = integration.kind

    def view(body):
        return _start_oauth(kind, body) if integration.consent else _create(kind, body)

    view.__name__ = f"create_{kind}_connection"
    view.__doc__ = integration.summary
    return endpoint(
        f"/connections/{kind}",
        "POST",
        auth="full",
        body=integration.body,
        response=OAUTH_OUT if integration.consent else CONNECTION_OUT,
        status=201,
        errors=(422,),
        summary=integration.summary,
        tag=TAG,
    )(view)


CONNECT_VIEWS = {kind: _connect_view(i) for kind, i in registry.INTEGRATIONS.items()}


@endpoint(
    "/connections/<int:connection_id>",
    "GET",
    auth="full",
    response=CONNECTION_OUT,
    summary="A connection with its status, last sync, last error and calendars",
    tag=TAG,
)
def get_connection(connection_id):
    return connection_out(owned(connection_id))


PATCH_BODY = Object(
    {
        "name": String(min_length=1, max_length=200, default=None),
        "username": String(min_length=1, max_length=300, strip=False, default=None),
        "password": String(min_length=1, max_length=1000, strip=False, default=None),
    },
    name="ConnectionUpdate",
)


@endpoint(
    "/connections/<int:connection_id>",
    "PATCH",
    auth="full",
    body=PATCH_BODY,
    response=CONNECTION_OUT,
    errors=(422,),
    summary="Rename, or replace the username/password (checked first)",
    tag=TAG,
)
def update_connection(connection_id, body):
    connection = owned(connection_id)
    if (body["username"] or body["password"]) and _integration(connection).consent:
        raise ApiError(
            422,
            "unprocessable",
            "OAuth connections are renewed with POST /connections/:id/reconnect",
        )
    try:
        return connection_out(service.update(connection, **body, settings=_settings()))
    except service.ConnectionRefused as exc:
        raise refused(exc) from None


@endpoint(
    "/connections/<int:connection_id>",
    "DELETE",
    auth="full",
    response=Object({"id": Integer(), "deleted": Boolean()}, name="Deleted"),
    summary="Remove a connection and every cached event from it",
    tag=TAG,
)
def delete_connection(connection_id):
    connection = owned(connection_id)
    service.remove(connection)
    return {"id": connection_id, "deleted": True}


@endpoint(
    "/connections/<int:connection_id>/sync",
    "POST",
    auth="full",
    response=CONNECTION_OUT,
    status=202,
    errors=(409,),
    summary="Sync now (the scheduler picks it up within seconds)",
    tag=TAG,
)
def sync_connection(connection_id):
    connection = owned(connection_id)
    if connection.status == "auth_required":
        raise ApiError(
            409,
            "auth_required",
            "this connection needs new credentials or consent first: "
            + (connection.last_error or "reconnect it"),
        )
    return connection_out(service.request_sync(connection))


@endpoint(
    "/connections/<int:connection_id>/reconnect",
    "POST",
    auth="full",
    response=OAUTH_OUT,
    errors=(422,),
    summary="New consent URL for a Google or Microsoft connection",
    tag=TAG,
)
def reconnect_connection(connection_id):
    connection = owned(connection_id)
    if not _integration(connection).consent:
        names = " and ".join(registry.INTEGRATIONS[k].label for k in registry.kinds(consent=True))
        raise ApiError(
            422,
            "unprocessable",
            f"only {names} connections use consent; PATCH the username/password instead",
        )
    try:
        connection, url = service.start_oauth(
            who().user,
            connection.provider,
            connection.name,
            request.host_url,
            connection,
            browser=_browser(),
            settings=_settings(),
        )
    except service.NotConfigured as exc:
        raise ApiError(422, "not_configured", str(exc)) from None
    return {"connection": connection_out(connection), "authorization_url": url}


@endpoint(
    "/connections/<int:connection_id>/calendars/<int:calendar_id>",
    "PATCH",
    auth="full",
    body=Object({"enabled": Boolean()}, name="RemoteCalendarUpdate"),
    response=CALENDAR_OUT,
    summary="Enable or disable one of the connection's calendars",
    tag=TAG,
)
def update_remote_calendar(connection_id, calendar_id, body):
    calendar = service.set_calendar_enabled(owned(connection_id), calendar_id, body["enabled"])
    if calendar is None:
        raise not_found("calendar")
    return calendar_out(calendar)
