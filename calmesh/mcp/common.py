"""What every tool module shares: parameter types, registration, and results.

A tool answers with a short summary a person or a model can read, the API's
JSON as text (for clients that ignore structured content), and the same JSON
as ``structured_content``. A failure answers ``is_error=True`` with the
reason, and the API's error object as structured content.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Awaitable, Callable
from datetime import datetime
from functools import wraps
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from mcp.server.mcpserver import MCPServer
from mcp_types import CallToolResult, TextContent, ToolAnnotations
from pydantic import AfterValidator, AwareDatetime, Field

from calmesh.mcp.client import ApiFailure
from calmesh.schema import check_timezone

# --- parameter types ---------------------------------------------------------------

OFFSET_HELP = "ISO 8601 with a UTC offset or Z, e.g. 2026-03-16T09:00:00+01:00; naive times fail"
Instant = AwareDatetime
Zone = Annotated[str, AfterValidator(check_timezone)]
CalendarSlug = Annotated[
    str,
    Field(
        min_length=1,
        max_length=60,
        description="The unified calendar's slug, as calmesh_list_calendars shows it",
    ),
]
PageSlug = Annotated[
    str,
    Field(
        min_length=1,
        max_length=60,
        description="The booking page's slug, as calmesh_list_booking_pages shows it",
    ),
]
BookingId = Annotated[
    str,
    Field(
        min_length=1,
        max_length=100,
        description="The booking's id (its uid), as calmesh_list_bookings shows it",
    ),
]
PollId = Annotated[
    str,
    Field(min_length=1, max_length=40, description="The poll's id, as calmesh_list_polls shows it"),
]
ConnectionId = Annotated[
    int, Field(ge=1, description="The connection's id, as calmesh_list_connections shows it")
]
Limit = Annotated[int, Field(ge=1, le=200, description="Page size, 1-200")]
Cursor = Annotated[
    str | None,
    Field(max_length=500, description="next_cursor of the previous page; leave out for the first"),
]

# --- annotations ---------------------------------------------------------------------

SCOPE_HELP = {
    "read": "Needs an API key with the 'read' scope or wider (any key).",
    "book": "Needs an API key with the 'book' scope or wider ('book' or 'full').",
    "full": "Needs an API key with the 'full' scope.",
}


def annotations(
    title: str, scope: str, *, destructive: bool, idempotent: bool, open_world: bool
) -> ToolAnnotations:
    read_only = scope == "read"
    return ToolAnnotations(
        title=title,
        read_only_hint=read_only,
        destructive_hint=destructive,
        idempotent_hint=read_only or idempotent,
        open_world_hint=open_world,
    )


def describe(fn: Callable, scope: str) -> str:
    """The docstring's paragraphs unwrapped (clients reflow them), then the scope."""
    paragraphs = inspect.cleandoc(fn.__doc__ or "").split("\n\n")
    return "\n\n".join([*(" ".join(p.split()) for p in paragraphs), SCOPE_HELP[scope]])


ToolFunction = Callable[..., Awaitable[CallToolResult]]
Registrar = Callable[..., Callable[[ToolFunction], ToolFunction]]


def tool_registrar(server: MCPServer) -> Registrar:
    """``@tool(name, title, scope, ...)``: register an async tool on ``server``.

    The docstring is the description (the scope it needs is appended); an
    :class:`ApiFailure` raised inside becomes an error result.
    """

    def tool(
        name: str,
        title: str,
        scope: str,
        *,
        destructive: bool = False,
        idempotent: bool = False,
        open_world: bool = False,
    ) -> Callable[[ToolFunction], ToolFunction]:
        def register(fn: ToolFunction) -> ToolFunction:
            @wraps(fn)
            async def run(**kwargs: Any) -> CallToolResult:
                try:
                    return await fn(**kwargs)
                except ApiFailure as failure:
                    return error(failure)

            server.add_tool(
                run,
                name=name,
                title=title,
                description=describe(fn, scope),
                annotations=annotations(
                    title,
                    scope,
                    destructive=destructive,
                    idempotent=idempotent,
                    open_world=open_world,
                ),
            )
            return run

        return register

    return tool


# --- results -------------------------------------------------------------------------


def result(summary: str, data: dict[str, Any]) -> CallToolResult:
    return CallToolResult(
        content=[
            TextContent(type="text", text=summary),
            TextContent(type="text", text=json.dumps(data, ensure_ascii=False)),
        ],
        structured_content=data,
    )


def error(failure: ApiFailure) -> CallToolResult:
    return CallToolResult(
        content=[TextContent(type="text", text=failure.text())],
        structured_content=failure.as_dict(),
        is_error=True,
    )


def bad_arguments(message: str) -> ApiFailure:
    """Arguments that pass their types but not together (checked before calling the API)."""
    return ApiFailure(message, code="invalid_arguments")


def more(page: dict[str, Any]) -> str:
    """The pagination line of a list's summary."""
    if page.get("has_more"):
        return f"\nMore results: call again with cursor={page['next_cursor']!r}."
    return ""


def local(value: str | None, zone: str | None = None) -> str:
    """``2026-03-16T08:00:00Z`` as ``2026-03-16 09:00 (Europe/Berlin)``, for summaries."""
    if not value:
        return "-"
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    if zone:
        moment = moment.astimezone(ZoneInfo(zone))
        return f"{moment:%Y-%m-%d %H:%M} ({zone})"
    return moment.isoformat(timespec="minutes")
