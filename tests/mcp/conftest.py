"""Fixtures of the tool modules' tests: the test's app served on loopback, and the
MCP server called through the SDK's own client in this process.

The tools call the REST API over HTTP (they hold no data of their own), so the
app of the ``app`` fixture (a fresh database, SQLite or PostgreSQL) is served by a
threaded WSGI server; ``tools(user, scope)`` is an MCP client of a server built
with a fresh key of that scope. The end-to-end suites (test_tools.py over stdio
and streamable HTTP, test_agent_stories.py) run ``python -m calmesh mcp`` instead.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import mcp
import pytest
from mcp_types import CallToolResult
from werkzeug.serving import WSGIRequestHandler, make_server

from calmesh.mcp.client import Settings
from calmesh.mcp.server import build_server
from tests.conftest import key_for


class _Quiet(WSGIRequestHandler):
    def log_request(self, *args: Any, **kw: Any) -> None:
        pass


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def instance_url(app) -> Iterator[str]:
    """The test's app, answering on a loopback port."""
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_Quiet)
    server.block_on_close = False
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
    )
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


class Tools:
    """An MCP client session; ``call`` gives the result, ``ok`` insists on success."""

    def __init__(self, client: mcp.Client):
        self.client = client

    async def call(self, tool: str, **arguments: Any) -> CallToolResult:
        return await self.client.call_tool(tool, arguments)

    async def ok(self, tool: str, **arguments: Any) -> dict[str, Any]:
        answer = await self.call(tool, **arguments)
        assert not answer.is_error, text(answer)
        assert answer.structured_content is not None
        return answer.structured_content

    async def refused(self, tool: str, **arguments: Any) -> str:
        """The text of a tool error (and that it is one)."""
        answer = await self.call(tool, **arguments)
        assert answer.is_error, text(answer)
        return text(answer)


def text(answer: CallToolResult) -> str:
    return "\n".join(block.text for block in answer.content if block.type == "text")


@pytest.fixture
def tools(instance_url) -> Callable[..., AbstractAsyncContextManager[Tools]]:
    """``async with tools(alice, "book") as t:``: the tools, as an agent with that key."""

    @asynccontextmanager
    async def session(user, scope: str = "full") -> AsyncIterator[Tools]:
        server = build_server(Settings(instance_url, key_for(user, scope), timeout=30))
        async with mcp.Client(server) as client:
            yield Tools(client)

    return session
