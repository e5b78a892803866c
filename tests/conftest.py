"""Fixtures: a fresh app per test, the three users, API clients, live servers.

The suite runs on SQLite by default. With ``CALMESH_TEST_DATABASE_URL`` set
to a PostgreSQL URL (``scripts/test.sh`` starts a throwaway cluster) every
test runs against PostgreSQL instead: each test gets an empty schema, and
each live server its own database.

Three people prove isolation: alice owns things, bob is another owner who
must never see them, and a stranger has no account at all.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

# Fixtures of the local Google/Microsoft stand-ins and the SMTP server.
pytest_plugins = ["tests.standins", "tests.smtp", "tests.netedge"]

ROOT = Path(__file__).resolve().parent.parent
# The calendar corpus (LGPL-3.0 test data, see tests/corpus/README.md).
CORPUS = ROOT / "tests" / "corpus" / "ics"
PG_URL = os.environ.get("CALMESH_TEST_DATABASE_URL", "")
IN_CI = os.environ.get("CI", "").lower() == "true"
CSRF = "test-csrf-token"


def require(condition: bool, why: str) -> None:
    """Skip when a real component is missing on a laptop; fail in CI, where it must be there."""
    if not condition:
        if IN_CI:
            pytest.fail(f"{why} (CI=true: every component must be installed)")
        pytest.skip(why)


# --- databases -----------------------------------------------------------------


def _pg_admin(sql: str) -> None:
    import psycopg2

    conn = psycopg2.connect(PG_URL)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
    finally:
        conn.close()


def fresh_database_url(tmp_path: Path) -> str:
    """An empty database of the engine under test."""
    if not PG_URL:
        return f"sqlite:///{tmp_path / 'calmesh.db'}"
    name = "calmesh_" + secrets.token_hex(6)
    _pg_admin(f"CREATE DATABASE {name}")
    return PG_URL.rsplit("/", 1)[0] + "/" + name


def _reset_pg_schema(database) -> None:
    database.execute_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")


# --- the app ---------------------------------------------------------------------


def make_app(tmp_path: Path, **overrides: Any):
    from calmesh import create_app, db

    settings = {
        "data_dir": str(tmp_path / "data"),
        "database_url": PG_URL or f"sqlite:///{tmp_path / 'data' / 'calmesh.db'}",
        "scheduler.embedded": False,
        "security.allow_private_addresses": True,
        "logging.level": "WARNING",
    }
    settings.update(overrides)
    app = create_app(settings)
    app.testing = True
    if PG_URL and settings["database_url"] == PG_URL:
        with db.db.connection_context():
            _reset_pg_schema(db.db)
    db.migrate()
    return app


@pytest.fixture
def app(tmp_path):
    from calmesh.db import db

    app = make_app(tmp_path)
    with app.app_context():
        db.connect(reuse_if_open=True)
        yield app
        db.close()


def make_user(handle: str, timezone: str = "UTC", **extra: Any):
    from calmesh.services.users import create_user

    return create_user(
        email=f"{handle}@example.org",
        handle=handle,
        password=f"{handle}-password-123",
        name=handle.title(),
        timezone=timezone,
        **extra,
    )


@pytest.fixture
def alice(app):
    return make_user("alice", "Europe/Berlin")


@pytest.fixture
def bob(app):
    return make_user("bob", "America/New_York")


@dataclass
class Api:
    """A test client that calls the REST API as one principal."""

    client: Any
    headers: dict[str, str] = field(default_factory=dict)

    def request(self, method: str, path: str, **kw: Any):
        headers = {**self.headers, **kw.pop("headers", {})}
        return self.client.open(path, method=method, headers=headers, **kw)

    def get(self, path: str, **kw: Any):
        return self.request("GET", path, **kw)

    def post(self, path: str, **kw: Any):
        return self.request("POST", path, **kw)

    def patch(self, path: str, **kw: Any):
        return self.request("PATCH", path, **kw)

    def delete(self, path: str, **kw: Any):
        return self.request("DELETE", path, **kw)


def key_for(user, scope: str) -> str:
    from calmesh.auth import apikeys

    return apikeys.create(user, f"{scope} test key", scope)[1]


@pytest.fixture
def api_as(app):
    """``api_as(alice, "read")``: a client sending a fresh key of that scope."""

    def build(user, scope: str = "full") -> Api:
        return Api(app.test_client(), {"Authorization": f"Bearer {key_for(user, scope)}"})

    return build


def signed_in_client(app, user, remember: bool = False):
    """A test client signed in as ``user`` in a session of its own (calmesh.auth.sessions)."""
    from calmesh.auth import sessions

    client = app.test_client()
    _, token = sessions.create(user, remember=remember, user_agent="test client")
    with client.session_transaction() as session:
        session["_user_id"] = token
        session["_fresh"] = True
        session["csrf"] = CSRF
    return client


@pytest.fixture
def alice_session(app, alice) -> Api:
    """alice signed in through the browser session, sending the CSRF header."""
    return Api(signed_in_client(app, alice), {"X-CSRF-Token": CSRF})


@pytest.fixture
def stranger(app) -> Api:
    return Api(app.test_client())


# --- live servers ----------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LiveServer:
    url: str
    env: dict[str, str]
    process: subprocess.Popen
    log_path: Path
    log_file: Any = None

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        return run_cli(*args, env=self.env)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "calmesh", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def server_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALMESH_")}
    env.update(
        CALMESH_DATA_DIR=str(tmp_path / "data"),
        CALMESH_DATABASE_URL=fresh_database_url(tmp_path),
        CALMESH_SECURITY_ALLOW_PRIVATE_ADDRESSES="true",
        CALMESH_SCHEDULER_HEARTBEAT_SECONDS="1",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


def wait_until(predicate, timeout: float = 30.0, interval: float = 0.1, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            result = predicate()
        except (httpx.HTTPError, OSError):
            result = None
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def start_server(tmp_path: Path, workers: int = 3, **env_extra: str) -> LiveServer:
    port = free_port()
    env = server_env(tmp_path, **env_extra)
    log_path = tmp_path / "server.log"
    log = open(log_path, "w")  # noqa: SIM115 - closed with the process
    process = subprocess.Popen(
        [sys.executable, "-m", "calmesh", "serve", "--port", str(port), "--workers", str(workers)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    server = LiveServer(f"http://127.0.0.1:{port}", env, process, log_path, log)
    try:
        wait_until(
            lambda: (
                process.poll() is None and httpx.get(server.url + "/api/health").status_code == 200
            ),
            what="the server to answer",
        )
    except AssertionError:
        stop_server(server)
        raise AssertionError("server did not start:\n" + server.log()) from None
    return server


def stop_server(server: LiveServer) -> None:
    import signal

    if server.process.poll() is None:
        os.killpg(server.process.pid, signal.SIGTERM)
        try:
            server.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(server.process.pid, signal.SIGKILL)
            server.process.wait()
    if server.log_file is not None:
        server.log_file.close()


@pytest.fixture(scope="module")
def live_server(tmp_path_factory) -> Iterator[LiveServer]:
    """A real ``python -m calmesh serve`` with three workers, shared by a module."""
    server = start_server(tmp_path_factory.mktemp("live"))
    yield server
    stop_server(server)


# --- Chromium ------------------------------------------------------------------------

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture(scope="module")
def browser():
    require(Path(CHROMIUM).exists(), "Chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


# --- signing in over HTTP ------------------------------------------------------------


@pytest.fixture
def web_login() -> Iterator[Any]:
    """``web_login(server, login, password)``: an httpx client signed in through the
    real login form of a live server, sending the session's CSRF token as the header
    the API wants for cookie-authenticated changes."""
    import re

    clients: list[httpx.Client] = []

    def sign_in(server: LiveServer, login: str, password: str) -> httpx.Client:
        client = httpx.Client(base_url=server.url, timeout=30)
        clients.append(client)
        form = client.get("/login")
        found = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert found, f"no CSRF token on /login ({form.status_code})"
        token = found.group(1)
        answer = client.post(
            "/login", data={"login": login, "password": password, "csrf_token": token}
        )
        assert answer.status_code == 302, f"sign-in failed ({answer.status_code})"
        client.headers["X-CSRF-Token"] = token
        return client

    yield sign_in
    for client in clients:
        client.close()


# --- the outbox ----------------------------------------------------------------------


@pytest.fixture
def probe(monkeypatch):
    """An outbox kind ``test.probe`` in the webhooks lane that records each run:
    ``runs`` holds (payload name, started, ended); ``behaviour`` sets how long
    a run sleeps, what it raises, and signals ``started``."""
    import threading

    from calmesh.effects.kinds import KINDS

    runs: list[tuple[str, float, float]] = []
    behaviour: dict[str, Any] = {"sleep": 0.0, "raise": None, "started": threading.Event()}
    lock = threading.Lock()
    given_up: list[tuple[str, str]] = []

    def run(payload: dict, context) -> None:
        started = time.monotonic()
        behaviour["started"].set()
        time.sleep(payload.get("sleep", behaviour["sleep"]))
        with lock:
            runs.append((payload["name"], started, time.monotonic()))
        if behaviour["raise"] is not None:
            raise behaviour["raise"]

    def gave_up(payload: dict, error: str, context) -> None:
        given_up.append((payload["name"], error))

    from types import SimpleNamespace

    kind = SimpleNamespace(KIND="test.probe", LANE="webhooks", deliver=run, gave_up=gave_up)
    monkeypatch.setitem(KINDS, "test.probe", kind)
    behaviour["given_up"] = given_up
    return runs, behaviour


def queue_probe(name: str, key: str = "", **payload):
    """Queue a ``test.probe`` item (see :func:`probe`)."""
    from calmesh.effects import outbox

    return outbox.add(outbox.Item("test.probe", {"name": name, **payload}, ordering_key=key))
