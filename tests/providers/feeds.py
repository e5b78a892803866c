"""A calendar feed server on loopback, for tests of the iCal-URL source.

``FeedServer`` serves named bodies (bytes, text or files) from a thread, the
way a real web server would serve an ``.ics`` export: with or without ETag and
Last-Modified, answering conditional requests with 304, behind HTTP Basic
auth, slowly, never, or with any status. It counts every request, so a test
can prove that a sync cost exactly one.

    with FeedServer() as feeds:
        feeds.set("team.ics", CORPUS / "one_event.ics", etag=True)
        url = feeds.url_for("team.ics")
        ...
        assert feeds.requests["team.ics"] == 2
        assert feeds.log[-1].headers["if-none-match"] == feeds.etag_of("team.ics")

``FeedServer(tls=True)`` serves HTTPS with a throwaway self-signed
certificate for 127.0.0.1, localhost and ``TLS_NAME``; point clients at
``feeds.ca_file`` (for httpx, the ``SSL_CERT_FILE`` environment variable).
``feeds.server_names`` lists the names clients asked for in TLS (SNI).
"""

from __future__ import annotations

import hashlib
import math
import ssl
import tempfile
import threading
from base64 import b64encode
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from urllib.parse import quote, unquote, urlsplit

from tests import tls

# With `drip`, the body goes out in pieces of this size, a pause before each.
# A host name the TLS certificate is also made for (tests resolve it to 127.0.0.1).
TLS_NAME = "calendar.test"
DRIP_PIECE = 64


@dataclass
class Feed:
    body: bytes
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    drip: float = 0.0
    etag: str | None = None
    last_modified: str | None = None
    conditional: bool = True
    auth: tuple[str, str] | None = None


@dataclass(frozen=True)
class Request:
    """One request the server received (header names in lower case)."""

    name: str
    method: str
    headers: dict[str, str]
    query: str = ""


class FeedServer:
    """A threaded HTTP(S) server on 127.0.0.1 serving feeds set by name."""

    def __init__(self, *, tls: bool = False):
        self._feeds: dict[str, Feed] = {}
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._tls = tls
        self._tmp: tempfile.TemporaryDirectory | None = None
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.requests: Counter[str] = Counter()  # by feed name, unknown names included
        self.log: list[Request] = []
        self.ca_file: Path | None = None  # the certificate to trust, with tls=True
        self.server_names: list[str | None] = []  # SNI of each TLS handshake

    # --- life cycle ------------------------------------------------------------

    def __enter__(self) -> FeedServer:
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
        httpd = _Server(("127.0.0.1", 0), _Handler)
        httpd.feeds = self
        if self._tls:
            self._tmp = tempfile.TemporaryDirectory()
            cert, key = tls.self_signed(
                Path(self._tmp.name), ["localhost", TLS_NAME], ["127.0.0.1"]
            )
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(cert, key)
            context.sni_callback = lambda _sock, name, _context: self.server_names.append(name)
            httpd.socket = context.wrap_socket(
                httpd.socket, server_side=True, do_handshake_on_connect=False
            )
            self.ca_file = cert
        self._httpd = httpd
        # A short poll keeps close() quick: shutdown() waits for the next poll.
        self._thread = threading.Thread(
            target=httpd.serve_forever, args=(0.02,), name="feed-server", daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        self._closing.set()  # releases handlers that hang or drip
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._thread.join(timeout=5)
            self._httpd = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    # --- what it serves --------------------------------------------------------

    @property
    def base_url(self) -> str:
        assert self._httpd is not None, "start the server first"
        scheme = "https" if self._tls else "http"
        return f"{scheme}://127.0.0.1:{self._httpd.server_address[1]}"

    def url_for(self, name: str) -> str:
        return f"{self.base_url}/{quote(name)}"

    def set(
        self,
        name: str,
        body: bytes | str | Path,
        status: int = 200,
        headers: dict[str, str] | None = None,
        delay: float = 0.0,
        *,
        etag: str | bool | None = None,
        last_modified: datetime | str | None = None,
        conditional: bool = True,
        auth: tuple[str, str] | None = None,
        drip: float = 0.0,
    ) -> None:
        """Serve ``body`` (bytes, text as UTF-8, or a file's contents) at ``name``.

        ``headers`` are sent as given (Content-Type defaults to text/calendar).
        ``delay`` seconds pass before the answer starts; ``math.inf`` hangs
        until the server closes. ``drip`` pauses that long before each
        64-byte piece of the body. ``etag`` is the header's value, or True for
        one made from the body; ``last_modified`` a datetime or an HTTP date.
        With ``conditional`` (the default) a matching If-None-Match, or else an
        If-Modified-Since not older than Last-Modified, gets 304; without it
        the server ignores validators, as many do. ``auth`` is a (user,
        password) pair required by HTTP Basic auth, 401 otherwise.
        """
        if isinstance(body, Path):
            body = body.read_bytes()
        elif isinstance(body, str):
            body = body.encode()
        if etag is True:
            etag = f'"{hashlib.sha256(body).hexdigest()[:16]}"'
        if isinstance(last_modified, datetime):
            last_modified = format_datetime(last_modified.astimezone(UTC), usegmt=True)
        feed = Feed(
            body=body,
            status=status,
            headers=dict(headers or {}),
            delay=delay,
            drip=drip,
            etag=etag or None,
            last_modified=last_modified,
            conditional=conditional,
            auth=auth,
        )
        with self._lock:
            self._feeds[name] = feed

    def redirect(self, name: str, target: str, status: int = 302) -> None:
        """Answer ``name`` with a redirect to another feed name or an absolute URL."""
        location = target if "://" in target else "/" + quote(target)
        self.set(name, b"", status=status, headers={"Location": location})

    def remove(self, name: str) -> None:
        with self._lock:
            self._feeds.pop(name, None)

    def etag_of(self, name: str) -> str | None:
        with self._lock:
            return self._feeds[name].etag

    def last(self, name: str) -> Request:
        """The latest request for ``name``."""
        with self._lock:
            return next(r for r in reversed(self.log) if r.name == name)

    # --- used by the handler ---------------------------------------------------

    def _record(
        self, name: str, method: str, headers: dict[str, str], query: str = ""
    ) -> Feed | None:
        with self._lock:
            self.requests[name] += 1
            self.log.append(Request(name, method, headers, query))
            return self._feeds.get(name)

    def _pause(self, seconds: float) -> bool:
        """Sleep unless the server closes first; False when it closed."""
        if seconds <= 0:
            return not self._closing.is_set()
        return not self._closing.wait(None if math.isinf(seconds) else seconds)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    feeds: FeedServer

    def handle_error(self, request, client_address) -> None:
        # A client that gave up (timeout, size cap) closes its end; that is
        # what the tests provoke, not a server failure.
        pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        if isinstance(self.request, ssl.SSLSocket):
            # In this request's thread, not the accepting one: a client that
            # never finishes the handshake must not stall the whole server.
            self.request.do_handshake()

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_HEAD(self) -> None:
        self._answer(send_body=False)

    def do_GET(self) -> None:
        self._answer(send_body=True)

    # Answered like GET, logged alike: enough for a CalDAV client's first request.
    do_PROPFIND = do_GET

    def _answer(self, send_body: bool) -> None:
        feeds = self.server.feeds
        target = urlsplit(self.path)
        name = unquote(target.path).lstrip("/")
        headers = {key.lower(): value for key, value in self.headers.items()}
        feed = feeds._record(name, self.command, headers, target.query)
        if feed is None:
            self._send(404, {"Content-Type": "text/plain"}, b"not found", send_body)
            return
        if not feeds._pause(feed.delay):
            self.close_connection = True
            return
        if feed.auth is not None and headers.get("authorization") != _basic(*feed.auth):
            self._send(
                401,
                {"Content-Type": "text/plain", "WWW-Authenticate": 'Basic realm="feed"'},
                b"who are you?",
                send_body,
            )
            return
        validators = {}
        if feed.etag:
            validators["ETag"] = feed.etag
        if feed.last_modified:
            validators["Last-Modified"] = feed.last_modified
        if feed.status == 200 and feed.conditional and _not_modified(feed, headers):
            self._send(304, validators, b"", send_body)
            return
        sent = {"Content-Type": "text/calendar; charset=utf-8", **validators, **feed.headers}
        self._send(feed.status, sent, feed.body, send_body, drip=feed.drip)

    def _send(
        self,
        status: int,
        headers: dict[str, str],
        body: bytes,
        send_body: bool,
        drip: float = 0.0,
    ) -> None:
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        if status != 304:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not send_body or status == 304:
            return
        if not drip:
            self.wfile.write(body)
            return
        for start in range(0, len(body), DRIP_PIECE):
            if not self.server.feeds._pause(drip):
                self.close_connection = True
                return
            self.wfile.write(body[start : start + DRIP_PIECE])
            self.wfile.flush()


def _basic(user: str, password: str) -> str:
    return "Basic " + b64encode(f"{user}:{password}".encode()).decode()


def _not_modified(feed: Feed, headers: dict[str, str]) -> bool:
    """RFC 9110 §13.2.2: If-None-Match decides when present, else If-Modified-Since."""
    if "if-none-match" in headers:
        if not feed.etag:
            return False
        wanted = {tag.strip().removeprefix("W/") for tag in headers["if-none-match"].split(",")}
        return "*" in wanted or feed.etag.removeprefix("W/") in wanted
    if "if-modified-since" in headers and feed.last_modified:
        try:
            since = parsedate_to_datetime(headers["if-modified-since"])
            modified = parsedate_to_datetime(feed.last_modified)
        except (TypeError, ValueError):
            return False
        return modified <= since
    return False
