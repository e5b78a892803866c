"""The single binary's figures for the README: its size, the cold start of
``serve`` on a fresh data folder to the first 200 on /api/health, and the memory
of that idle serve with 2 workers (RSS summed over its processes, and PSS).

    python3 scripts/measure-binary.py dist/calmesh [RUNS]

Also works on ``.venv/bin/calmesh`` for a comparison. Run it on a quiet machine.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

IDLE_SECONDS = 15


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def process_tree(root: int) -> list[int]:
    parents = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        parents.append((int(stat.parent.name), int(fields[1])))
    tree, grown = {root}, True
    while grown:
        grown = False
        for pid, ppid in parents:
            if ppid in tree and pid not in tree:
                tree.add(pid)
                grown = True
    return sorted(tree)


def memory_kib(pid: int) -> tuple[int, int]:
    """(RSS, PSS) of one process in KiB, from /proc/PID/smaps_rollup."""
    text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    rss, pss = (int(re.search(rf"^{k}:\s+(\d+)", text, re.M).group(1)) for k in ("Rss", "Pss"))
    return rss, pss


def one_run(binary: str) -> tuple[float, int, int, int]:
    folder = tempfile.mkdtemp(prefix="calmesh-measure-")
    port = free_port()
    env = {"PATH": "/usr/bin:/bin", "HOME": folder, "CALMESH_DATA_DIR": f"{folder}/data"}
    started = time.monotonic()
    process = subprocess.Popen(  # noqa: S603 - the binary under measurement
        [binary, "serve", "--port", str(port), "--workers", "2"],
        cwd=folder,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.02)
        cold = time.monotonic() - started
        time.sleep(IDLE_SECONDS)
        tree = process_tree(process.pid)
        rss, pss = (sum(values) for values in zip(*(memory_kib(p) for p in tree), strict=True))
        return cold, rss, pss, len(tree)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait()
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    binary = str(Path(sys.argv[1]).resolve())
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    print(f"size: {Path(binary).stat().st_size / 2**20:.1f} MiB")
    results = []
    for n in range(runs):
        cold, rss, pss, count = one_run(binary)
        results.append((cold, rss, pss))
        print(f"run {n + 1}: first 200 after {cold:.2f} s; RSS {rss / 1024:.0f} MiB, "
              f"PSS {pss / 1024:.0f} MiB over {count} processes", flush=True)  # fmt: skip
    cold, rss, pss = (statistics.median(column) for column in zip(*results, strict=True))
    print(f"median: cold start {cold:.2f} s, RSS {rss / 1024:.0f} MiB, PSS {pss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
