"""The single binary, built once with ``scripts/build-binary.sh`` and run as a
self-hoster runs it: from another folder, on a fresh data folder, with none of
this repository's Python on its environment.

The build takes a minute or two, so it is made once per source state: cached
in ``build/binary-<hash of the sources>/``, which the SQLite and PostgreSQL
runs of the suite share. Without PyInstaller the tests skip (and fail under
``CI=true``).
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.util
import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from html import unescape
from pathlib import Path

import httpx
import pytest
from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

from tests.conftest import (
    ROOT,
    free_port,
    fresh_database_url,
    require,
    wait_until,
)
from tests.mcp.test_tools import TOOLS

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]

# What goes into the binary: a change to any of these means a new build.
SOURCES = ("calmesh", "requirements.txt", "pyproject.toml", "scripts/build-binary.sh")
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


def source_hash() -> str:
    digest = hashlib.sha256()
    for top in SOURCES:
        path = ROOT / top
        files = sorted(path.rglob("*")) if path.is_dir() else [path]
        for file in files:
            if file.is_file() and "__pycache__" not in file.parts:
                digest.update(str(file.relative_to(ROOT)).encode() + b"\0")
                digest.update(file.read_bytes())
    return digest.hexdigest()[:16]


@pytest.fixture(scope="session")
def binary() -> Path:
    """The built file; built here unless this source state was built before."""
    require(
        importlib.util.find_spec("PyInstaller") is not None,
        "PyInstaller is not installed (pip install -r requirements-dev.txt)",
    )
    folder = ROOT / "build" / f"binary-{source_hash()}"
    target = folder / "calmesh"
    folder.parent.mkdir(exist_ok=True)
    with open(folder.parent / "binary.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another run of the suite may be building it
        if not target.exists():
            done = subprocess.run(
                ["bash", str(ROOT / "scripts" / "build-binary.sh"), str(folder)],
                env={**os.environ, "PYTHON": sys.executable},
                capture_output=True,
                text=True,
                timeout=1200,
            )
            assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
            for old in folder.parent.glob("binary-*"):
                if old != folder:  # builds of earlier sources: 50 MB each
                    shutil.rmtree(old, ignore_errors=True)
    return target


def plain_env(home: Path, **extra: str) -> dict[str, str]:
    """What a VPS service has: a PATH without any virtualenv, a home, our settings."""
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(home), **extra}


@dataclass
class Instance:
    binary: Path
    url: str
    env: dict[str, str]
    cwd: Path
    process: subprocess.Popen
    log_path: Path

    def run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(self.binary), *args],
            cwd=self.cwd,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@pytest.fixture(scope="module")
def instance(binary, tmp_path_factory) -> Iterator[Instance]:
    """``./calmesh serve`` with two workers on a fresh data folder, started elsewhere."""
    home = tmp_path_factory.mktemp("binary")
    (home / "elsewhere").mkdir()
    port = free_port()
    env = plain_env(
        home,
        CALMESH_DATA_DIR=str(home / "data"),
        CALMESH_DATABASE_URL=fresh_database_url(home),
        CALMESH_SCHEDULER_HEARTBEAT_SECONDS="1",
    )
    log_path = home / "serve.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [str(binary), "serve", "--port", str(port), "--workers", "2"],
            cwd=home / "elsewhere",
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    served = Instance(
        binary, f"http://127.0.0.1:{port}", env, home / "elsewhere", process, log_path
    )
    try:
        wait_until(
            lambda: (
                process.poll() is None and httpx.get(served.url + "/api/health").status_code == 200
            ),
            timeout=90,
            what="the binary to serve",
        )
        yield served
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def test_the_checksum_file_verifies_the_binary(binary):
    done = subprocess.run(
        ["sha256sum", "--check", "calmesh.sha256"],
        cwd=binary.parent,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0 and done.stdout.strip() == "calmesh: OK", done.stdout


def test_first_start_serves_with_workers_and_the_scheduler(instance):
    wait_until(
        lambda: httpx.get(instance.url + "/api/health").json()["status"] == "ok",
        what="the scheduler's first heartbeat",
    )
    log = instance.log()
    assert log.count("Booting worker") == 2, log
    assert "scheduler started in this worker" in log
    token = re.search(r"/setup\?token=([0-9a-f]+)", log)
    assert token, log  # first start: the way in is printed
    setup = httpx.get(instance.url + "/setup", params={"token": token.group(1)})
    assert setup.status_code == 200 and "<form" in setup.text  # templates are in the binary
    css = httpx.get(instance.url + "/static/app.css")
    assert css.status_code == 200 and len(css.content) == len(
        (ROOT / "calmesh/static/app.css").read_bytes()
    )


def test_the_fresh_database_knows_every_migration(instance):
    from calmesh import db

    database = db.make_database(instance.env["CALMESH_DATABASE_URL"])
    with database.connection_context(), db.SchemaVersion.bind_ctx(database):
        stamped = {row.name for row in db.SchemaVersion.select()}
    database.close()
    # Found by listing the package inside the binary: a missed one would run again later.
    assert stamped == {name for name, _ in db.discover_migrations()}


def test_the_commands_work(instance):
    done = instance.run("init")
    assert done.returncode == 0 and "up to date" in done.stdout, done.stdout + done.stderr
    done = instance.run(
        "create-user", "--email=owner@example.org", "--handle=owner", "--password=owner-pass-12"
    )
    assert done.returncode == 0, done.stderr
    done = instance.run("create-api-key", "--user=owner", "--scope=full")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1].startswith("cm_live_")
    done = instance.run("config-example")
    assert done.stdout == (ROOT / "config.example.toml").read_text()
    done = instance.run("sync")
    assert done.returncode == 0 and "No connections yet." in done.stdout, done.stderr
    done = instance.run("check")
    assert done.returncode == 0, done.stdout + done.stderr
    done = instance.run("create-user", "--email=x", "--handle=x")
    assert done.returncode == 2 and done.stderr.startswith("error: "), done.stderr
    assert "Traceback" not in done.stderr


def test_the_worker_command_runs_the_scheduler(instance):
    from calmesh import db
    from calmesh.models import Heartbeat

    worker = subprocess.Popen(
        [str(instance.binary), "worker"],
        cwd=instance.cwd,
        env=instance.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    database = db.make_database(instance.env["CALMESH_DATABASE_URL"])

    def holders() -> set[str]:
        with database.connection_context(), Heartbeat.bind_ctx(database):
            return {row.holder for row in Heartbeat.select()}

    try:
        # The frozen bootloader starts the app as its child: look for a new holder.
        before = holders()
        wait_until(lambda: holders() - before, timeout=60, what="the worker's heartbeat")
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=30)
        database.close()


def test_a_visitor_books_on_a_page(instance):
    key = instance.run("create-api-key", "--user=owner", "--scope=full").stdout.split()[-1]
    api = httpx.Client(base_url=instance.url, headers={"Authorization": f"Bearer {key}"})
    calendar = {"slug": "work", "name": "Work", "timezone": "Europe/Berlin"}
    assert api.post("/api/v1/calendars", json=calendar).status_code == 201
    page = {
        "slug": "intro",
        "title": "Intro call",
        "calendar": "work",
        "timezone": "Europe/Berlin",
        "duration": 30,
        "min_notice": 0,
    }
    made = api.post("/api/v1/booking-pages", json=page)
    assert made.status_code == 201, made.text
    days = api.get("/api/v1/booking-pages/intro/slots", params={"tz": "UTC"}).json()["dates"]
    start = next(iter(days.values()))[0]["start"]

    with httpx.Client(base_url=instance.url, timeout=30) as visitor:
        html = visitor.get("/owner/intro").text
        assert "Intro call" in html
        form = visitor.get("/owner/intro", params={"start": start, "tz": "UTC"}).text
        answer = visitor.post(
            "/owner/intro",
            data={
                "csrf_token": CSRF_FIELD.search(form).group(1),
                "attempt": re.search(r'name="attempt" value="([^"]+)"', form).group(1),
                "tz": "UTC",
                "start": start,
                "name": "Vera Visitor",
                "email": "vera@example.org",
            },
        )
        assert answer.status_code == 303, answer.text[-2000:]
        confirmed = visitor.get(unescape(answer.headers["Location"]))
        assert "You are booked" in confirmed.text
        # The translations and Babel's locale data are inside the binary.
        german = visitor.get("/owner/intro", headers={"Accept-Language": "de"}).text
        assert '<html lang="de">' in german and "Zeitzone" in german
    listed = api.get("/api/v1/bookings").json()["data"]
    assert [b["start"] for b in listed] == [start]


def test_mcp_stdio_server_lists_its_tools(instance, tmp_path):
    import anyio

    key = instance.run("create-api-key", "--user=owner", "--scope=read").stdout.split()[-1]
    params = StdioServerParameters(
        command=str(instance.binary),
        args=["mcp"],
        env={"CALMESH_URL": instance.url, "CALMESH_API_KEY": key},
        cwd=tmp_path,
    )

    async def session() -> tuple[set[str], bool]:
        with open(tmp_path / "mcp.log", "w") as errlog:
            async with (
                stdio_client(params, errlog=errlog) as (read, write),
                ClientSession(read, write) as client,
            ):
                await client.initialize()
                tools = {tool.name for tool in (await client.list_tools()).tools}
                pages = await client.call_tool("calmesh_list_booking_pages", {})
                return tools, pages.is_error

    tools, failed = anyio.run(session)
    assert tools >= set().union(*TOOLS.values())
    assert not failed  # and it reached the instance through the REST API


def test_a_backup_made_by_the_binary(instance, tmp_path):
    if instance.env["CALMESH_DATABASE_URL"].startswith("postgresql"):
        from calmesh.ops.backup import _pg_tool

        require(_pg_tool("pg_dump") is not None, "pg_dump is not installed")
    done = instance.run("backup", str(tmp_path / "backup.tar.gz"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "secret_key" in done.stdout
