"""Configuration: one schema drives loading, environment overrides and validation.

Sources, later ones winning: the schema's defaults, the TOML file named by
``CALMESH_CONFIG``, environment variables ``CALMESH_<SECTION>_<KEY>`` (keys at
the top of the file: ``CALMESH_<KEY>``, e.g. ``CALMESH_DATA_DIR``), and for
secrets ``CALMESH_<SECTION>_<KEY>_FILE`` naming a file that holds the value.
``config.example.toml`` lists exactly the keys of :data:`SCHEMA`; a test keeps
the two in step (``calmesh config-example`` prints the file anew).
"""

from __future__ import annotations

import logging
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ENV_PREFIX = "CALMESH_"


class ConfigError(ValueError):
    """A configuration value is missing, unknown or of the wrong type."""


@dataclass(frozen=True)
class Key:
    section: str  # "" for top-level keys
    name: str
    default: Any
    help: str
    secret: bool = False
    choices: tuple[str, ...] = ()  # the allowed values of a string key

    @property
    def type(self) -> type:
        return type(self.default)

    @property
    def env(self) -> str:
        parts = [self.section, self.name] if self.section else [self.name]
        return ENV_PREFIX + "_".join(parts).upper()

    @property
    def dotted(self) -> str:
        return f"{self.section}.{self.name}" if self.section else self.name


SCHEMA: tuple[Key, ...] = (
    Key(
        "",
        "data_dir",
        "./data",
        "Folder for the SQLite database, the generated secret key and locks.",
    ),
    Key(
        "",
        "database_url",
        "",
        "sqlite:///path/app.db or postgresql://user:pass@host/db. Empty: data_dir/calmesh.db.",
        secret=True,
    ),
    Key("server", "host", "127.0.0.1", "Address `serve` listens on."),
    Key("server", "port", 8000, "Port `serve` listens on."),
    Key("server", "workers", 2, "gunicorn worker processes started by `serve`."),
    Key("server", "timeout", 30, "Seconds before gunicorn restarts a stuck worker."),
    Key(
        "server",
        "base_url",
        "",
        "Public URL of this instance (https://cal.example.org): every link in e-mails, "
        ".ics files, feeds, webhooks and API answers. Empty: the origin the owner used "
        "for the first-run setup (never a request's Host header).",
    ),
    Key(
        "server",
        "trusted_proxies",
        0,
        "How many reverse proxies in front of the app set X-Forwarded-* headers. 0: trust none.",
    ),
    Key("server", "max_body_bytes", 1_048_576, "Largest request body accepted (413 above)."),
    Key(
        "security",
        "secret_key",
        "",
        "The root of every key: cookies, links and the encryption of stored credentials use "
        "keys derived from it. Empty: read from secret_key_file.",
        secret=True,
    ),
    Key(
        "security",
        "secret_key_file",
        "",
        "File holding the secret key (hosts that share a database must share it). Empty: "
        "data_dir/secret_key, generated on first start.",
    ),
    Key(
        "security",
        "previous_secret_keys",
        [],
        "Earlier secret keys, still accepted for reading during a key rotation: cookies, "
        "links and stored credentials made with them stay valid (see README, 'Keys and "
        "rotation'). In the environment or a *_FILE: one key per line or comma.",
        secret=True,
    ),
    Key(
        "security",
        "secure_cookies",
        "auto",
        "Mark cookies Secure (sent over HTTPS only): auto (when server.base_url is https), "
        "true or false.",
        choices=("auto", "true", "false"),
    ),
    Key(
        "security",
        "allow_private_addresses",
        False,
        "Allow calendar and webhook URLs on loopback/private networks (server-side request "
        "forgery guard).",
    ),
    Key("security", "login_max_failures", 5, "Failed logins allowed per account and address ..."),
    Key(
        "security",
        "login_max_failures_per_address",
        30,
        "... and per address over all accounts (IPv6: per /64) ...",
    ),
    Key("security", "login_window_seconds", 900, "... within this many seconds."),
    Key("api", "rate_limit_per_minute", 120, "Requests per minute per API key (all workers)."),
    Key(
        "api",
        "public_book_per_minute",
        30,
        "Bookings and votes per minute from one address on the public pages and endpoints.",
    ),
    Key(
        "api",
        "public_slots_per_minute",
        120,
        "Slot queries per minute from one address without an API key (public slots endpoints).",
    ),
    Key(
        "scheduler",
        "embedded",
        True,
        "Run the scheduler inside one of the `serve` workers. Set false when a separate "
        "`calmesh worker` runs it.",
    ),
    Key("scheduler", "heartbeat_seconds", 15, "How often the scheduler records that it is alive."),
    Key("sync", "interval_caldav", 300, "Seconds between syncs of a CalDAV or iCloud connection."),
    Key("sync", "interval_ics", 900, "Seconds between fetches of an iCal URL."),
    Key("sync", "interval_google", 300, "Seconds between syncs of a Google connection."),
    Key("sync", "interval_microsoft", 300, "Seconds between syncs of a Microsoft 365 connection."),
    Key("sync", "horizon_past_days", 30, "Occurrences are kept from this many days back ..."),
    Key("sync", "horizon_future_days", 365, "... to this many days ahead (rolled forward daily)."),
    Key("sync", "timeout_seconds", 60, "Timeout of one request to a calendar provider."),
    Key("sync", "max_feed_bytes", 20_971_520, "Largest calendar answer accepted (bytes)."),
    Key("sync", "max_backoff_seconds", 3600, "Longest wait before retrying a failing connection."),
    Key("sync", "concurrency", 4, "Connections synced at once by one scheduler."),
    Key(
        "sync",
        "max_instances_per_series",
        5000,
        "Recurring instances kept per series inside the horizon (a daily one has ~400).",
    ),
    Key(
        "sync",
        "max_instances_per_calendar",
        50_000,
        "Recurring instances kept per calendar inside the horizon (cuts show on the connection).",
    ),
    Key("google", "client_id", "", "OAuth client id (Google Cloud console, type Web application)."),
    Key("google", "client_secret", "", "OAuth client secret.", secret=True),
    Key("google", "auth_url", "https://accounts.google.com/o/oauth2/v2/auth", "Consent page."),
    Key("google", "token_url", "https://oauth2.googleapis.com/token", "Token endpoint."),
    Key("google", "api_base", "https://www.googleapis.com/calendar/v3", "Calendar API base URL."),
    Key("microsoft", "client_id", "", "Application (client) id from the Entra admin center."),
    Key("microsoft", "client_secret", "", "Client secret.", secret=True),
    Key(
        "microsoft",
        "auth_url",
        "https://login.microsoftonline.com/common/oauth2/v2.0/authorize",
        "Consent page.",
    ),
    Key(
        "microsoft",
        "token_url",
        "https://login.microsoftonline.com/common/oauth2/v2.0/token",
        "Token endpoint.",
    ),
    Key("microsoft", "api_base", "https://graph.microsoft.com/v1.0", "Microsoft Graph base URL."),
    Key(
        "outbox",
        "retry_hours",
        24,
        "Hours an e-mail, write-back or webhook delivery is retried after its first failure "
        "(with exponential back-off) before it is marked failed.",
    ),
    Key(
        "outbox",
        "max_backoff_seconds",
        3600,
        "Longest wait between two tries of one outbox item.",
    ),
    Key(
        "outbox",
        "concurrency",
        4,
        "Items delivered at once in each lane (mail, calendar write-back, webhooks).",
    ),
    Key("webhooks", "timeout_seconds", 10, "Seconds a webhook receiver has to answer."),
    Key("logging", "level", "INFO", "DEBUG, INFO, WARNING or ERROR."),
    Key(
        "mail",
        "host",
        "",
        "SMTP server for outgoing e-mail. Empty: nothing is sent; mails are only kept in the "
        "mail log on the dashboard.",
    ),
    Key("mail", "port", 587, "SMTP port: 587 for starttls, 465 for ssl, 25 for none."),
    Key("mail", "username", "", "SMTP login. Empty: send without logging in."),
    Key("mail", "password", "", "SMTP password.", secret=True),
    Key(
        "mail",
        "security",
        "starttls",
        "starttls (upgrade after connecting), ssl (TLS from the start) or none (plain text).",
    ),
    Key("mail", "from_address", "calmesh@localhost", "Sender address of every e-mail."),
    Key("mail", "from_name", "CalMesh", "Sender name shown with that address."),
    Key("mail", "timeout", 20, "Seconds before an unanswering SMTP server counts as down."),
)

_BY_DOTTED = {k.dotted: k for k in SCHEMA}
log = logging.getLogger("calmesh")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _coerce(key: Key, value: Any, origin: str) -> Any:
    """Turn a value from TOML or the environment into the key's type."""
    want = key.type
    if key.choices:
        # A switch with a third value: true/false in any spelling, or a named choice.
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            value = value.strip().lower() in _TRUE
        if isinstance(value, bool):
            value = "true" if value else "false"
        if isinstance(value, str) and value.strip().lower() in key.choices:
            return value.strip().lower()
        raise ConfigError(
            f"{key.dotted} ({origin}): expected {', '.join(key.choices)}, got {value!r}"
        )
    if want is list:
        if isinstance(value, str):
            value = [part.strip() for part in value.replace(",", "\n").splitlines()]
            return [part for part in value if part]
        if isinstance(value, list) and all(isinstance(part, str) for part in value):
            return [part for part in value if part]
        raise ConfigError(f"{key.dotted} ({origin}): expected a list of strings, got {value!r}")
    if want is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
    elif want is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str):
            try:
                return int(value.strip())
            except ValueError:
                pass
    elif want is str and isinstance(value, str):
        return value
    raise ConfigError(f"{key.dotted} ({origin}): expected {want.__name__}, got {value!r}")


class Config:
    """Loaded settings, read as ``config["server.port"]`` or ``config.get("server.port")``."""

    def __init__(self, values: dict[str, Any]):
        self._values = values

    def __getitem__(self, dotted: str) -> Any:
        return self._values[dotted]

    def get(self, dotted: str, default: Any = None) -> Any:
        return self._values.get(dotted, default)

    def as_dict(self) -> dict[str, Any]:
        return dict(self._values)

    @property
    def data_dir(self) -> Path:
        return Path(self._values["data_dir"]).expanduser().resolve()

    @property
    def database_url(self) -> str:
        return self._values["database_url"] or f"sqlite:///{self.data_dir / 'calmesh.db'}"


# Keys an older release read: a configuration that still sets one starts, with a
# warning that says what took its place, instead of failing as an unknown key.
RETIRED = {
    "security.setup_token": "the first-run token is made at first start: calmesh setup-url",
    "outbox.max_attempts": "side effects are retried for outbox.retry_hours",
    "webhooks.max_attempts": "deliveries are retried for outbox.retry_hours",
}


def _flatten(doc: dict[str, Any], origin: str) -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for name, value in doc.items():
        if isinstance(value, dict):
            for sub, subvalue in value.items():
                flat[f"{name}.{sub}"] = subvalue
        else:
            flat[name] = value
    for dotted in sorted(set(flat) & set(RETIRED)):
        log.warning("%s: %s is no longer used (%s); remove it", origin, dotted, RETIRED[dotted])
        del flat[dotted]
    unknown = sorted(set(flat) - set(_BY_DOTTED))
    if unknown:
        raise ConfigError(f"{origin}: unknown key(s) {', '.join(unknown)}")
    return flat


def load(overrides: dict[str, Any] | None = None, environ: dict[str, str] | None = None) -> Config:
    """Load the configuration. ``overrides`` (dotted keys) win over everything."""
    environ = os.environ if environ is None else environ
    values = {k.dotted: k.default for k in SCHEMA}

    path = environ.get(ENV_PREFIX + "CONFIG")
    if path:
        try:
            with open(path, "rb") as fh:
                doc = tomllib.load(fh)
        except OSError as exc:
            raise ConfigError(f"CALMESH_CONFIG={path}: cannot read ({exc.strerror})") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"CALMESH_CONFIG={path}: not valid TOML ({exc})") from exc
        for dotted, value in _flatten(doc, path).items():
            values[dotted] = _coerce(_BY_DOTTED[dotted], value, path)

    for key in SCHEMA:
        if key.env in environ:
            values[key.dotted] = _coerce(key, environ[key.env], key.env)
        file_var = key.env + "_FILE"
        if key.secret and file_var in environ:
            try:
                text = Path(environ[file_var]).read_text().strip()
            except OSError as exc:
                raise ConfigError(f"{file_var}: cannot read ({exc.strerror})") from exc
            values[key.dotted] = _coerce(key, text, file_var) if key.type is list else text

    for dotted, value in (overrides or {}).items():
        if dotted not in _BY_DOTTED:
            raise ConfigError(f"override: unknown key {dotted}")
        values[dotted] = _coerce(_BY_DOTTED[dotted], value, "override")

    if values["logging.level"].upper() not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise ConfigError(
            "logging.level: expected DEBUG, INFO, WARNING or ERROR, "
            f"got {values['logging.level']!r}"
        )
    if values["mail.security"] not in {"starttls", "ssl", "none"}:
        raise ConfigError(
            f"mail.security: expected starttls, ssl or none, got {values['mail.security']!r}"
        )
    for dotted in (
        "server.port",
        "server.workers",
        "api.rate_limit_per_minute",
        "outbox.retry_hours",
        "outbox.max_backoff_seconds",
        "outbox.concurrency",
        "sync.concurrency",
        "security.login_max_failures",
        "security.login_max_failures_per_address",
    ):
        if values[dotted] < 1:
            raise ConfigError(f"{dotted}: must be at least 1, got {values[dotted]}")
    return Config(values)


def _toml_value(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(part) for part in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value:_}" if value >= 10_000 else str(value)
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def example_toml() -> str:
    """The text of ``config.example.toml``: every key, its default and meaning."""
    lines = [
        "# CalMesh configuration. Every key with its default; delete what you do not change.",
        "# Found through CALMESH_CONFIG=/path/to/config.toml. Each key can also be set by",
        "# environment: CALMESH_<SECTION>_<KEY> (top-level keys: CALMESH_<KEY>), and secrets",
        "# by CALMESH_<SECTION>_<KEY>_FILE naming a file that holds the value.",
    ]
    section = None
    for key in SCHEMA:
        if key.section != section:
            section = key.section
            lines.append("")
            if section:
                lines.append(f"[{section}]")
        lines.append(f"# {key.help}" + (" (secret: also *_FILE)" if key.secret else ""))
        lines.append(f"{key.name} = {_toml_value(key.default)}")
    return "\n".join(lines) + "\n"
