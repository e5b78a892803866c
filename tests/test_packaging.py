"""The installed package as a self-hoster and an MCP client use it.

``scripts/install.sh`` installs the project into ``.venv``; these tests run the
``calmesh`` command it puts beside the venv's Python, from an empty folder
elsewhere, with only the environment the README documents. The README's client
snippets are read from the README itself, so they stay true as written.
"""

from __future__ import annotations

import json
import re
import secrets
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path

import httpx
import httpx2
import pytest
from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client

from tests.conftest import (
    ROOT,
    LiveServer,
    free_port,
    require,
    start_server,
    stop_server,
    wait_until,
)
from tests.mcp.test_tools import TOOLS

pytestmark = [pytest.mark.slow, pytest.mark.anyio]

VENV_BIN = Path(sys.executable).parent
CALMESH = VENV_BIN / "calmesh"
PLACEHOLDER = "/path/to/calmesh/.venv/bin"  # the README's stand-in for the checkout's venv
ALL_TOOLS = set().union(*TOOLS.values())


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


def installed() -> Path:
    require(
        CALMESH.exists(),
        f"the project is not installed into {VENV_BIN.parent} (bash scripts/install.sh dev)",
    )
    return CALMESH


def readme_client_configs() -> dict[str, dict]:
    """The ``mcpServers.calmesh`` entry of each client's snippet in the README."""
    text = (ROOT / "README.md").read_text()
    configs = {}
    for client in ("Claude Desktop", "Cursor", "Windsurf"):
        found = re.search(rf"\*\*{client}\*\*.*?```json\n(.*?)```", text, re.S)
        assert found, f"README has no JSON snippet for {client}"
        configs[client] = json.loads(found.group(1))["mcpServers"]["calmesh"]
    return configs


def test_package_data_ships_inside_the_package():
    package = resources.files("calmesh")
    assert (package / "templates" / "base.html").is_file()
    assert (package / "static" / "htmx.min.js").is_file()
    assert (package / "migrations" / "__init__.py").is_file()


@pytest.fixture(scope="module")
def instance(tmp_path_factory) -> Iterator[tuple[LiveServer, str]]:
    """A live serve with alice and a read key for the MCP clients."""
    server = start_server(tmp_path_factory.mktemp("packaging"), workers=1)
    try:
        made = server.cli(
            "create-user",
            "--email=alice@example.org",
            "--handle=alice",
            "--password=alice-password-123",
        )
        assert made.returncode == 0, made.stderr
        made = server.cli("create-api-key", "--user=alice", "--scope=read")
        assert made.returncode == 0, made.stderr
        yield server, made.stdout.strip().splitlines()[-1]
    finally:
        stop_server(server)


@asynccontextmanager
async def client_session(params: StdioServerParameters, errlog: Path) -> AsyncIterator:
    with open(errlog, "a") as err:
        async with (
            stdio_client(params, errlog=err) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            yield session


@pytest.mark.parametrize("client", ["Claude Desktop", "Cursor", "Windsurf"])
async def test_readme_snippet_starts_the_stdio_server_from_any_folder(client, instance, tmp_path):
    installed()
    server, key = instance
    config = readme_client_configs()[client]
    assert config["command"].startswith(PLACEHOLDER + "/"), config["command"]
    env = dict(config["env"], CALMESH_URL=server.url, CALMESH_API_KEY=key)
    assert set(env) == {"CALMESH_URL", "CALMESH_API_KEY"}  # all the snippet sets
    # The way a client starts it: the absolute command, its own folder, the
    # snippet's env on top of the SDK's minimal default environment.
    params = StdioServerParameters(
        command=config["command"].replace(PLACEHOLDER, str(VENV_BIN)),
        args=config["args"],
        env=env,
        cwd=tmp_path,
    )
    async with client_session(params, tmp_path / "mcp.log") as session:
        tools = {tool.name for tool in (await session.list_tools()).tools}
        assert tools >= ALL_TOOLS
        answer = await session.call_tool("calmesh_list_calendars", {})
        assert not answer.is_error, answer.content


async def test_http_transport_runs_as_documented_from_any_folder(instance, tmp_path):
    command = installed()
    server, key = instance
    secret = secrets.token_urlsafe(32)
    port = free_port()
    env = {
        "PATH": "/usr/bin:/bin",
        "CALMESH_URL": server.url,
        "CALMESH_API_KEY": key,
        "CALMESH_HTTP_SECRET": secret,
    }
    with open(tmp_path / "mcp-http.log", "w") as log:
        process = subprocess.Popen(
            [str(command), "mcp", "--transport", "http", "--port", str(port)],
            cwd=tmp_path,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}/mcp"
    try:
        wait_until(lambda: httpx.post(url).status_code == 401, what="the MCP HTTP server")
        client = httpx2.AsyncClient(headers={"Authorization": f"Bearer {secret}"}, timeout=60)
        async with (
            client,
            streamable_http_client(url, http_client=client) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            tools = {tool.name for tool in (await session.list_tools()).tools}
        assert tools >= ALL_TOOLS
    finally:
        process.terminate()
        process.wait(timeout=15)


def test_console_script_works_from_another_folder(tmp_path):
    command = installed()
    done = subprocess.run(
        [str(command), "config-example"], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert (ROOT / "config.example.toml").read_text() == done.stdout
