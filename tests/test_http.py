"""Request plumbing: a body without a length (``Transfer-Encoding: chunked``)
is held to ``server.max_body_bytes`` like any other, in-process and through a
real ``serve`` (gunicorn), without reading more than the limit."""

from __future__ import annotations

import contextlib
import io
import json
import socket
import time
from collections.abc import Iterator

import pytest

from tests.conftest import LiveServer, make_app, start_server, stop_server

LIMIT = 100_000


def chunked(app, path: str, size: int, content_type: str):
    """POST ``size`` bytes as a chunked body, the way gunicorn hands one on."""
    body = b'{"name": "' + b"a" * size + b'"}' if "json" in content_type else b"x=" + b"a" * size
    return app.test_client().post(
        path,
        input_stream=io.BytesIO(body),
        headers={"Transfer-Encoding": "chunked", "Content-Type": content_type},
        environ_overrides={"wsgi.input_terminated": True},
    )


@pytest.fixture
def small_app(tmp_path):
    return make_app(tmp_path, **{"server.max_body_bytes": LIMIT})


def test_a_chunked_json_body_over_the_limit_is_a_json_413(small_app):
    answer = chunked(small_app, "/api/v1/booking-pages/intro/book", LIMIT, "application/json")
    assert answer.status_code == 413
    assert answer.get_json()["error"]["code"] == "payload_too_large"


def test_a_chunked_form_over_the_limit_is_a_413_page(small_app):
    answer = chunked(small_app, "/login", LIMIT, "application/x-www-form-urlencoded")
    assert answer.status_code == 413 and answer.mimetype == "text/html"
    assert "Request Entity Too Large" in answer.get_data(as_text=True)


def test_a_chunked_body_within_the_limit_is_read_whole(small_app):
    answer = chunked(small_app, "/api/v1/booking-pages/intro/book", LIMIT - 20, "application/json")
    # Parsed whole (a cut body would be invalid_json), then checked field by field.
    error = answer.get_json()["error"]
    assert (answer.status_code, error["code"]) == (400, "validation_error")
    assert {"field": "name", "message": "is not a known field"} in error["details"]


# --- through a real serve -----------------------------------------------------------------


@pytest.fixture(scope="module")
def live(tmp_path_factory) -> Iterator[LiveServer]:
    server = start_server(
        tmp_path_factory.mktemp("chunked"), workers=1, CALMESH_SERVER_MAX_BODY_BYTES=str(LIMIT)
    )
    yield server
    stop_server(server)


def send_until_answered(server: LiveServer, path: str, content_type: str) -> tuple[int, bytes]:
    """Stream a chunked body that never ends; the bytes sent when the answer came,
    and the answer. A server reading the whole body would never answer."""
    port = int(server.url.rsplit(":", 1)[1])
    piece = b"a" * 16_384
    with socket.create_connection(("127.0.0.1", port)) as connection:
        connection.sendall(
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\n"
            "Transfer-Encoding: chunked\r\n\r\n".encode()
        )
        connection.settimeout(0.05)
        sent, deadline = 0, time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                connection.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
                sent += len(piece)
            except OSError:
                pass  # the server closed its side after answering
            try:
                answer = connection.recv(65_536)
            except TimeoutError:
                continue
            connection.settimeout(5)
            # To the end: it closes after answering (a reset, as our data is left unread).
            with contextlib.suppress(ConnectionResetError):
                while more := connection.recv(65_536):
                    answer += more
            return sent, answer
    raise AssertionError(f"no answer after sending {sent} bytes")


@pytest.mark.parametrize(
    ("path", "content_type", "kind"),
    [
        ("/api/v1/booking-pages/intro/book", "application/json", "application/json"),
        ("/login", "application/x-www-form-urlencoded", "text/html"),
    ],
)
def test_serve_answers_413_to_an_endless_chunked_body(live, path, content_type, kind):
    sent, answer = send_until_answered(live, path, content_type)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413"), head
    assert f"Content-Type: {kind}".encode() in head
    if kind == "application/json":
        assert json.loads(body)["error"]["code"] == "payload_too_large"
    # It answered once the limit was passed, not at the end of a body that has none.
    assert LIMIT < sent < LIMIT * 20
