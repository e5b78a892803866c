"""Shared benchmark plumbing: a real `serve` on a free port and wrk as the load.

Machines here are noisy, so every benchmark prints ratios against a baseline
measured in the same run (``/api/health``), never a bare absolute as a verdict.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Load:
    rps: float
    p50_ms: float
    p99_ms: float
    non_2xx: int

    def __str__(self) -> str:
        return (
            f"{self.rps:9.1f} req/s  p50 {self.p50_ms:6.2f} ms  "
            f"p99 {self.p99_ms:6.2f} ms  non-2xx {self.non_2xx}"
        )


def _ms(text: str) -> float:
    value, unit = re.match(r"([\d.]+)(\w+)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk(
    url: str,
    seconds: int = 10,
    connections: int = 16,
    threads: int = 2,
    headers: dict | None = None,
    script: str | None = None,
) -> Load:
    if not shutil.which("wrk"):
        sys.exit("wrk is missing: apt-get install wrk (bench/run.sh does it as root)")
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency"]
    for name, value in (headers or {}).items():
        cmd += ["-H", f"{name}: {value}"]
    if script:
        cmd += ["-s", script]
    out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return Load(rps, p50, p99, int(bad.group(1)) if bad else 0)


class Server:
    """``python -m calmesh serve`` in a temporary data folder."""

    def __init__(self, workers: int = 2, **env: str):
        self.tmp = Path(tempfile.mkdtemp(prefix="calmesh-bench-"))
        with socket_port() as port:
            self.port = port
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("CALMESH_")},
            "CALMESH_DATA_DIR": str(self.tmp / "data"),
            "CALMESH_LOGGING_LEVEL": "WARNING",
            "CALMESH_API_RATE_LIMIT_PER_MINUTE": "100000000",
            "CALMESH_SECURITY_ALLOW_PRIVATE_ADDRESSES": "true",
            **env,
        }
        self.workers = workers

    def cli(self, *args: str) -> str:
        return subprocess.run(
            [sys.executable, "-m", "calmesh", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout

    def __enter__(self) -> Server:
        self.cli("init")
        self.proc = start(
            [
                sys.executable,
                "-m",
                "calmesh",
                "serve",
                "--port",
                str(self.port),
                "--workers",
                str(self.workers),
            ],
            {**self.env, "CALMESH_LOGGING_LEVEL": "ERROR"},
            self.url,
            "server",
        )
        return self

    def __exit__(self, *exc: object) -> None:
        stop(self.proc, self.tmp)


def start(command: list[str], env: dict[str, str], url: str, what: str) -> subprocess.Popen:
    """Start ``command`` in its own process group and wait until ``url`` answers
    ``/api/health`` with 200 (30 s at most)."""
    proc = subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/api/health").status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGTERM)
    raise SystemExit(f"{what} did not start")


def stop(proc: subprocess.Popen, tmp: str) -> None:
    """End what :func:`start` started, and remove its data folder."""
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=20)
    shutil.rmtree(tmp, ignore_errors=True)


# wrk script: thread n books slots n, n + T, n + 2T, ... (T threads), once each.
# The Lua table ``slots`` (the ISO starts) is written before it.
WRK_BOOK = """
local threads = 0
function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end
function init(args)
  step = 0
end
request = function()
  local i = tid + step * 2
  step = step + 1
  local slot = slots[(i % #slots) + 1]
  local body = '{"start":"' .. slot .. '","attendee":{"name":"Bench","email":"b@example.net"}}'
  return wrk.format("POST", nil, {["Content-Type"] = "application/json"}, body)
end
"""


class socket_port:
    def __enter__(self) -> int:
        import socket

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        return self.sock.getsockname()[1]

    def __exit__(self, *exc: object) -> None:
        self.sock.close()


def ratio_line(name: str, load: Load, baseline: Load) -> str:
    return f"{name:<28} {load}  ratio {load.rps / baseline.rps:5.2f} x /api/health"
