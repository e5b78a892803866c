"""``serve``: gunicorn with several workers; the scheduler runs in one of them."""

from __future__ import annotations

import errno
import json
import logging
import time
from typing import Any

from gunicorn import util
from gunicorn.app.base import BaseApplication
from gunicorn.glogging import Logger
from gunicorn.http.errors import LimitRequestLine
from gunicorn.workers.sync import SyncWorker

from calmesh import logs

log = logging.getLogger("calmesh")


class Worker(SyncWorker):
    """gunicorn's sync worker, with two changes.

    * A request line over ``limit_request_line`` (gunicorn refuses it before the
      app sees it) is answered as the API's documented JSON error, 414
      ``uri_too_long``, not as gunicorn's HTML page.
    * On SIGTERM it stops taking part only after serving the connections
      already waiting on the listening socket, within the graceful timeout:
      without this, they would be reset when the last worker closes it.
    """

    def handle_error(self, req, client, addr, exc) -> None:
        if not isinstance(exc, LimitRequestLine):
            super().handle_error(req, client, addr, exc)
            return
        self.log.warning("Invalid request from ip=%s: %s", (addr or ("",))[0], exc)
        body = json.dumps(
            {
                "error": {
                    "code": "uri_too_long",
                    "message": f"the request line is longer than {self.cfg.limit_request_line} "
                    "bytes; send long input in a JSON body",
                    "details": None,
                }
            }
        ).encode()
        head = (
            "HTTP/1.1 414 URI Too Long\r\nConnection: close\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        util.write_nonblock(client, head.encode("latin1") + body)

    def run(self) -> None:
        super().run()
        self._drain()

    def _drain(self) -> None:
        """Serve what was accepted by the kernel before the stop, then return."""
        deadline = time.monotonic() + max(1.0, self.cfg.graceful_timeout - 1)
        served = 0
        for listener in self.sockets:
            while time.monotonic() < deadline:
                self.notify()
                try:
                    self.accept(listener)
                except OSError as exc:
                    if exc.errno in (errno.EAGAIN, errno.EWOULDBLOCK, errno.EBADF, errno.EINVAL):
                        break  # nothing waits any more (or the socket is gone)
                    if exc.errno != errno.ECONNABORTED:
                        raise
                else:
                    served += 1
        if served:
            self.log.info("served %s waiting connection(s) before stopping", served)


def _header_of(atom: str) -> str | None:
    """The request header an atom shows: ``{cookie}i``, or ``{http_cookie}e``."""
    if atom.endswith("}i"):
        return atom[1:-2].lower()
    if atom.endswith("}e") and atom.startswith("{http_"):
        return atom[6:-2].lower().replace("_", "-")
    return None


class AccessLogger(Logger):
    """gunicorn's logger, but every request-derived field of the access log is
    redacted (feed, manage, vote, OAuth and setup tokens; the Referer carries
    them too) and escaped (control characters). Answered health checks are
    not logged: a probe every few seconds (Docker's HEALTHCHECK, a monitor) is
    no event, and would bury the ones there are. A failing one still is."""

    def access(self, resp, req, environ, request_time) -> None:
        if environ.get("PATH_INFO") == "/api/health" and str(resp.status).startswith("200"):
            return
        super().access(resp, req, environ, request_time)

    def atoms(self, resp, req, environ, request_time) -> dict[str, Any]:
        atoms = super().atoms(resp, req, environ, request_time)
        for name, value in atoms.items():
            if _header_of(name) in logs.SECRET_HEADERS:
                atoms[name] = logs.REDACTED
            elif isinstance(value, str):
                atoms[name] = logs.safe(value)
        return atoms


class _Gunicorn(BaseApplication):
    def __init__(self, options: dict[str, Any], overrides: dict[str, Any]):
        self.options, self.overrides = options, overrides
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        # Called in each worker after the fork (no preload): every worker owns
        # its database connection, and one of them wins the scheduler lock.
        return wsgi_app(self.overrides)


def serve(overrides: dict[str, Any] | None = None) -> None:
    from calmesh import create_app, db
    from calmesh.auth import keys

    overrides = overrides or {}
    app = create_app(overrides)  # validates the configuration before any fork
    settings = app.config["CALMESH"]
    db.migrate()
    keys.check_fingerprint(app)  # a wrong key stops here, with one line, before any fork
    db.db.close()
    host, port = settings["server.host"], settings["server.port"]
    log.info("CalMesh on http://%s:%s with %s workers", host, port, settings["server.workers"])
    _Gunicorn(gunicorn_options(settings), overrides).run()


def gunicorn_options(settings) -> dict[str, Any]:
    """gunicorn's settings for ``serve`` (the benchmark's bare Flask app runs under them too)."""
    host, port = settings["server.host"], settings["server.port"]
    return {
        "bind": f"{host}:{port}",
        "workers": settings["server.workers"],
        "timeout": settings["server.timeout"],
        "accesslog": "-",
        "logger_class": AccessLogger,
        "errorlog": "-",
        "loglevel": settings["logging.level"].lower(),
        "forwarded_allow_ips": "*" if settings["server.trusted_proxies"] else "127.0.0.1",
        "proc_name": "calmesh",
        "worker_class": "calmesh.server.Worker",
        # SIGTERM: workers finish what they were given, then what waits (Worker).
        "graceful_timeout": settings["server.timeout"],
        # gunicorn's default control socket is one per user: two instances on a
        # machine would take it from each other. Keep it with the instance's data.
        "control_socket": str(settings.data_dir / "gunicorn.ctl"),
    }


def wsgi_app(overrides: dict[str, Any] | None = None):
    """The app for ``gunicorn app:app``: migrates and may start the scheduler.

    A configuration error (a secret key the database does not know, say) is
    gunicorn's "cannot load the app": one line, and the master stops instead
    of booting workers again and again.
    """
    from gunicorn.errors import AppImportError

    from calmesh import create_app
    from calmesh.config import ConfigError

    try:
        return create_app(overrides, server=True)
    except ConfigError as exc:
        raise AppImportError(f"error: {exc}") from None
