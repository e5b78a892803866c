"""The MCP server: 23 tools over stdio or streamable HTTP, each a call to the REST API.

``build_server`` registers the tools of every resource module on one
:class:`MCPServer`; ``serve_stdio`` and ``serve_http`` run it. Over HTTP every request must
carry ``CALMESH_HTTP_SECRET`` as a bearer token.
"""

from __future__ import annotations

import hmac
import sys

from mcp.server.auth.provider import AccessToken
from mcp.server.auth.settings import AuthSettings
from mcp.server.mcpserver import MCPServer

from calmesh import __version__
from calmesh.mcp import bookings, calendars, connections, polls
from calmesh.mcp.client import Api, Settings
from calmesh.mcp.common import tool_registrar

MODULES = (calendars, bookings, polls, connections)

INSTRUCTIONS = """\
CalMesh is a self-hosted scheduling app: unified calendars (several calendar accounts
merged into one view), booking pages with bookable slots, bookings, and group polls.

Times: every date-time argument is ISO 8601 WITH a UTC offset or Z, for example
2026-03-16T09:00:00+01:00 or 2026-03-16T08:00:00Z; times without an offset are refused.
Answers give `start`/`end` in UTC and `start_local`/`end_local` in the zone asked for.
Zones are IANA names such as Europe/Berlin or America/New_York, never abbreviations
like CET or EST. Dates are YYYY-MM-DD.

Typical flows: calmesh_list_calendars, then calmesh_check_availability or
calmesh_get_events; calmesh_list_booking_pages, calmesh_get_slots, then
calmesh_create_booking with a slot's start; calmesh_list_bookings, then cancel,
reschedule or confirm by booking id; calmesh_create_poll, later
calmesh_get_poll_overlap and calmesh_decide_poll. Lists are paged: pass next_cursor back
as cursor.

The API key this server uses has a scope: read (look only), book (plus bookings and
polls) or full (plus connections and calendars). A tool beyond it answers with an error
saying which scope it needs."""


def build_server(settings: Settings, auth: dict | None = None) -> MCPServer:
    """The server with every tool registered; ``auth`` holds MCPServer's HTTP auth options."""
    server = MCPServer(
        "calmesh",
        title="CalMesh",
        instructions=INSTRUCTIONS,
        version=__version__,
        website_url=settings.url,
        log_level="WARNING",
        **(auth or {}),
    )
    api = Api(settings)
    tool = tool_registrar(server)
    for module in MODULES:
        module.register(tool, api)
    return server


class SharedSecret:
    """The MCP SDK's token verifier for one shared secret, compared in constant time."""

    def __init__(self, secret: str):
        self._secret = secret.encode()

    async def verify_token(self, token: str) -> AccessToken | None:
        if hmac.compare_digest(token.encode(), self._secret):
            return AccessToken(token="shared-secret", client_id="calmesh-http", scopes=[])  # noqa: S106 - a label, not the secret
        return None


def serve_http(settings: Settings, host: str, port: int, secret: str) -> None:
    import uvicorn

    base = f"http://{f'[{host}]' if ':' in host else host}:{port}"
    auth = {
        "token_verifier": SharedSecret(secret),
        # The SDK's bearer-token plumbing wants OAuth metadata; there is no authorization
        # server, the secret is the whole story, so the server names itself.
        "auth": AuthSettings(
            issuer_url=base, resource_server_url=f"{base}/mcp", validate_token_resource=False
        ),
    }
    server = build_server(settings, auth)
    # Loopback hosts get the SDK's DNS-rebinding protection (other Host headers: 421).
    app = server.streamable_http_app(stateless_http=True, json_response=True, host=host)
    print(
        f"CalMesh MCP server for {settings.url} on {base}/mcp (streamable HTTP; "
        "requests need 'Authorization: Bearer $CALMESH_HTTP_SECRET')",
        file=sys.stderr,
        flush=True,
    )
    uvicorn.run(app, host=host, port=port, log_level="warning", server_header=False)


def serve_stdio(settings: Settings) -> None:
    build_server(settings).run("stdio")
