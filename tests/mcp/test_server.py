"""calmesh.mcp.server: the server every transport runs (``build_server``: the tools of
every resource module, the instructions), and the HTTP transport's shared secret
(``SharedSecret``, ``serve_http``) against a real ``calmesh mcp --transport http``."""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
from collections.abc import Iterator

import httpx
import mcp
import pytest

from calmesh import __version__
from calmesh.mcp.client import Settings
from calmesh.mcp.server import INSTRUCTIONS, MODULES, UNAUTHORIZED, SharedSecret, build_server
from tests.conftest import ROOT, free_port, wait_until
from tests.mcp.conftest import plain_env

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


# --- the server -----------------------------------------------------------------------


@pytest.mark.anyio
async def test_the_server_introduces_itself_and_offers_every_modules_tools():
    server = build_server(Settings("https://cal.example.org", "cm_live_test"))
    async with mcp.Client(server) as client:
        info = client.server_info
        instructions = client.instructions
        tools = (await client.list_tools()).tools

    assert (info.name, info.title, info.version) == ("calmesh", "CalMesh", __version__)
    assert info.website_url == "https://cal.example.org"
    assert instructions == INSTRUCTIONS
    assert len(tools) == 33 and len({t.name for t in tools}) == 33
    assert all(t.name.startswith("calmesh_") for t in tools)
    assert [m.__name__.rsplit(".", 1)[1] for m in MODULES] == [
        "calendars",
        "booking_pages",
        "bookings",
        "polls",
        "connections",
    ]


class Recorder:
    """An ASGI app that records the scopes it is given and answers 204."""

    def __init__(self) -> None:
        self.scopes: list[dict] = []

    async def __call__(self, scope, receive, send) -> None:
        self.scopes.append(scope)
        if scope["type"] == "http":
            await send({"type": "http.response.start", "status": 204, "headers": []})
            await send({"type": "http.response.body", "body": b""})


async def through(guard: SharedSecret, scope: dict) -> list[dict]:
    sent: list[dict] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": b""}

    async def send(message: dict) -> None:
        sent.append(message)

    await guard(scope, receive, send)
    return sent


@pytest.mark.anyio
async def test_the_secret_guard_lets_through_only_the_exact_bearer_token():
    app = Recorder()
    guard = SharedSecret(app, "s" * 24)

    def request(*headers: tuple[bytes, bytes]) -> dict:
        return {"type": "http", "headers": list(headers)}

    allowed = await through(guard, request((b"authorization", b"Bearer " + b"s" * 24)))
    for refused in (
        request(),
        request((b"authorization", b"Bearer " + b"s" * 23)),
        request((b"authorization", b"bearer " + b"s" * 24)),
        request((b"authorization", b"s" * 24)),
    ):
        start, body = await through(guard, refused)
        assert start["status"] == 401
        assert (b"www-authenticate", b'Bearer realm="calmesh-mcp"') in start["headers"]
        assert json.loads(body["body"])["error"] == {"code": -32001, "message": UNAUTHORIZED}
    lifespan = await through(guard, {"type": "lifespan"})

    assert allowed[0]["status"] == 204 and lifespan == []
    assert [s["type"] for s in app.scopes] == ["http", "lifespan"]  # only these reached it


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
