"""Capability tokens never reach the logs, and logged URLs cannot forge lines.

The access log is read from a real ``serve`` (gunicorn with our logger class).
"""

from __future__ import annotations

import re
import socket

import httpx
import pytest

from calmesh.logs import escape, redact, safe
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
