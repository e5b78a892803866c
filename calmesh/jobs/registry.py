"""Imports every module that registers jobs, so the scheduler sees them all."""

from calmesh.jobs import scheduler, sync  # noqa: F401
