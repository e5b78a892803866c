"""calmesh.mcp.client: the MCP server's REST client: its settings from the
environment, and every way a call can end (an answer, the API's refusal, a page
that is not CalMesh, a timeout, nothing listening) as JSON or an ApiFailure a
model can act on, also as a tool's error. Against real loopback servers: mocks
only at the network edge."""

from __future__ import annotations

import asyncio
import json
import re
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import mcp
import pytest

from calmesh.mcp import client
from calmesh.mcp.client import Api, ApiFailure, ConfigurationError, Settings, http_secret
from calmesh.mcp.server import build_server
from tests.conftest import free_port
from tests.mcp.conftest import text

KEY = "cm_live_" + "k" * 43


class Server:
    """Answers each request with ``status``, ``body`` and ``headers``; records requests.
    With ``hang``, holds every answer until the server stops."""

    def __init__(self) -> None:
        self.status, self.body, self.headers = 200, b"{}", {"Content-Type": "application/json"}
        self.hang = False
        self.seen: list[dict] = []
        self.stopping = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                server.seen.append(
                    {
                        "method": self.command,
                        "path": self.path,
                        "headers": dict(self.headers),
                        "body": json.loads(self.rfile.read(length)) if length else None,
                    }
                )
                if server.hang:
                    server.stopping.wait()
                    return
                self.send_response(server.status)
                for name, value in server.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(server.body)))
                self.end_headers()
                self.wfile.write(server.body)

            do_GET = do_POST = do_PATCH = do_DELETE = do_any

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def answer(self, status: int, data, headers: dict | None = None) -> None:
        self.status = status
        self.body = data if isinstance(data, bytes) else json.dumps(data).encode()
        self.headers = {"Content-Type": "application/json", **(headers or {})}

    def stop(self) -> None:
        self.stopping.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    running = Server()
    yield running
    running.stop()


def api_for(server: Server, timeout: float = 30.0) -> Api:
    return Api(Settings(server.url, KEY, timeout))


def call(coroutine):
    return asyncio.run(coroutine)


# --- settings --------------------------------------------------------------------------------


def test_settings_come_from_the_environment_with_defaults():
    settings = Settings.from_env({"CALMESH_API_KEY": f" {KEY} "})
    assert (settings.url, settings.api_key, settings.timeout) == (
        client.DEFAULT_URL,
        KEY,
        client.DEFAULT_TIMEOUT,
    )
    assert KEY not in repr(settings)
    given = Settings.from_env(
        {"CALMESH_URL": "https://cal.example.org/", "CALMESH_API_KEY": KEY, "CALMESH_TIMEOUT": "5"}
    )
    assert (given.url, given.timeout) == ("https://cal.example.org", 5.0)


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"CALMESH_API_KEY": ""}, "CALMESH_API_KEY is not set"),
        ({"CALMESH_API_KEY": "sk_live_abc"}, "must start with cm_live_"),
        ({"CALMESH_API_KEY": KEY, "CALMESH_URL": "ftp://x"}, "CALMESH_URL must be"),
        ({"CALMESH_API_KEY": KEY, "CALMESH_URL": "http://"}, "CALMESH_URL must be"),
        ({"CALMESH_API_KEY": KEY, "CALMESH_TIMEOUT": "soon"}, "CALMESH_TIMEOUT must be"),
        ({"CALMESH_API_KEY": KEY, "CALMESH_TIMEOUT": "0"}, "CALMESH_TIMEOUT must be"),
        ({"CALMESH_API_KEY": KEY, "CALMESH_TIMEOUT": "601"}, "CALMESH_TIMEOUT must be"),
    ],
)
def test_a_bad_environment_says_what_to_set(environ, message):
    with pytest.raises(ConfigurationError, match=message):
        Settings.from_env(environ)


def test_the_http_secret_must_be_set_and_long_enough():
    with pytest.raises(ConfigurationError, match="is not set"):
        client.http_secret({})
    with pytest.raises(ConfigurationError, match="at least 16"):
        client.http_secret({"CALMESH_HTTP_SECRET": "short"})
    assert client.http_secret({"CALMESH_HTTP_SECRET": " " + "s" * 20 + " "}) == "s" * 20


@pytest.mark.parametrize(
    ("value", "encoded"),
    [("intro", "intro"), ("..", "%2E%2E"), ("../keys", "%2E%2E%2Fkeys"), (7, "7")],
)
def test_a_path_segment_cannot_walk_the_apis_tree(value, encoded):
    assert client.segment(value) == encoded


# --- calls -----------------------------------------------------------------------------------


def test_a_call_sends_the_key_and_leaves_out_nones_but_the_nulls_asked_for(server):
    server.answer(200, {"ok": True})

    got = call(
        api_for(server).patch(
            "/booking-pages/intro", {"title": "Intro", "buffer": None, "note": None}, nulls=["note"]
        )
    )

    assert got == {"ok": True}
    (seen,) = server.seen
    assert (seen["method"], seen["path"]) == ("PATCH", "/api/v1/booking-pages/intro")
    assert seen["headers"]["Authorization"] == f"Bearer {KEY}"
    assert seen["body"] == {"title": "Intro", "note": None}


def test_query_parameters_without_a_value_are_left_out(server):
    call(api_for(server).get("/slots", start="2026-03-30", end=None))
    assert server.seen[0]["path"] == "/api/v1/slots?start=2026-03-30"


def test_no_content_is_an_empty_answer(server):
    server.answer(204, b"")
    assert call(api_for(server).delete("/webhooks/1")) == {}


@pytest.mark.parametrize(
    ("status", "code", "headers", "hint"),
    [
        (401, "unauthorized", {}, "Check CALMESH_API_KEY"),
        (403, "forbidden", {}, "a key with a wider scope"),
        (429, "rate_limited", {"Retry-After": "12"}, "retry after 12 s"),
        (422, "validation_error", {}, ""),
    ],
)
def test_the_apis_refusal_becomes_a_failure_with_a_hint(server, status, code, headers, hint):
    details = [{"field": "start", "message": "must be in the future"}]
    server.answer(status, {"error": {"code": code, "message": "no", "details": details}}, headers)

    with pytest.raises(ApiFailure) as caught:
        call(api_for(server).post("/bookings", {}))

    failure = caught.value
    assert (failure.status, failure.code) == (status, code)
    assert hint in failure.hint and bool(failure.hint) == bool(hint)
    assert f"CalMesh refused (HTTP {status} {code}): no" in failure.text()
    assert "  - start: must be in the future" in failure.text()
    assert failure.as_dict()["error"]["details"] == details


def test_an_answer_that_is_not_calmesh_says_so(server):
    server.answer(502, b"<html>Bad gateway</html>", {"Content-Type": "text/html"})
    with pytest.raises(ApiFailure, match="not a CalMesh JSON error") as caught:
        call(api_for(server).get("/me"))
    assert caught.value.code == "http_error"

    server.answer(200, b"[1, 2]")
    with pytest.raises(ApiFailure, match="not a JSON object") as caught:
        call(api_for(server).get("/me"))
    assert caught.value.code == "unexpected_answer"


def test_a_timeout_says_whether_the_change_may_have_happened(server):
    server.hang = True
    api = api_for(server, timeout=0.3)

    with pytest.raises(ApiFailure, match="Try again in a moment") as read:
        call(api.get("/me"))
    with pytest.raises(ApiFailure, match="may have happened anyway") as write:
        call(api.post("/bookings", {}))
    assert read.value.code == write.value.code == "timeout"
    assert read.value.status is None


def test_nothing_listening_is_unreachable():
    api = Api(Settings(f"http://127.0.0.1:{free_port()}", KEY, 5))
    with pytest.raises(ApiFailure, match="Is the instance running") as caught:
        call(api.get("/me"))
    assert caught.value.code == "unreachable"


def test_the_owner_is_asked_once_and_a_narrow_key_is_refused_locally(server):
    server.answer(200, {"handle": "alice", "timezone": "Europe/Berlin", "scope": "read"})
    api = api_for(server)

    assert call(api.zone()) == "Europe/Berlin"
    call(api.require_scope("read"))
    with pytest.raises(ApiFailure, match="needs the 'book' scope; the key has 'read'") as caught:
        call(api.require_scope("book"))
    assert caught.value.status == 403
    assert len(server.seen) == 1, "/me is asked once"


# --- the environment ---------------------------------------------------------------------


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


async def call_tool(url: str, tool: str, timeout: float = 5.0, **arguments):
    server = build_server(Settings(url, "cm_live_test", timeout))
    async with mcp.Client(server) as session:
        return await session.call_tool(tool, arguments)


@pytest.mark.anyio
async def test_an_unreachable_instance_is_a_tool_error():
    url = f"http://127.0.0.1:{free_port()}"

    answer = await call_tool(url, "calmesh_list_calendars")

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

    slow_read = await call_tool(url, "calmesh_get_booking", timeout=0.5, booking_id="abc")
    slow_write = await call_tool(url, "calmesh_cancel_booking", timeout=0.5, booking_id="abc")

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
    html = await call_tool(not_calmesh, "calmesh_list_calendars")
    gateway = await call_tool(not_calmesh, "calmesh_list_connections")
    limited = await call_tool(not_calmesh, "calmesh_list_bookings")

    assert html.is_error and gateway.is_error and limited.is_error
    assert "HTTP 200 but not a JSON object" in text(html)
    assert "really a CalMesh instance?" in text(html)
    assert text(gateway).startswith("CalMesh refused (HTTP 502 http_error): Bad Gateway")
    assert "Bad Gateway" in text(gateway)
    assert "CalMesh refused (HTTP 429 rate_limited): slow down" in text(limited)
    assert "retry after 7 s" in text(limited)
