"""Imports every module that registers jobs, so the scheduler sees them all."""

from calmesh.jobs import outbox, scheduler, sync  # noqa: F401
