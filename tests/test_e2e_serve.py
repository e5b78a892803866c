"""End to end against the real server: ``python -m calmesh serve`` with several
gunicorn workers (and ``python app.py``, ``gunicorn app:app``), spoken to over HTTP.

What only a multi-process server shows lives here: the scheduler elected in
exactly one worker and handed on when that worker dies, the rate limit shared by
all workers, errors that stay JSON once gunicorn is in front, and the CLI a
newcomer types.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.conftest import (
    ROOT,
    LiveServer,
    free_port,
    run_cli,
    server_env,
    start_server,
    stop_server,
    wait_until,
)

pytestmark = pytest.mark.slow

OWNER = {"handle": "newcomer", "email": "newcomer@example.org", "password": "newcomer-pass-123"}
SCHEDULER_STARTED = "scheduler started in this worker"


def _create_owner(server: LiveServer) -> None:
    done = server.cli(
        "create-user",
        "--email",
        OWNER["email"],
        "--handle",
        OWNER["handle"],
        "--password",
        OWNER["password"],
    )
    assert done.returncode == 0 or "already taken" in done.stderr, done.stderr


def _new_key(server: LiveServer, scope: str) -> str:
    done = server.cli("create-api-key", "--user", OWNER["handle"], "--scope", scope)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


_READ_KEYS: dict[str, str] = {}


def _health(server: LiveServer) -> httpx.Response:
    """``/api/health`` as a key sees it: the public answer hides the scheduler's
    host and pid. Creates the owner and a read key on first use."""
    if server.url not in _READ_KEYS:
        _create_owner(server)
        _READ_KEYS[server.url] = _new_key(server, "read")
    auth = {"Authorization": f"Bearer {_READ_KEYS[server.url]}"}
    return httpx.get(server.url + "/api/health", headers=auth)


def _heartbeat(server: LiveServer) -> dict:
    return _health(server).json()["scheduler"]


def _holder_pid(server: LiveServer) -> int | None:
    """The process holding the host's scheduler lock, as the kernel says (the
    public health answer names no host or pid)."""
    try:
        lock = os.stat(Path(server.env["CALMESH_DATA_DIR"]) / "scheduler.lock")
    except FileNotFoundError:
        return None
    file_id = f"{os.major(lock.st_dev):02x}:{os.minor(lock.st_dev):02x}:{lock.st_ino}"
    lockers = [
        int(fields[4])
        for fields in map(str.split, Path("/proc/locks").read_text().splitlines())
        if fields[5] == file_id and fields[1] == "FLOCK"
    ]
    assert len(lockers) <= 1, lockers
    return lockers[0] if lockers else None


def _beats_after(server: LiveServer, event: str | None) -> bool:
    """This host's scheduler beat after ``event`` (a last_heartbeat seen before)."""
    beat = _heartbeat(server)
    return beat["ok"] and beat["last_heartbeat"] is not None and beat["last_heartbeat"] != event


def _worker_pids(server: LiveServer) -> set[int]:
    """The gunicorn workers: the living children of the master process."""
    workers = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # pid (comm) state ppid ...; comm may hold spaces, so split after it.
            after_comm = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the process ended while we looked
        if int(after_comm[1]) == server.process.pid and after_comm[0] != "Z":
            workers.add(int(stat.parent.name))
    return workers


def _assert_no_traceback(*responses: httpx.Response) -> None:
    for response in responses:
        assert "Traceback" not in response.text
        assert 'File "' not in response.text


# --- the CLI a newcomer uses --------------------------------------------------------


def test_cli_created_read_key_reads_me_but_cannot_manage_keys(live_server):
    created = live_server.cli("create-user", "--email", OWNER["email"], "--handle", OWNER["handle"])
    assert created.returncode == 0, created.stderr
    assert f"Created user {OWNER['handle']}" in created.stdout
    assert re.search(r"^Generated password: \S{10,}$", created.stdout, re.M)

    issued = live_server.cli("create-api-key", "--user", OWNER["handle"], "--scope", "read")
    assert issued.returncode == 0, issued.stderr
    key = issued.stdout.strip().splitlines()[-1]
    assert key.startswith("cm_live_") and len(key) > 40

    auth = {"Authorization": f"Bearer {key}"}
    me = httpx.get(live_server.url + "/api/v1/me", headers=auth)
    assert me.status_code == 200
    assert me.json()["handle"] == OWNER["handle"]
    assert me.json()["scope"] == "read"
    assert me.json()["auth"] == "api_key"

    refused = httpx.post(live_server.url + "/api/v1/api-keys", headers=auth, json={"scope": "read"})
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/json"
    assert refused.json()["error"]["code"] == "forbidden"
    listing = httpx.get(live_server.url + "/api/v1/api-keys", headers=auth)
    assert listing.status_code == 403 and listing.json()["error"]["code"] == "forbidden"


def test_unknown_or_garbled_key_is_refused_with_401(live_server):
    for header in ("Bearer cm_live_not-a-real-key", "Basic abc", "Bearer", "Bearer sk_other"):
        answer = httpx.get(live_server.url + "/api/v1/me", headers={"Authorization": header})
        assert answer.status_code == 401, header
        assert answer.json()["error"]["code"] == "unauthorized"


# --- health and the scheduler -------------------------------------------------------------


def test_health_reports_database_and_scheduler_running_in_exactly_one_worker(live_server):
    wait_until(lambda: len(_worker_pids(live_server)) == 3, what="three gunicorn workers")
    workers = _worker_pids(live_server)

    holders, beats = set(), set()

    def three_beats_seen() -> bool:
        health = _health(live_server)
        assert health.status_code == 200
        body = health.json()
        assert body["status"] == "ok"
        assert body["database"] == {"ok": True, "error": None, "write_error": None}
        assert body["scheduler"]["ok"] is True
        holders.add(_holder_pid(live_server))
        beats.add(body["scheduler"]["last_heartbeat"])
        return len(beats) >= 3

    # The owner and the read key come from two CLI runs: made before the timed
    # wait, whose 15 s are for heartbeats (each CLI run alone takes seconds when
    # the machine is busy).
    _health(live_server)
    # Heartbeats come every second (server_env); three distinct ones span ~2 s.
    wait_until(three_beats_seen, timeout=15, interval=0.2, what="three heartbeats")
    assert len(holders) == 1, holders
    holder_pid = next(iter(holders))
    assert holder_pid in workers, "the scheduler runs in a worker, not in the master"
    assert live_server.log().count(SCHEDULER_STARTED) == 1, live_server.log()

    # The kernel agrees: exactly one process holds the flock on the lock file.
    lock = os.stat(Path(live_server.env["CALMESH_DATA_DIR"]) / "scheduler.lock")
    file_id = f"{os.major(lock.st_dev):02x}:{os.minor(lock.st_dev):02x}:{lock.st_ino}"
    lockers = [
        (fields[1], int(fields[4]))
        for fields in map(str.split, Path("/proc/locks").read_text().splitlines())
        if fields[5] == file_id
    ]
    assert lockers == [("FLOCK", holder_pid)]


def test_killing_the_scheduler_worker_hands_the_scheduler_to_its_replacement(tmp_path):
    server = start_server(tmp_path, workers=3)
    try:
        # Every worker has tried the lock once it has warned about the missing account
        # (the next statement); one more heartbeat leaves no doubt.
        wait_until(lambda: server.log().count("No account yet") == 3, what="three workers up")
        before = _worker_pids(server)
        beat = _heartbeat(server)
        wait_until(lambda: _heartbeat(server) != beat, what="the next heartbeat")
        victim = _holder_pid(server)
        assert victim in before

        os.kill(victim, signal.SIGKILL)

        new_holder = wait_until(
            lambda: (pid := _holder_pid(server)) != victim and pid,
            timeout=30,
            what="a new scheduler holder",
        )
        after = _worker_pids(server)
        assert victim not in after
        assert new_holder in after, "a living worker (a survivor or the replacement) took it"
        assert server.log().count(SCHEDULER_STARTED) == 2
        health = httpx.get(server.url + "/api/health").json()
        assert health["status"] == "ok" and health["scheduler"]["ok"] is True
    finally:
        stop_server(server)


def test_after_reloads_and_a_killed_holder_this_host_runs_a_scheduler_again(tmp_path):
    """SIGHUP replaces every worker while the old holder still has the lock; the
    new workers keep trying, so a scheduler runs again each time."""
    server = start_server(tmp_path, workers=2)
    try:
        wait_until(lambda: _holder_pid(server), what="a scheduler")
        for _ in range(3):
            before = _worker_pids(server)
            beat = _heartbeat(server)["last_heartbeat"]
            os.kill(server.process.pid, signal.SIGHUP)
            wait_until(
                lambda before=before: (
                    _worker_pids(server).isdisjoint(before) and len(_worker_pids(server)) == 2
                ),
                timeout=60,
                what="the reload to replace every worker",
            )
            wait_until(
                lambda: _holder_pid(server) in _worker_pids(server),
                timeout=60,
                what="a new worker to take the scheduler lock",
            )
            wait_until(lambda beat=beat: _beats_after(server, beat), timeout=60, what="a beat")

        victim = _holder_pid(server)
        beat = _heartbeat(server)["last_heartbeat"]
        os.kill(victim, signal.SIGKILL)
        wait_until(
            lambda: (
                (pid := _holder_pid(server)) not in (None, victim) and pid in _worker_pids(server)
            ),
            timeout=60,
            what="another worker to take the scheduler over",
        )
        wait_until(lambda: _beats_after(server, beat), timeout=60, what="a heartbeat")
    finally:
        stop_server(server)


def test_after_kill_9_of_the_master_a_restarted_serve_runs_a_scheduler(tmp_path):
    """The killed master's workers linger until they notice; the new serve's
    workers take the lock as soon as the orphan holding it is gone."""
    first = start_server(tmp_path, workers=2)
    orphans = _worker_pids(first)
    try:
        wait_until(lambda: _holder_pid(first), what="a scheduler")
        os.kill(first.process.pid, signal.SIGKILL)
        first.process.wait()
        port = free_port()
        log = open(tmp_path / "second.log", "w")  # noqa: SIM115 - closed with the server
        second_process = subprocess.Popen(
            [sys.executable, "-m", "calmesh", "serve", "--port", str(port), "--workers", "2"],
            cwd=ROOT,
            env=first.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        second = LiveServer(
            f"http://127.0.0.1:{port}", first.env, second_process, tmp_path / "second.log", log
        )
        try:
            wait_until(
                lambda: _holder_pid(second) in _worker_pids(second),
                timeout=90,
                what="a worker of the new serve to hold the scheduler lock",
            )
            beat = _heartbeat(second)["last_heartbeat"]
            wait_until(lambda: _beats_after(second, beat), timeout=60, what="a heartbeat")
        finally:
            stop_server(second)
    finally:
        for pid in orphans:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if first.log_file is not None:
            first.log_file.close()


# --- the rate limit, shared by every worker -------------------------------------------------


def test_rate_limit_is_counted_across_all_workers(tmp_path):
    server = start_server(tmp_path, workers=3, CALMESH_API_RATE_LIMIT_PER_MINUTE="20")
    try:
        _create_owner(server)
        key = _new_key(server, "read")
        # The window is a fixed calendar minute: fire well inside one.
        wait_until(lambda: time.time() % 60 < 50, timeout=15, what="the start of a minute")
        start = threading.Barrier(40)

        def call(_: int) -> httpx.Response:
            with httpx.Client(timeout=30) as client:
                start.wait()
                return client.get(
                    server.url + "/api/v1/me", headers={"Authorization": f"Bearer {key}"}
                )

        with ThreadPoolExecutor(max_workers=40) as pool:
            answers = list(pool.map(call, range(40)))

        ok = [a for a in answers if a.status_code == 200]
        limited = [a for a in answers if a.status_code == 429]
        assert (len(ok), len(limited)) == (20, 20), sorted(a.status_code for a in answers)
        # Every allowed request got its own count: the remaining budgets are 19..0.
        assert sorted(int(a.headers["X-RateLimit-Remaining"]) for a in ok) == list(range(20))
        now = int(time.time())
        for answer in ok + limited:
            assert answer.headers["X-RateLimit-Limit"] == "20"
            reset = int(answer.headers["X-RateLimit-Reset"])
            assert reset % 60 == 0 and now - 5 <= reset <= now + 60
        for answer in limited:
            assert answer.headers["X-RateLimit-Remaining"] == "0"
            assert 1 <= int(answer.headers["Retry-After"]) <= 60
            assert answer.json()["error"]["code"] == "rate_limited"
    finally:
        stop_server(server)


# --- errors stay JSON behind gunicorn ---------------------------------------------------


def test_api_errors_are_json_without_tracebacks(live_server, web_login):
    done = live_server.cli(
        "create-user",
        "--email",
        "erin@example.org",
        "--handle",
        "erin",
        "--password",
        "erin-pass-123",
    )
    assert done.returncode == 0, done.stderr
    url = live_server.url
    unknown = httpx.get(url + "/api/v1/no-such-thing")
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "not_found"

    wrong_method = httpx.put(url + "/api/v1/me")
    assert wrong_method.status_code == 405
    assert wrong_method.json()["error"]["code"] == "method_not_allowed"
    assert "GET" in wrong_method.headers["Allow"]

    session = web_login(live_server, "erin", "erin-pass-123")
    malformed = session.post(
        "/api/v1/api-keys",
        content=b'{"scope": "read",',
        headers={"Content-Type": "application/json"},
    )
    assert malformed.status_code == 400
    assert malformed.json()["error"]["code"] == "invalid_json"

    too_big = session.post(
        "/api/v1/api-keys",
        content=b"[" + b"0," * 600_000 + b"0]",  # 1.2 MB, over the 1 MiB default
        headers={"Content-Type": "application/json"},
    )
    assert too_big.status_code == 413
    assert too_big.json()["error"]["code"] == "payload_too_large"

    answers = (unknown, wrong_method, malformed, too_big)
    for answer in answers:
        assert answer.headers["content-type"] == "application/json"
        assert answer.headers["Cache-Control"] == "no-store"
    _assert_no_traceback(*answers)
    assert "unhandled error on" not in live_server.log()  # each was an expected refusal


# --- the other ways to start it ------------------------------------------------------------


def _spawn(tmp_path: Path, command: list[str], port: int) -> LiveServer:
    env = server_env(tmp_path)
    log_path = tmp_path / "server.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = LiveServer(f"http://127.0.0.1:{port}", env, process, log_path)
    try:
        wait_until(
            lambda: (
                process.poll() is None
                and httpx.get(server.url + "/api/health").json()["scheduler"]["ok"]
            ),
            what=f"{command[1]} to answer",
        )
    except AssertionError:
        stop_server(server)
        raise AssertionError(f"{command} did not start:\n{server.log()}") from None
    return server


@pytest.mark.parametrize("how", ["python app.py", "gunicorn app:app"])
def test_app_py_and_gunicorn_app_serve_the_app_with_its_scheduler(tmp_path, how):
    port = free_port()
    if how == "python app.py":
        command = [sys.executable, "app.py", "--port", str(port)]
    else:
        gunicorn = str(Path(sys.executable).parent / "gunicorn")
        command = [gunicorn, "-b", f"127.0.0.1:{port}", "-w", "2", "app:app"]
    server = _spawn(tmp_path, command, port)
    try:
        health = httpx.get(server.url + "/api/health")
        assert health.status_code == 200
        assert health.json()["status"] == "ok"
        assert health.json()["database"]["ok"] is True
        assert httpx.get(server.url + "/", follow_redirects=True).url.path == "/setup"
        wait_until(lambda: len(_worker_pids(server)) == 2, what="two workers")
        wait_until(lambda: _holder_pid(server) in _worker_pids(server), what="the scheduler")
        assert server.log().count(SCHEDULER_STARTED) == 1
    finally:
        stop_server(server)
    assert server.process.returncode is not None


# --- bad CLI input --------------------------------------------------------------------


BAD_INPUT = {
    "unknown scope": (
        ["create-api-key", "--user", "newcomer", "--scope", "admin"],
        "invalid choice: 'admin'",
    ),
    "unknown user": (
        ["create-api-key", "--user", "nobody", "--scope", "read"],
        "no user with handle 'nobody'",
    ),
    "invalid email": (
        ["create-user", "--email", "not-an-address", "--handle", "x1"],
        "email: must be an e-mail address",
    ),
    "bad timezone": (
        ["create-user", "--email", "tz@example.org", "--handle", "tz", "--timezone", "Mars/Base"],
        "unknown time zone 'Mars/Base'",
    ),
    "short password": (
        ["create-user", "--email", "pw@example.org", "--handle", "pw", "--password", "short"],
        "password: must be at least 10 characters",
    ),
    "taken handle": (
        ["create-user", "--email", "other@example.org", "--handle", "newcomer"],
        "handle is already taken",
    ),
    "port out of range": (["serve", "--port", "70000"], "expected 1-65535, got 70000"),
    "port not a number": (["serve", "--port", "http"], "expected a whole number"),
    "no workers": (["serve", "--workers", "0"], "--workers"),
}


@pytest.fixture(scope="module")
def cli_env(tmp_path_factory):
    """A database with one user, for the CLI's refusals."""
    env = server_env(tmp_path_factory.mktemp("cli"))
    done = run_cli("create-user", "--email", OWNER["email"], "--handle", OWNER["handle"], env=env)
    assert done.returncode == 0, done.stderr
    return env


@pytest.mark.parametrize("args,message", BAD_INPUT.values(), ids=BAD_INPUT.keys())
def test_bad_cli_input_exits_nonzero_with_one_error_line(cli_env, args, message):
    done = run_cli(*args, env=cli_env)
    assert done.returncode == 2
    assert done.stdout == ""
    assert "Traceback" not in done.stderr
    error_lines = [line for line in done.stderr.splitlines() if "error:" in line]
    assert len(error_lines) == 1, done.stderr
    assert done.stderr.strip().splitlines()[-1] == error_lines[0]
    assert message in error_lines[0]


def test_bad_configuration_in_the_environment_is_one_error_line(cli_env):
    done = run_cli("init", env={**cli_env, "CALMESH_SERVER_PORT": "eighty"})
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "error: server.port (CALMESH_SERVER_PORT): expected int, got 'eighty'"
    )


# --- the data folder -------------------------------------------------------------------


def test_first_start_creates_a_data_folder_that_does_not_exist_yet(tmp_path):
    """With a configured key and a database elsewhere nothing else creates the
    folder; every worker needs it at once (the scheduler lock)."""
    data = tmp_path / "not" / "there" / "yet"
    server = start_server(
        tmp_path,
        workers=3,
        CALMESH_DATA_DIR=str(data),
        CALMESH_SECURITY_SECRET_KEY="a-configured-secret-key-of-enough-length",
    )
    try:
        wait_until(lambda: _heartbeat(server)["ok"], what="the scheduler")
        assert (data / "scheduler.lock").exists()
        assert "Worker failed to boot" not in server.log()
        assert "Traceback" not in server.log()
    finally:
        stop_server(server)


def test_a_read_only_data_folder_stops_the_start_with_one_line_naming_it(tmp_path):
    import tempfile

    # Outside pytest's private tmp folder, so that an unprivileged user can reach it.
    base = Path(tempfile.mkdtemp(prefix="calmesh-ro-"))
    try:
        base.chmod(0o755)
        data = base / "data"
        data.mkdir(mode=0o555)
        data.chmod(0o555)
        env = server_env(tmp_path, CALMESH_DATA_DIR=str(data))
        env["CALMESH_DATABASE_URL"] = f"sqlite:///{data}/calmesh.db"
        command = [sys.executable, "-m", "calmesh", "init"]
        if os.geteuid() == 0:  # root writes anywhere: run it as an ordinary user
            command = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *command]
        done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
        assert done.returncode == 2, done.stderr
        assert done.stderr.count("\n") == 1, done.stderr
        assert done.stderr.startswith(f"error: data_dir {data} is not writable"), done.stderr
    finally:
        data.chmod(0o755)
        import shutil

        shutil.rmtree(base)


# --- what gunicorn answers itself, and stopping --------------------------------------------


def test_an_over_long_request_line_is_the_documented_json_414(live_server):
    answer = httpx.get(live_server.url + "/api/v1/me", params={"q": "x" * 5000})
    assert answer.status_code == 414
    assert answer.headers["content-type"] == "application/json"
    assert answer.json()["error"]["code"] == "uri_too_long"
    document = httpx.get(live_server.url + "/api/v1/openapi.json").json()
    assert "414" in document["paths"]["/api/v1/me"]["get"]["responses"]


def test_sigterm_serves_the_connections_already_waiting_then_stops(tmp_path):
    import socket

    server = start_server(tmp_path, workers=1)
    host, port = server.url.removeprefix("http://").split(":")
    request = b"GET /api/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"

    def read_all(conn: socket.socket) -> bytes:
        conn.settimeout(60)
        data = b""
        while chunk := conn.recv(65536):
            data += chunk
        return data

    try:
        # The only worker is busy with a request that is still arriving ...
        busy = socket.create_connection((host, int(port)))
        busy.sendall(request)
        time.sleep(0.5)  # lets the worker take it (not an assertion)
        # ... while four more wait, complete, in the listening socket's queue.
        waiting = [socket.create_connection((host, int(port))) for _ in range(4)]
        for conn in waiting:
            conn.sendall(request + b"\r\n")
        os.kill(server.process.pid, signal.SIGTERM)
        time.sleep(0.5)
        busy.sendall(b"\r\n")

        answers = [read_all(conn) for conn in [busy, *waiting]]
        for conn in [busy, *waiting]:
            conn.close()
        assert all(a.startswith(b"HTTP/1.1 200") for a in answers), [a[:40] for a in answers]
        assert server.process.wait(timeout=60) == 0
        with pytest.raises(OSError):
            socket.create_connection((host, int(port)), timeout=5)
        assert "served 4 waiting connection(s) before stopping" in server.log()
    finally:
        stop_server(server)
