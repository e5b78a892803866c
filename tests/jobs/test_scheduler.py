"""The scheduler: jobs run under a lease, and one scheduler per host (an flock election)."""

from __future__ import annotations

import itertools
import subprocess
import sys
import textwrap
from datetime import timedelta

from calmesh.jobs import leases, scheduler
from calmesh.models import Heartbeat, Lease
from tests.conftest import ROOT


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


def test_embedded_scheduler_runs_in_one_process_per_host_and_the_next_takes_over(tmp_path):
    """Three processes race for the host lock: one runs the scheduler at a time,
    and when it exits, one of those still waiting takes over (they keep trying).

    No window of time: each process records in `marks` when it became a
    candidate, was refused the lock and won it, and the winner holds the lock
    until every other candidate has won before or been refused, so the race
    is the same on a fast machine and on a busy one."""
    from tests.conftest import fresh_database_url, make_app

    url = fresh_database_url(tmp_path)
    marks = tmp_path / "marks"
    marks.mkdir()
    code = textwrap.dedent(
        f"""
        import os, time
        from pathlib import Path
        from tests.conftest import make_app
        from calmesh.jobs import scheduler

        marks, me = Path({str(marks)!r}), str(os.getpid())
        scheduler.ELECTION_SECONDS = 0.05
        try_lock = scheduler._try_lock

        def counted(path):
            handle = try_lock(path)
            if handle is None:
                (marks / f"refused-{{me}}").touch()
            return handle

        scheduler._try_lock = counted
        app = make_app(Path({str(tmp_path)!r}), **{{"scheduler.embedded": True, "database_url": {url!r}}})
        (marks / f"candidate-{{me}}").touch()
        assert scheduler.start_embedded(app)
        while not scheduler.holds_lock(app):
            time.sleep(0.02)
        print("won", time.monotonic(), flush=True)
        (marks / f"won-{{me}}").touch()

        def settled(pid):
            return (marks / f"won-{{pid}}").exists() or (marks / f"refused-{{pid}}").exists()

        while True:
            candidates = [p.name.split("-")[1] for p in marks.glob("candidate-*")]
            if len(candidates) == 3 and all(settled(pid) for pid in candidates):
                break
            time.sleep(0.02)
        print("left", time.monotonic(), flush=True)
        """
    )
    make_app(tmp_path, database_url=url)  # create the database once, before the race
    procs = [
        subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE, text=True)
        for _ in range(3)
    ]
    outputs = [p.communicate(timeout=240)[0].split() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    spans = sorted((float(out[1]), float(out[3])) for out in outputs)
    assert len(spans) == 3, "each process ran the scheduler in its turn"
    for (_, left), (won, _) in itertools.pairwise(spans):
        # CLOCK_MONOTONIC is one clock for the whole host; the lock is freed
        # only when its holder exits, after it printed "left".
        assert won > left, "never two schedulers at once on one host"
    refused = {p.name.split("-")[1] for p in marks.glob("refused-*")}
    assert len(refused) >= 2, "the later two waited while the lock was held, and took over"


def test_a_skipped_overlapping_run_is_not_logged_as_a_warning(caplog):
    import logging

    caplog.set_level(logging.WARNING, logger="apscheduler.scheduler")
    logging.getLogger("apscheduler.scheduler").warning(
        'Execution of job "outbox-mail" skipped: maximum number of running instances reached (1)'
    )
    logging.getLogger("apscheduler.scheduler").warning("something else")
    assert [r.getMessage() for r in caplog.records] == ["something else"]
