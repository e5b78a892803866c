"""CalMesh: self-hosted scheduling. ``create_app`` builds the Flask app."""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from calmesh.config import ConfigError

__version__ = "0.1.0"


def _prepare_data_dir(config) -> None:
    """Create the data folder before anything uses it (the key, the scheduler
    lock, SQLite), and prove that this user can write there: a read-only one
    stops the start with one line naming it."""
    path = config.data_dir
    try:
        # Owner-only from the start (it will hold the key and the database).
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        probe = path / f".write-test.{os.getpid()}.{secrets.token_hex(4)}"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise ConfigError(
            f"data_dir {path} is not writable ({exc.strerror or exc}); make it writable for "
            "this user or point CALMESH_DATA_DIR elsewhere"
        ) from None


def _secret_key(config) -> str:
    """The configured key, the key file, or one generated once into the data folder.

    Several workers may start at once: the key is written to a temporary file
    and linked into place, so exactly one file wins and all read the same.
    """
    from calmesh.config import ConfigError

    if config["security.secret_key"]:
        return config["security.secret_key"]
    if config["security.secret_key_file"]:
        path = Path(config["security.secret_key_file"]).expanduser()
        try:
            key = path.read_text().strip()
        except OSError as exc:
            raise ConfigError(
                f"security.secret_key_file: cannot read {path} ({exc.strerror})"
            ) from None
        if not key:
            raise ConfigError(f"security.secret_key_file: {path} is empty")
        return key
    path = config.data_dir / "secret_key"
    if not path.exists():
        tmp = path.with_name(f".secret_key.{os.getpid()}.{secrets.token_hex(4)}")
        with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as out:
            out.write(secrets.token_hex(32))
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return path.read_text().strip()


def _secure_cookies(config) -> bool:
    """``security.secure_cookies``: true, false, or auto (an https ``base_url``)."""
    setting = config["security.secure_cookies"]
    if setting == "auto":
        return config["server.base_url"].lower().startswith("https://")
    return setting == "true"


def create_app(overrides: dict[str, Any] | None = None, *, server: bool = False) -> Flask:
    """Build the app. ``overrides`` are dotted config keys (tests use them).

    ``server`` is set by the WSGI entry points: the app then migrates the
    database and may start the embedded scheduler (one process per host).
    """
    from calmesh import config as config_module
    from calmesh import db

    config = config_module.load(overrides)
    _prepare_data_dir(config)
    _configure_logging(config["logging.level"])
    # Templates and static files ship inside the package (calmesh/templates,
    # calmesh/static): Flask finds them beside this module, whatever the cwd.
    app = Flask(__name__, template_folder="templates", static_folder="static")
    app.config["CALMESH"] = config
    _configure_flask(app, config)
    db.init_db(config.database_url, migration_context=app.app_context)
    _add_layers(app)
    if server:
        _start_serving(app)
    return app


def _configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)s %(name)s [%(process)d] %(message)s",
    )
    # httpx logs every request's full URL at INFO; an iCal feed's path is often its
    # secret. APScheduler logs two INFO lines per job run (every few seconds) and
    # one per job added: an idle instance would never be quiet. Both keep their
    # warnings; DEBUG shows everything.
    debug = level.upper() == "DEBUG"
    for noisy in ("httpx", "apscheduler"):
        logging.getLogger(noisy).setLevel(logging.NOTSET if debug else logging.WARNING)


def _configure_flask(app: Flask, config) -> None:
    """Keys, URL converters, cookies, body limit and proxies."""
    from calmesh.auth import keys
    from calmesh.auth.sessions import REMEMBER_FOR
    from calmesh.converters import CONVERTERS

    keys.init_app(
        app, keys.Keyring(_secret_key(config), tuple(config["security.previous_secret_keys"]))
    )
    app.url_map.converters.update(CONVERTERS)
    app.config.update(
        MAX_CONTENT_LENGTH=config["server.max_body_bytes"],
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=_secure_cookies(config),
        REMEMBER_COOKIE_SECURE=_secure_cookies(config),
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_DURATION=REMEMBER_FOR,
    )
    app.json.sort_keys = False
    if config["server.trusted_proxies"]:
        n = config["server.trusted_proxies"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n, x_port=n, x_prefix=n)


def _add_layers(app: Flask) -> None:
    from calmesh import delivery, i18n, web
    from calmesh.api import init_app as init_api
    from calmesh.auth import init_app as init_auth
    from calmesh.http import init_app as init_http

    delivery.init_app(app)  # first: its after_request (compression) runs last
    init_http(app)
    init_auth(app)
    init_api(app)
    web.init_app(app)
    i18n.init_app(app)  # public pages in the visitor's language; the dashboard English


def _start_serving(app: Flask) -> None:
    """Migrate, check the key, announce a first run, start the embedded scheduler."""
    from calmesh import db
    from calmesh.auth import keys
    from calmesh.auth import setup as first_run
    from calmesh.jobs.scheduler import start_embedded

    db.migrate()
    keys.check_fingerprint(app)
    with db.db.connection_context():
        first_run.announce(app)
    start_embedded(app)
