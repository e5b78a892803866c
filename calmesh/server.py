"""``serve``: gunicorn with several workers; the scheduler runs in one of them."""

from __future__ import annotations

import logging
from typing import Any

from gunicorn.app.base import BaseApplication
from gunicorn.glogging import Logger

from calmesh import logs

log = logging.getLogger("calmesh")


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
    options = {
        "bind": f"{host}:{port}",
        "workers": settings["server.workers"],
        "timeout": settings["server.timeout"],
        "accesslog": "-",
        "logger_class": AccessLogger,
        "errorlog": "-",
        "loglevel": settings["logging.level"].lower(),
        "forwarded_allow_ips": "*" if settings["server.trusted_proxies"] else "127.0.0.1",
        "proc_name": "calmesh",
        # gunicorn's default control socket is one per user: two instances on a
        # machine would take it from each other. Keep it with the instance's data.
        "control_socket": str(settings.data_dir / "gunicorn.ctl"),
    }
    _Gunicorn(options, overrides).run()


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
