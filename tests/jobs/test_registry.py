"""The registry imports every module that declares jobs: the scheduler sees them all."""

from __future__ import annotations

from calmesh.effects import outbox
from calmesh.jobs import registry, scheduler


def test_every_job_is_registered_once_the_registry_is_imported():
    assert registry.scheduler is scheduler
    expected = {
        "sync-due",
        "roll-horizon",
        "heartbeat",
        *(f"outbox-{lane}" for lane in outbox.LANES),
    }
    assert expected <= set(scheduler.JOBS)
    for name, spec in scheduler.JOBS.items():
        assert spec.name == name and callable(spec.func)
