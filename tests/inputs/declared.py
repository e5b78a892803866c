"""What every declaration test asks: does the REST route parse with this very
object, and does an MCP tool advertise (and check) the same limits?"""

from __future__ import annotations

import asyncio
from functools import cache
from typing import Any

import calmesh.api  # noqa: F401 - its modules declare the routes
from calmesh.api.framework import ROUTES
from calmesh.schema import Field, Object


def route(method: str, path: str):
    """The declared REST route (``path`` as the OpenAPI document writes it)."""
    found = [r for r in ROUTES if r.method == method and r.path == "/api/v1" + path]
    assert found, f"{method} {path} is not declared"
    return found[0]


@cache
def tool_schemas() -> dict[str, dict[str, Any]]:
    """Every MCP tool's input schema, from a server built in this process."""
    from calmesh.mcp.client import Settings
    from calmesh.mcp.server import build_server

    server = build_server(Settings("http://localhost:1", "cm_live_test"))
    tools = asyncio.run(server.list_tools())
    return {t.name: t.input_schema for t in tools}


def advertised(tool: str, param: str) -> dict[str, Any]:
    """A tool parameter's schema, as :func:`declared` writes a declaration's."""
    prop = dict(tool_schemas()[tool]["properties"][param])
    if "anyOf" in prop:  # a parameter that may be left out: null or the declaration
        (inner,) = [p for p in prop.pop("anyOf") if p != {"type": "null"}]
        prop.update(inner)
    return _bare(prop)


def declared(field: Field) -> dict[str, Any]:
    return _bare(field.json_schema())


def _bare(schema: dict[str, Any]) -> dict[str, Any]:
    """Without what a tool states itself (description, title, default) and without
    null (a tool says apart whether None is allowed)."""
    schema = {k: v for k, v in schema.items() if k not in {"description", "title", "default"}}
    if isinstance(schema.get("type"), list):
        schema["type"] = next(t for t in schema["type"] if t != "null")
    if "enum" in schema:
        schema["enum"] = [v for v in schema["enum"] if v is not None]
    return schema


def assert_body(method: str, path: str, body: Object) -> None:
    assert route(method, path).body is body


def assert_query_fields(method: str, path: str, fields: dict[str, Field]) -> None:
    query = route(method, path).query
    assert query is not None
    for key, field in fields.items():
        assert query.fields[key] is field, key
