"""Leases and the scheduler: one holder at a time, across threads and processes."""

from __future__ import annotations

import subprocess
import sys
import threading
from datetime import timedelta

from calmesh.jobs import leases, scheduler
from calmesh.models import Heartbeat, Lease
from tests.conftest import ROOT


def test_only_one_claimant_wins_a_free_lease(app):
    assert leases.claim("job:x", timedelta(minutes=1), who="a") is True
    assert leases.claim("job:x", timedelta(minutes=1), who="b") is False
    leases.release("job:x", who="a")
    assert leases.claim("job:x", timedelta(minutes=1), who="b") is True


def test_an_expired_lease_can_be_taken_over(app):
    assert leases.claim("job:y", timedelta(seconds=-1), who="crashed")
    assert leases.claim("job:y", timedelta(minutes=1), who="b")
    assert Lease.get_by_id("job:y").holder == "b"


def test_concurrent_claims_have_exactly_one_winner(app):
    from calmesh.db import db

    results: list[bool] = []
    barrier = threading.Barrier(8)

    def contend(i: int) -> None:
        with app.app_context(), db.connection_context():
            barrier.wait()
            results.append(leases.claim("job:race", timedelta(minutes=1), who=f"t{i}"))

    threads = [threading.Thread(target=contend, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False] * 7 + [True]


def test_run_job_skips_work_another_process_holds(app):
    calls = []
    scheduler.JOBS["probe"] = scheduler.Job("probe", lambda a: calls.append(1), 60)
    try:
        leases.claim("job:probe", timedelta(minutes=5), who="other-host:1")
        assert scheduler.run_job(app, "probe") is False
        assert calls == []
        leases.release("job:probe", who="other-host:1")
        assert scheduler.run_job(app, "probe") is True
        assert calls == [1]
    finally:
        del scheduler.JOBS["probe"]


def test_a_failing_job_does_not_raise(app):
    def boom(a):
        raise RuntimeError("provider down")

    scheduler.JOBS["boom"] = scheduler.Job("boom", boom, 60)
    try:
        assert scheduler.run_job(app, "boom") is True
        assert Lease.get_by_id("job:boom").leased_until is None  # released after the failure
    finally:
        del scheduler.JOBS["boom"]


def test_heartbeat_job_records_this_process(app):
    scheduler.run_job(app, "heartbeat")
    assert Heartbeat.get_by_id(leases.holder())


def test_embedded_scheduler_starts_in_only_one_process_per_host(tmp_path):
    """Two processes race for the host lock: one starts the scheduler."""
    from tests.conftest import fresh_database_url, make_app

    url = fresh_database_url(tmp_path)
    code = (
        "import sys, time; from tests.conftest import make_app; from pathlib import Path;"
        "from calmesh.jobs.scheduler import start_embedded;"
        f"app = make_app(Path({str(tmp_path)!r}), "
        f"**{{'scheduler.embedded': True, 'database_url': {url!r}}});"
        "print(start_embedded(app), flush=True); time.sleep(3)"
    )
    make_app(tmp_path, database_url=url)  # create the database once, before the race
    procs = [
        subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE, text=True)
        for _ in range(3)
    ]
    outputs = [p.communicate(timeout=60)[0].strip().splitlines()[-1] for p in procs]
    assert sorted(outputs) == ["False", "False", "True"]
