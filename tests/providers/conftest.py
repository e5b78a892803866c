"""Real CalDAV servers for provider tests: Radicale and Xandikos.

Each runs as its own process on a free loopback port, started once per test
session. Radicale checks passwords (htpasswd, without the delay it adds to
failed logins by default); Xandikos has no authentication. Both keep their
data in a temporary folder.

``dav_server`` is parametrised over the two, for tests that must hold on
both. Every server has ``new_calendar()`` for a fresh, empty calendar per
test, ``client()`` for a plain caldav client (another application writing to
the same account) and ``connection()`` for the provider's ConnectionInfo.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import Any

import httpx
import pytest

from calmesh.providers.base import ConnectionInfo, HttpSettings
from tests.conftest import free_port, require, wait_until


@dataclass
class DavServer:
    name: str
    url: str  # the principal URL: what a user gives CalMesh
    username: str
    password: str
    process: subprocess.Popen
    log_path: Path

    def client(self, password: str | None = None) -> Any:
        """A plain caldav client for this account; use it in a ``with`` block."""
        import caldav

        return caldav.get_davclient(
            url=self.url,
            username=self.username or None,
            password=(self.password if password is None else password) or None,
            check_config_file=False,
            environment=False,
            timeout=10,
        )

    def new_calendar(self, name: str = "Test", components: list[str] | None = None) -> str:
        """Create an empty calendar; returns its full URL."""
        with self.client() as client:
            calendar = client.get_principal().make_calendar(
                name=name,
                cal_id=f"test-{uuid.uuid4().hex[:12]}",
                supported_calendar_component_set=components,
            )
            return str(calendar.url)

    def connection(self, kind: str = "caldav", **http: Any) -> ConnectionInfo:
        """What the provider needs for this account; private addresses allowed."""
        credentials = {"username": self.username, "password": self.password}
        return ConnectionInfo(
            kind=kind,
            endpoint=self.url,
            credentials={k: v for k, v in credentials.items() if v},
            http=HttpSettings(**{"allow_private": True, "timeout": 10.0, **http}),
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def _start(name: str, folder: Path, command: list[str], url: str, **account: str) -> DavServer:
    log_path = folder / "server.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", *command],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=folder,
        )
    server = DavServer(name, url, process=process, log_path=log_path, **account)

    def answers() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"{name} exited:\n{server.log()}")
        return httpx.request("OPTIONS", url, timeout=2).status_code < 500

    try:
        wait_until(answers, timeout=30, what=f"{name} to answer")
    except BaseException:
        _stop(server)
        raise
    return server


def _stop(server: DavServer) -> None:
    if server.process.poll() is None:
        server.process.terminate()
        try:
            server.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()


@pytest.fixture(scope="session")
def radicale(tmp_path_factory) -> Iterator[DavServer]:
    """Radicale 3 with htpasswd authentication: alice / alice-secret-pw."""
    require(importlib.util.find_spec("radicale") is not None, "Radicale is not installed")
    folder = tmp_path_factory.mktemp("radicale")
    (folder / "users").write_text("alice:alice-secret-pw\n")
    port = free_port()
    options = {
        "--server-hosts": f"127.0.0.1:{port}",
        "--auth-type": "htpasswd",
        "--auth-htpasswd-filename": str(folder / "users"),
        "--auth-htpasswd-encryption": "plain",
        # Without these a refused login or an error answer waits about a second.
        "--auth-delay": "0",
        "--server-delay-on-error": "0",
        "--storage-filesystem-folder": str(folder / "collections"),
        "--logging-level": "warning",
    }
    server = _start(
        "Radicale",
        folder,
        ["radicale", *chain.from_iterable(options.items())],
        f"http://127.0.0.1:{port}/alice/",
        username="alice",
        password="alice-secret-pw",
    )
    yield server
    _stop(server)


@pytest.fixture(scope="session")
def xandikos(tmp_path_factory) -> Iterator[DavServer]:
    """Xandikos without authentication; one principal, /user/."""
    require(importlib.util.find_spec("xandikos") is not None, "Xandikos is not installed")
    folder = tmp_path_factory.mktemp("xandikos")
    port = free_port()
    options = {
        "--directory": str(folder / "data"),
        "--listen-address": "127.0.0.1",
        "--port": str(port),
        "--current-user-principal": "/user/",
    }
    server = _start(
        "Xandikos",
        folder,
        ["xandikos", "serve", "--defaults", *chain.from_iterable(options.items())],
        f"http://127.0.0.1:{port}/user/",
        username="",
        password="",
    )
    yield server
    _stop(server)


@pytest.fixture(params=["radicale", "xandikos"])
def dav_server(request) -> DavServer:
    """Each test that takes this runs once against Radicale and once against Xandikos."""
    return request.getfixturevalue(request.param)
