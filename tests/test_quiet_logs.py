"""A healthy idle instance is quiet: a real serve with two workers and the
scheduler logs its start and then nothing while no one uses it, though its jobs
keep running (heartbeats every second here) and health probes arrive; a real
request is logged. Per-job lines exist at DEBUG."""

from __future__ import annotations

import logging
import time

import httpx
import pytest

from tests.conftest import make_app, start_server, stop_server, wait_until

pytestmark = pytest.mark.slow


def test_an_idle_serve_logs_nothing_after_its_start(tmp_path):
    server = start_server(tmp_path, workers=2)
    try:
        wait_until(
            lambda: (
                server.log().count("Booting worker") == 2
                and "scheduler started in this worker" in server.log()
                and server.log().count("No account yet") == 2
            ),
            what="both workers and the scheduler to start",
        )
        first = httpx.get(server.url + "/api/health").json()["scheduler"]["last_heartbeat"]
        started = server.log()
        time.sleep(3.5)  # at least three heartbeat runs of the scheduler
        idle = server.log()
        # Health probes (Docker's HEALTHCHECK, monitors) are no events either ...
        later = httpx.get(server.url + "/api/health").json()["scheduler"]["last_heartbeat"]
        probed = server.log()
        # ... but a visitor is.
        assert httpx.get(server.url + "/login").status_code in (200, 302)
        wait_until(lambda: '"GET /login' in server.log(), what="the access line of /login")
    finally:
        stop_server(server)
    assert later > first, "the scheduler's jobs did not run"
    assert idle == started, "logged while idle:\n" + idle[len(started) :]
    assert probed == started, "logged a health check:\n" + probed[len(started) :]
    assert "Running job" not in idle and "executed successfully" not in idle
    assert "apscheduler" not in idle  # nor its "Added job" lines at the start


def test_per_job_lines_are_kept_for_debug(tmp_path):
    scheduler_log = logging.getLogger("apscheduler")
    make_app(tmp_path, **{"logging.level": "INFO"})
    assert scheduler_log.level == logging.WARNING  # its warnings still show
    make_app(tmp_path, **{"logging.level": "DEBUG"})
    assert scheduler_log.level == logging.NOTSET  # everything the app's level lets through
