"""Capability tokens never reach the logs, and logged URLs cannot forge lines.

The access log is read from a real ``serve`` (gunicorn with our logger class).
"""

from __future__ import annotations

import re
import socket
from datetime import timedelta

import httpx
import pytest
from gunicorn.config import Config as GunicornConfig

from calmesh.logs import escape, redact, safe
from calmesh.server import AccessLogger
from tests.conftest import start_server, stop_server, wait_until

FEED_TOKEN = "FeedTokenAbc123_-xyz"
MANAGE = "eyJNYW5hZ2VUb2tlbiI6MX0.ManageSig"
VOTE = "eyJWb3RlVG9rZW4iOjF9.VoteSig"
CODE, STATE = "4/0AOauthCodeSecret", "eyJzdGF0ZSI6MX0.StateSig"


@pytest.mark.parametrize(
    ("raw", "logged"),
    [
        (f"/feeds/{FEED_TOKEN}.ics", "/feeds/[redacted]"),
        (f"/feeds/{FEED_TOKEN}.ics?tz=UTC", "/feeds/[redacted]?tz=UTC"),
        (f"/b/Uid123?token={MANAGE}&tz=UTC", "/b/Uid123?token=[redacted]&tz=UTC"),
        (f"/p/Poll1?TOKEN={VOTE}#you", "/p/Poll1?TOKEN=[redacted]#you"),
        (
            f"/oauth/callback/google?state={STATE}&code={CODE}&scope=x",
            "/oauth/callback/google?state=[redacted]&code=[redacted]&scope=x",
        ),
        ("/setup?%74oken=abc", "/setup?%74oken=[redacted]"),
        (f"GET /setup?token={MANAGE} HTTP/1.1", "GET /setup?token=[redacted] HTTP/1.1"),
        ("/alice/intro?date=2026-12-03", "/alice/intro?date=2026-12-03"),
    ],
)
def test_redact_hides_every_capability_token(raw, logged):
    assert redact(raw) == logged


def test_escape_keeps_one_line_and_closed_quotes():
    assert escape('/x\n127.0.0.1 - - "GET /forged"') == "/x\\x0a127.0.0.1 - - \\x22GET /forged\\x22"
    assert escape("\x1b[31mred\t\x7f\u2028é") == "\\x1b[31mred\\x09\\x7f\\u2028é"
    assert safe("/b/x?token=a\r\nb") == "/b/x?token=[redacted]\\x0d\\x0ab"


def test_the_gunicorn_logger_class_redacts_and_escapes_every_request_field():
    cfg = GunicornConfig()
    cfg.set("accesslog", "-")
    logger = AccessLogger(cfg)

    class Response:
        status, sent, headers = "200 OK", 10, [("Content-Type", "text/calendar")]

    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": f"/feeds/{FEED_TOKEN}.ics",
        "PATH_INFO": f"/feeds/{FEED_TOKEN}.ics",
        "QUERY_STRING": f"token={MANAGE}",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "203.0.113.9",
        "HTTP_REFERER": f"https://cal.example.org/b/U?token={MANAGE}",
        "HTTP_USER_AGENT": "agent\n203.0.113.1 forged line",
        "HTTP_COOKIE": "session=secret-session-cookie",
    }
    headers = [("AUTHORIZATION", "Bearer cm_live_secret"), ("REFERER", environ["HTTP_REFERER"])]
    atoms = logger.atoms(Response(), headers, environ, timedelta(milliseconds=3))
    text = repr(atoms)
    for secret in (FEED_TOKEN, MANAGE, "cm_live_secret", "secret-session-cookie"):
        assert secret not in text
    assert atoms["r"] == "GET /feeds/[redacted] HTTP/1.1"
    assert atoms["f"] == "https://cal.example.org/b/U?token=[redacted]"
    assert atoms["{authorization}i"] == atoms["{http_cookie}e"] == "[redacted]"
    assert atoms["q"] == "token=[redacted]"
    assert atoms["a"] == "agent\\x0a203.0.113.1 forged line"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    live = start_server(tmp_path_factory.mktemp("logs"), workers=1)
    yield live
    stop_server(live)


def test_serve_writes_no_capability_token_to_its_access_log(server):
    setup_token = wait_until(
        lambda: re.search(r"/setup\?token=([0-9a-f]{32})", server.log()),
        what="the setup link in the log",
    ).group(1)
    visits = [
        f"/feeds/{FEED_TOKEN}.ics",
        f"/b/NoSuchBooking1?token={MANAGE}",
        f"/p/NoSuchPoll1?token={VOTE}",
        f"/oauth/callback/google?code={CODE}&state={STATE}",
        f"/setup?token={setup_token}",
        "/login?next=/%0d%0aforged",
    ]
    with httpx.Client(base_url=server.url) as client:
        for path in visits:
            client.get(path, headers={"Referer": f"{server.url}/b/X?token={MANAGE}"})
    # Raw bytes a hostile client sends: control characters in a header and in the
    # request line (gunicorn refuses both; neither may reach the log raw).
    for request in (
        b"GET /login HTTP/1.1\r\nHost: x\r\nUser-Agent: evil\x1b[2Jagent\r\n",
        b"GET /raw\xc2\x85line\xe2\x80\xa8sep HTTP/1.1\r\nHost: x\r\n",
    ):
        with socket.create_connection(server.url.removeprefix("http://").split(":")) as raw:
            raw.sendall(request + b"Connection: close\r\n\r\n")
            raw.recv(65536)
    log = wait_until(
        lambda: server.log() if "GET /raw" in server.log() else None, what="the access log lines"
    )
    access = [line for line in log.splitlines() if '"GET /' in line]
    assert len(access) >= len(visits), log  # answered health checks are not logged
    for secret in (FEED_TOKEN, MANAGE, VOTE, CODE, STATE):
        assert secret not in log
    # The setup token appears once: in the line that announces the link.
    assert [line for line in log.splitlines() if setup_token in line] == [
        line for line in log.splitlines() if "No account yet" in line
    ]
    assert "GET /feeds/[redacted] HTTP/1.1" in log
    assert "GET /setup?token=[redacted] HTTP/1.1" in log
    assert "code=[redacted]&state=[redacted]" in log
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028]", log)
