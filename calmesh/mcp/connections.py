"""Tools on calendar connections: list, status, connect (OAuth or credentials), remove.

The connect tools offer the integrations of :mod:`calmesh.providers.registry`:
the consent ones to calmesh_start_oauth_connection, the others to
calmesh_start_credential_connection, each described by its ``mcp_help`` and
checked for the fields its body requires.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from mcp_types import CallToolResult
from pydantic import Field

from calmesh.mcp.client import Api
from calmesh.mcp.client import segment as seg
from calmesh.mcp.common import (
    ConnectionId,
    Cursor,
    Limit,
    bad_arguments,
    more,
    result,
    tool,
)
from calmesh.providers import registry

CONSENT_KINDS = registry.kinds(consent=True)
CREDENTIAL_KINDS = registry.kinds(consent=False)
# The fields each credential integration requires besides its name.
REQUIRED = {
    kind: [
        k
        for k in registry.INTEGRATIONS[kind].body.fields
        if k in registry.INTEGRATIONS[kind].body.required_keys and k != "name"
    ]
    for kind in CREDENTIAL_KINDS
}


def _help(kinds: list[str]) -> str:
    return "; ".join(f"{kind}: {registry.INTEGRATIONS[kind].mcp_help}" for kind in kinds)


def _names(kinds: list[str]) -> str:
    labels = [registry.INTEGRATIONS[kind].label for kind in kinds]
    return ", ".join(labels[:-1]) + " or " + labels[-1] if len(labels) > 1 else labels[0]


Name = Annotated[
    str, Field(min_length=1, max_length=200, description="Display name, e.g. 'Work calendar'")
]


def connection_line(connection: dict[str, Any]) -> str:
    calendars = ", ".join(
        f"{c['name'] or c['remote_id']} (id {c['id']}"
        + ("" if c["writable"] else ", read-only")
        + ("" if c["enabled"] else ", disabled")
        + ")"
        for c in connection.get("calendars", [])
    )
    synced = connection["last_sync_at"] or "never"
    error = f"; last error: {connection['last_error']}" if connection.get("last_error") else ""
    return (
        f"- {connection['id']}: {connection['name']!r} ({connection['provider']}), "
        f"status {connection['status']}, last sync {synced}{error}; "
        f"calendars: {calendars or 'none found yet'}"
    )


@tool(
    "calmesh_list_connections",
    "List calendar connections",
    "full",
    calls=["GET /connections"],
    read_only=True,
)
async def list_connections(api: Api, limit: Limit = 50, cursor: Cursor = None) -> CallToolResult:
    """List the owner's calendar connections (CalDAV, iCloud, iCal URL, Google,
    Microsoft 365). Each has its `id`, `provider`, `name`, sync `status` (pending,
    syncing, ok, error, auth_required), `last_sync_at`, `last_error`, and its
    `calendars` (each with an id usable as remote_calendar_id in
    calmesh_manage_calendar). The result has `data`, `has_more` and `next_cursor`."""
    page = await api.get("/connections", limit=limit, cursor=cursor)
    lines = [connection_line(c) for c in page["data"]]
    summary = f"{len(lines)} connection(s):\n" + "\n".join(lines) if lines else ""
    return result((summary or "No calendar connections yet.") + more(page), page)


@tool(
    "calmesh_check_connection_status",
    "Check a connection's sync status",
    "full",
    calls=["GET /connections/:id"],
    read_only=True,
)
async def check_connection_status(api: Api, connection_id: ConnectionId) -> CallToolResult:
    """Check one connection's sync state: `status` (pending: not synced yet; syncing;
    ok; error: the provider failed, retried with back-off; auth_required: new
    credentials or consent needed), `last_sync_at`, `next_sync_at`, `last_error` in
    words, and its `calendars`. Use it after connecting, or when events seem missing."""
    data = await api.get(f"/connections/{seg(connection_id)}")
    return result("Connection:\n" + connection_line(data), data)


@tool(
    "calmesh_start_oauth_connection",
    f"Connect {_names(CONSENT_KINDS)}",
    "full",
    calls=[f"POST /connections/{kind}" for kind in CONSENT_KINDS],
    open_world=True,
)
async def start_oauth_connection(
    api: Api,
    provider: Annotated[
        Literal[tuple(CONSENT_KINDS)],
        Field(description=_help(CONSENT_KINDS)),
    ],
    name: Name,
) -> CallToolResult:
    """Start connecting a calendar account that is connected by consent (the
    kinds are listed under `provider`). This cannot finish by itself: the owner
    must open the returned `authorization_url` in a browser and give consent. Show
    the URL to the user.

    The result has `authorization_url` and the new `connection` (status `pending` until
    consent is given; then check it with calmesh_check_connection_status)."""
    data = await api.post(f"/connections/{provider}", {"name": name})
    summary = (
        f"Open this URL in a browser to give consent:\n{data['authorization_url']}\n"
        f"Connection {data['connection']['id']} ({name!r}) waits for it."
    )
    return result(summary, data)


@tool(
    "calmesh_start_credential_connection",
    f"Connect {_names(CREDENTIAL_KINDS)}",
    "full",
    calls=[f"POST /connections/{kind}" for kind in CREDENTIAL_KINDS],
    open_world=True,
)
async def start_credential_connection(
    api: Api,
    provider: Annotated[
        Literal[tuple(CREDENTIAL_KINDS)],
        Field(description=_help(CREDENTIAL_KINDS)),
    ],
    name: Name,
    url: Annotated[
        str | None,
        Field(
            max_length=2000,
            description="The server, principal or feed URL, for the kinds that take "
            "one (see provider)",
        ),
    ] = None,
    username: Annotated[
        str | None,
        Field(max_length=300, description="For the kinds that take one (see provider)"),
    ] = None,
    password: Annotated[
        str | None,
        Field(
            max_length=1000,
            description="For the kinds that take one (see provider); iCloud wants an "
            "app-specific password, not the Apple ID's",
        ),
    ] = None,
) -> CallToolResult:
    """Connect a calendar account by URL and/or credentials (the kinds, and what each
    needs, are listed under `provider`). The instance checks the credentials and lists the
    calendars before saving anything; a wrong password or a dead URL is refused with
    the reason. Events arrive with the first sync, within seconds to minutes.

    The result is the new connection with its `id` and the `calendars` it found; add it
    to a unified calendar with calmesh_create_calendar or calmesh_manage_calendar."""
    given = {"url": url, "username": username, "password": password}
    missing = [k for k in REQUIRED[provider] if not given.get(k)]
    if missing:
        raise bad_arguments(
            [{"field": k, "message": f"is required for {provider}"} for k in missing]
        )
    body = {"name": name, **{k: v for k, v in given.items() if v}}
    data = await api.post(f"/connections/{provider}", body)
    return result("Connected:\n" + connection_line(data), data)


@tool(
    "calmesh_remove_connection",
    "Remove a connection",
    "full",
    calls=["DELETE /connections/:id"],
    destructive=True,
    idempotent=True,
)
async def remove_connection(api: Api, connection_id: ConnectionId) -> CallToolResult:
    """Remove a calendar connection and every event cached from it; it disappears from
    every unified calendar. Nothing is deleted at the provider itself. Cannot be
    undone (reconnect instead)."""
    data = await api.delete(f"/connections/{seg(connection_id)}")
    return result(f"Removed connection {connection_id}.", data)


@tool(
    "calmesh_sync_connection",
    "Sync a connection now",
    "full",
    calls=["POST /connections/:id/sync"],
    idempotent=True,
    open_world=True,
)
async def sync_connection(api: Api, connection_id: ConnectionId) -> CallToolResult:
    """Ask for a sync of one connection now instead of at its next interval: the
    scheduler picks it up within seconds. Refused for a connection that needs new
    credentials or consent first. Check the outcome with
    calmesh_check_connection_status (`last_sync_at`, `status`)."""
    data = await api.post(f"/connections/{seg(connection_id)}/sync")
    return result("Sync requested:\n" + connection_line(data), data)


TOOLS = (
    list_connections,
    check_connection_status,
    start_oauth_connection,
    start_credential_connection,
    remove_connection,
    sync_connection,
)
