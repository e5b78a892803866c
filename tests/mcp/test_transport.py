"""The edges of the MCP server: the HTTP transport's shared secret, the command's
refusals, and an instance that is not there, too slow, or not CalMesh at all."""

from __future__ import annotations

import json
import os
import re
import secrets
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import mcp
import pytest

from calmesh.mcp.client import ConfigurationError, Settings, http_secret
from calmesh.mcp.server import build_server
from tests.conftest import ROOT, free_port, run_cli, wait_until

SECRET = secrets.token_urlsafe(24)
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "test", "version": "1"},
    },
}
MCP_HEADERS = {"Accept": "application/json, text/event-stream"}


def plain_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALMESH_")}
    return {**env, **extra}


# --- the HTTP transport's secret -------------------------------------------------------


@pytest.fixture(scope="module")
def http_mcp(tmp_path_factory) -> Iterator[str]:
    """The HTTP transport in front of an instance that is not running: the secret is
    checked before any tool runs, so none is needed."""
    port = free_port()
    log_path = tmp_path_factory.mktemp("mcp-http") / "server.log"
    env = plain_env(
        CALMESH_URL=f"http://127.0.0.1:{free_port()}",
        CALMESH_API_KEY="cm_live_unused",
        CALMESH_HTTP_SECRET=SECRET,
    )
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "calmesh", "mcp", "--transport", "http", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}/mcp"
    try:
        wait_until(
            lambda: process.poll() is None and httpx.post(url).status_code == 401,
            what="the MCP HTTP server",
        )
        yield url
    finally:
        process.terminate()
        process.wait(timeout=15)
    assert "CALMESH_HTTP_SECRET" in log_path.read_text()  # the start-up line names it


@pytest.mark.slow
@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer wrong-secret-of-some-length", f"Basic {SECRET}", f"Bearer {SECRET}x", "Bearer"],
    ids=["missing", "wrong", "not-bearer", "longer", "no-token"],
)
def test_http_transport_refuses_requests_without_the_secret(http_mcp, authorization):
    headers = {**MCP_HEADERS, **({"Authorization": authorization} if authorization else {})}

    answer = httpx.post(http_mcp, json=INITIALIZE, headers=headers)

    assert answer.status_code == 401
    # A plain bearer challenge: no OAuth metadata pointing at a server that is not there.
    assert answer.headers["WWW-Authenticate"] == 'Bearer realm="calmesh-mcp"'
    assert "wrong or missing CALMESH_HTTP_SECRET" in answer.json()["error"]["message"]


@pytest.mark.slow
def test_http_transport_advertises_no_oauth_discovery(http_mcp):
    base = http_mcp.removesuffix("/mcp")
    for path in (
        "/.well-known/oauth-protected-resource/mcp",
        "/.well-known/oauth-authorization-server",
    ):
        answer = httpx.get(base + path, headers={"Authorization": f"Bearer {SECRET}"})
        assert answer.status_code == 404, path
    refused = httpx.post(http_mcp, json=INITIALIZE, headers=MCP_HEADERS)
    assert "resource_metadata" not in refused.headers["WWW-Authenticate"]


@pytest.mark.slow
@pytest.mark.anyio
@pytest.mark.parametrize("secret", [None, "not-the-secret-at-all"], ids=["missing", "wrong"])
async def test_the_sdk_client_says_the_secret_is_wrong_or_missing(http_mcp, secret):
    import httpx2
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    headers = {"Authorization": f"Bearer {secret}"} if secret else {}
    client = httpx2.AsyncClient(headers=headers, timeout=30)
    with pytest.raises(Exception) as caught:
        async with (
            client,
            streamable_http_client(http_mcp, http_client=client) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
    (error,) = leaves(caught.value)  # the SDK's task groups wrap it
    assert type(error).__name__ == "MCPError"
    assert "wrong or missing CALMESH_HTTP_SECRET" in str(error)


def leaves(error: BaseException) -> list[BaseException]:
    if isinstance(error, BaseExceptionGroup):
        return [leaf for inner in error.exceptions for leaf in leaves(inner)]
    return [error]


@pytest.mark.slow
def test_http_transport_serves_requests_with_the_secret(http_mcp):
    headers = {**MCP_HEADERS, "Authorization": f"Bearer {SECRET}"}

    answer = httpx.post(http_mcp, json=INITIALIZE, headers=headers)

    assert answer.status_code == 200, answer.text
    assert answer.json()["result"]["serverInfo"]["name"] == "calmesh"


@pytest.mark.slow
def test_http_transport_on_loopback_refuses_other_host_names(http_mcp):
    headers = {**MCP_HEADERS, "Authorization": f"Bearer {SECRET}", "Host": "evil.example"}

    answer = httpx.post(http_mcp, json=INITIALIZE, headers=headers)

    assert answer.status_code == 421


# --- the command's refusals -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "env", "says"),
    [
        ((), {}, "error: CALMESH_API_KEY is not set"),
        (
            ("--transport", "http"),
            {"CALMESH_API_KEY": "cm_live_x"},
            "CALMESH_HTTP_SECRET is not set",
        ),
        (("--port", "0"), {"CALMESH_API_KEY": "cm_live_x"}, "expected 1-65535"),
    ],
    ids=["no-key", "no-secret", "port"],
)
def test_mcp_command_refuses_to_start_without_what_it_needs(args, env, says):
    result = run_cli("mcp", *args, env=plain_env(**env))

    assert result.returncode == 2
    assert says in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""  # stdout is the stdio transport's: never a stray line


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({"CALMESH_API_KEY": "sk_live_other"}, "CALMESH_API_KEY must start with cm_live_"),
        (
            {"CALMESH_API_KEY": "cm_live_x", "CALMESH_URL": "ftp://calmesh"},
            "CALMESH_URL must be the instance's http(s) address",
        ),
        ({"CALMESH_API_KEY": "cm_live_x", "CALMESH_TIMEOUT": "soon"}, "CALMESH_TIMEOUT must be"),
        ({"CALMESH_API_KEY": "cm_live_x", "CALMESH_TIMEOUT": "0"}, "CALMESH_TIMEOUT must be"),
        ({"CALMESH_HTTP_SECRET": "short"}, "CALMESH_HTTP_SECRET must be at least 16 characters"),
    ],
    ids=["not-a-key", "bad-url", "bad-timeout", "zero-timeout", "short-secret"],
)
def test_settings_refuse_what_cannot_work(env, says):
    with pytest.raises(ConfigurationError, match=re.escape(says)):
        if "CALMESH_HTTP_SECRET" in env:
            http_secret(env)
        else:
            Settings.from_env(env)


def test_settings_read_the_environment():
    settings = Settings.from_env(
        {
            "CALMESH_URL": "https://cal.example.org/ ",
            "CALMESH_API_KEY": " cm_live_abc ",
            "CALMESH_TIMEOUT": "12.5",
        }
    )

    assert settings == Settings("https://cal.example.org", "cm_live_abc", 12.5)
    assert "cm_live_abc" not in repr(settings)
    assert Settings.from_env({"CALMESH_API_KEY": "cm_live_abc"}).url == "http://127.0.0.1:8000"


# --- an instance that is not there, too slow, or not CalMesh ----------------------------------


async def call(url: str, tool: str, timeout: float = 5.0, **arguments):
    server = build_server(Settings(url, "cm_live_test", timeout))
    async with mcp.Client(server) as client:
        return await client.call_tool(tool, arguments)


def text(answer) -> str:
    return "\n".join(block.text for block in answer.content)


@pytest.mark.anyio
async def test_an_unreachable_instance_is_a_tool_error():
    url = f"http://127.0.0.1:{free_port()}"

    answer = await call(url, "calmesh_list_calendars")

    assert answer.is_error
    assert text(answer).startswith(f"Cannot reach CalMesh at {url} (GET /api/v1/calendars)")
    assert "is CALMESH_URL its address?" in text(answer)
    assert answer.structured_content["error"]["code"] == "unreachable"


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield listener.getsockname()[1]


@pytest.mark.anyio
async def test_a_silent_instance_times_out_as_a_tool_error(silent_port):
    url = f"http://127.0.0.1:{silent_port}"

    slow_read = await call(url, "calmesh_get_booking", timeout=0.5, booking_id="abc")
    slow_write = await call(url, "calmesh_cancel_booking", timeout=0.5, booking_id="abc")

    assert slow_read.is_error and slow_write.is_error
    assert "did not answer GET /api/v1/bookings/abc within 0.5 s" in text(slow_read)
    assert "Try again in a moment" in text(slow_read)
    assert "The change may have happened anyway" in text(slow_write)
    assert slow_read.structured_content["error"]["code"] == "timeout"


class NotCalMesh(BaseHTTPRequestHandler):
    """A web server that is something else, and one CalMesh-style rate limit."""

    def do_GET(self) -> None:
        if self.path.startswith("/api/v1/bookings"):
            body = {"error": {"code": "rate_limited", "message": "slow down", "details": None}}
            self.reply(429, json.dumps(body), "application/json", {"Retry-After": "7"})
        elif self.path.startswith("/api/v1/connections"):
            self.reply(502, "<html><h1>Bad Gateway</h1></html>", "text/html")
        else:
            self.reply(200, "<html>Welcome to nginx!</html>", "text/html")

    def reply(self, status: int, body: str, kind: str, headers: dict | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, format: str, *args) -> None:
        pass


@pytest.fixture
def not_calmesh() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), NotCalMesh)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.mark.anyio
async def test_answers_that_are_not_calmesh_json_are_tool_errors(not_calmesh):
    html = await call(not_calmesh, "calmesh_list_calendars")
    gateway = await call(not_calmesh, "calmesh_list_connections")
    limited = await call(not_calmesh, "calmesh_list_bookings")

    assert html.is_error and gateway.is_error and limited.is_error
    assert "HTTP 200 but not a JSON object" in text(html)
    assert "really a CalMesh instance?" in text(html)
    assert text(gateway).startswith("CalMesh refused (HTTP 502 http_error): Bad Gateway")
    assert "Bad Gateway" in text(gateway)
    assert "CalMesh refused (HTTP 429 rate_limited): slow down" in text(limited)
    assert "retry after 7 s" in text(limited)
