"""``calmesh check`` (alias ``doctor``): is this instance set up to run?

Each check returns the problems it found, one line each, worded as what is
wrong and what to do. Nothing is changed: the database is opened but never
created or migrated, the data folder is looked at but never written.
"""

from __future__ import annotations

import ipaddress
import os
import stat
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from calmesh import config as config_module
from calmesh.config import Config, ConfigError
from calmesh.providers import registry

Check = Callable[[Config], list[str]]
LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1"}


def run(environ: dict[str, str] | None = None) -> list[str]:
    """Every problem, ``"area: what is wrong"``; empty when all is well."""
    try:
        settings = config_module.load(environ=environ)
    except ConfigError as exc:
        return [f"configuration: {exc}"]  # nothing else can be checked without it
    problems: list[str] = []
    for check in CHECKS:
        problems.extend(check(settings))
    return problems


def check_configuration(settings: Config) -> list[str]:
    problems = []
    for provider in (
        registry.INTEGRATIONS[k].settings_section for k in registry.kinds(consent=True)
    ):
        has_id = bool(settings[f"{provider}.client_id"])
        if has_id != bool(settings[f"{provider}.client_secret"]):
            problems.append(
                f"configuration: {provider}.client_id and {provider}.client_secret must be set "
                "together"
            )
    return problems


def check_data_dir(settings: Config) -> list[str]:
    folder = settings.data_dir
    if not folder.exists():
        parent = _existing_parent(folder)
        if not os.access(parent, os.W_OK | os.X_OK):
            return [f"data folder: {folder} does not exist and {parent} is not writable"]
        return []  # created on first start
    if not folder.is_dir():
        return [f"data folder: {folder} is not a folder"]
    problems = []
    if not os.access(folder, os.R_OK | os.W_OK | os.X_OK):
        problems.append(
            f"data folder: {folder} is not readable and writable by this user (uid {os.getuid()})"
        )
    mode = folder.stat().st_mode
    if mode & stat.S_IWOTH:
        problems.append(f"data folder: {folder} is writable by everyone (chmod o-w)")
    for path in sorted(folder.glob("secret_key*")):
        if path.is_file() and path.stat().st_mode & 0o077:
            problems.append(
                f"data folder: {path} is readable by other users (chmod 600 {path.name})"
            )
    return problems


def check_database(settings: Config) -> list[str]:
    import peewee as pw

    from calmesh import db

    url = settings.database_url
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        if not path.exists():
            return [f"database: {path} does not exist yet (run `calmesh init`, or start serve)"]
        if not os.access(path, os.R_OK | os.W_OK):
            return [f"database: {path} is not readable and writable by this user"]
    try:
        database = db.make_database(url)
    except ValueError as exc:
        return [f"database: {exc}"]
    try:
        with database.connection_context():
            if not database.table_exists(db.SchemaVersion._meta.table_name):
                return ["database: empty (run `calmesh init`, or start serve)"]
            with db.SchemaVersion.bind_ctx(database):
                seen = {row.name for row in db.SchemaVersion.select()}
    except pw.PeeweeException as exc:
        reason = (str(exc).splitlines() or [type(exc).__name__])[0]
        return [f"database: cannot open {_without_password(url)}: {reason}"]
    finally:
        database.close()
    # Migrations still to apply are no fault (serve and init apply them); ones this
    # version does not know mean the database was upgraded by a newer one.
    unknown = sorted(seen - {name for name, _ in db.discover_migrations()})
    if unknown:
        return [
            f"database: migrated by a newer CalMesh ({', '.join(unknown)}); run that version, "
            "or restore the backup taken before the upgrade"
        ]
    return []


def check_mail(settings: Config) -> list[str]:
    if not settings["mail.host"]:
        return []
    from calmesh.services.mail import MailError, parse_address, verify_server

    problems = []
    try:
        parse_address(settings["mail.from_address"])
    except ValueError as exc:
        problems.append(f"mail: mail.from_address: {exc}")
    try:
        verify_server(settings)
    except MailError as exc:
        problems.append(f"mail: {exc}")
    return problems


def check_proxy(settings: Config) -> list[str]:
    """``base_url``, ``trusted_proxies`` and ``secure_cookies`` must tell one story."""
    problems = []
    base = settings["server.base_url"]
    scheme = ""
    if base:
        parts = urlsplit(base)
        scheme = parts.scheme
        if scheme not in {"http", "https"} or not parts.hostname:
            problems.append(
                f"proxy: server.base_url {base!r} is not an http(s):// address "
                "(e.g. https://cal.example.org)"
            )
        elif parts.query or parts.fragment:
            problems.append(f"proxy: server.base_url {base!r} must not have a query or fragment")
    from calmesh import _secure_cookies  # the app's own reading of "auto"

    secure = _secure_cookies(settings)
    proxies = settings["server.trusted_proxies"]
    loopback = _is_loopback(settings["server.host"])
    if scheme == "https" and not secure:
        problems.append(
            "proxy: server.base_url is https but security.secure_cookies is false "
            "(set it to auto or true: cookies must not travel over plain HTTP)"
        )
    if scheme == "http" and secure and urlsplit(base).hostname not in LOOPBACK_NAMES:
        problems.append(
            "proxy: security.secure_cookies is true but server.base_url is http: "
            "browsers will not send the session cookie back"
        )
    if scheme == "https" and loopback and not proxies:
        problems.append(
            "proxy: server.base_url is https and the app listens on loopback, so a reverse "
            "proxy is in front: set server.trusted_proxies = 1 (its X-Forwarded-* headers are "
            "ignored otherwise)"
        )
    if proxies and not loopback:
        problems.append(
            f"proxy: server.trusted_proxies = {proxies} but the app listens on "
            f"{settings['server.host']}: anyone reaching that port directly can forge "
            "X-Forwarded-For; listen on 127.0.0.1 behind the proxy (or let only the proxy "
            "reach that port)"
        )
    return problems


CHECKS: tuple[Check, ...] = (
    check_configuration,
    check_data_dir,
    check_database,
    check_mail,
    check_proxy,
)


def _existing_parent(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _without_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@", 1)
    return url
