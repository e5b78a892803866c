"""Imports every provider so that each registers its kind."""

from calmesh.providers import caldav, google, ics, microsoft  # noqa: F401
