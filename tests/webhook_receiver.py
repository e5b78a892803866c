"""A webhook receiver on loopback, as a user would write one from the README.

``Receiver`` is a threaded HTTP server that checks each request's signature
with the README's own ``verify_signature`` (taken from README.md, so the
documentation and the tests cannot drift apart), dedupes on
``X-CalMesh-Delivery`` and records everything it saw:

    with Receiver() as receiver:
        receiver.secret = created["secret"]
        ...
        assert receiver.events() == ["booking.created"]
        assert receiver.duplicates == []

It can be started on a port chosen in advance (to be "down" first), answer
any status (``receiver.status = 500``), or answer slowly (``receiver.delay``, after processing the request).
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from tests.conftest import ROOT


def readme_example() -> dict[str, Any]:
    """The names defined by the Python example of README.md's "Webhooks" section."""
    text = (ROOT / "README.md").read_text()
    section = re.search(r"^## Webhooks\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert section, "README.md has no '## Webhooks' section"
    code = re.search(r"```python\n(.*?)```", section.group(1), re.S)
    assert code, "the Webhooks section has no Python example"
    names: dict[str, Any] = {}
    exec(compile(code.group(1), "README.md (Webhooks)", "exec"), names)  # noqa: S102
    return names


verify_signature: Callable[..., bool] = readme_example()["verify_signature"]


@dataclass(frozen=True)
class Received:
    """One request (header names in lower case) and what the receiver made of it."""

    path: str
    headers: dict[str, str]
    body: bytes
    verified: bool
    duplicate: bool
    answered: int
    at: float

    @property
    def delivery_id(self) -> str:
        return self.headers.get("x-calmesh-delivery", "")

    @property
    def json(self) -> dict[str, Any]:
        return json.loads(self.body)


class Receiver:
    def __init__(self, port: int = 0, secret: str = "", status: int = 200):
        self.port = port
        self.secret = secret
        self.status = status  # answered to verified requests
        self.answer_body = b'{"ok": true}'
        self.delay = 0.0
        self.log: list[Received] = []
        self._seen: set[str] = set()  # delivery ids answered 2xx: processed
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Receiver:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def start(self) -> None:
        httpd = _Server(("127.0.0.1", self.port), _Handler)
        httpd.receiver = self
        self.port = httpd.server_address[1]
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, args=(0.02,), name="webhook-receiver", daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._thread.join(timeout=5)
            self._httpd = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/calmesh"

    # --- what arrived ---------------------------------------------------------

    @property
    def accepted(self) -> list[Received]:
        """Each delivery processed, once: verified, answered 2xx, not a repeat."""
        with self._lock:
            return [r for r in self.log if r.verified and not r.duplicate and r.answered < 300]

    @property
    def duplicates(self) -> list[str]:
        """Delivery ids that arrived again after they had been processed."""
        with self._lock:
            return [r.delivery_id for r in self.log if r.duplicate]

    def events(self) -> list[str]:
        return [r.json["event"] for r in self.accepted]

    def wait_for(self, count: int, timeout: float = 20.0) -> list[Received]:
        """Wait until ``count`` deliveries were accepted."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.accepted) >= count:
                return self.accepted
            time.sleep(0.05)
        raise AssertionError(f"{len(self.accepted)} of {count} deliveries arrived: {self.log}")

    # --- used by the handler ----------------------------------------------------

    def _handle(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
        verified = verify_signature(self.secret, headers.get("x-calmesh-signature", ""), body)
        delivery_id = headers.get("x-calmesh-delivery", "")
        with self._lock:
            duplicate = verified and delivery_id in self._seen
            if not verified:
                status, answer = 400, b"bad signature"
            elif duplicate:
                status, answer = 200, b"already processed"
            else:
                status, answer = self.status, self.answer_body
                if status < 300:
                    self._seen.add(delivery_id)
            self.log.append(Received(path, headers, body, verified, duplicate, status, time.time()))
        # Processed already; a slow answer can reach a sender that gave up.
        time.sleep(self.delay)
        return status, answer


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    receiver: Receiver

    def handle_error(self, request, client_address) -> None:
        # A sender that timed out closed its end; that is what the tests provoke.
        pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        headers = {key.lower(): value for key, value in self.headers.items()}
        status, answer = self.server.receiver._handle(self.path, headers, body)
        self.send_response(status)
        if 300 <= status < 400:
            self.send_header("Location", "/elsewhere")
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)
