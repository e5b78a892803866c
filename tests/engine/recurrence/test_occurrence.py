"""Zone names: IANA and Windows names in, a zone or None out."""

from __future__ import annotations

import pytest

from calmesh.engine.recurrence import zone_from_name


@pytest.mark.parametrize(
    "name", ["Europe/Berlin", "W. Europe Standard Time", " Europe/Berlin ", "Romance Standard Time"]
)
def test_zone_from_name_accepts_iana_and_windows_names(name):
    assert zone_from_name(name) is not None


@pytest.mark.parametrize("name", ["", "Mars/Olympus", "Europe", "../etc/passwd", "x" * 300])
def test_zone_from_name_returns_none_for_anything_else(name):
    assert zone_from_name(name) is None
