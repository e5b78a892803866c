"""How much recurrence expansion may still produce: `Budget`."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

# Walking a rule to the window may cost this many steps per instance the
# budget allows: enough for any real series that cannot skip ahead (a COUNT,
# BYSETPOS, MONTHLY or YEARLY rule begun decades ago), not for a SECONDLY one.
WALK_FACTOR = 10


@dataclass
class Budget:
    """How much recurrence expansion may still produce.

    One budget spans every `expand` call for one calendar, so its cap holds
    across the calendar's objects. A series yields at most `per_series`
    instances inside the window and all series together `per_calendar`;
    walking the rules (from DTSTART, or from the last period before the window
    where that is exact) costs at most `WALK_FACTOR` times as many steps.
    Single events are not counted: each is one instance of one VEVENT
    received. What was cut is described in `faults`, one line per series.

    The defaults are far above what people schedule: a daily series over a
    13-month horizon has about 400 instances, one every two hours around the
    clock about 4,750; 50,000 is 125 daily series in one calendar.
    """

    per_series: int = 5_000
    per_calendar: int = 50_000
    # A rule whose filters never match (BYMONTH=2;BYMONTHDAY=30) yields nothing
    # but makes dateutil walk to the year 9999 first, several seconds a series,
    # out of reach of any step count: no series is begun after this (single
    # events still are: they cost nothing).
    seconds: float = 60.0
    clock: Callable[[], float] = time.monotonic
    instances: int = 0  # recurring instances produced so far (the sync adds what it keeps)
    steps: int = 0  # rule instances walked so far
    faults: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.started = self.clock()

    def out_of_time(self) -> bool:
        return self.clock() - self.started > self.seconds

    def give_back(self, instances: int) -> None:
        """Stored instances that are replaced no longer count."""
        self.instances = max(0, self.instances - instances)

    def step(self, walked: int) -> bool:
        """Count one more step of a series that walked ``walked`` so far; False
        once that series or the calendar has walked too far."""
        self.steps += 1
        return (
            walked <= self.per_series * WALK_FACTOR
            and self.steps <= self.per_calendar * WALK_FACTOR
        )

    def cut(self, uid: str, why: str) -> None:
        # The UID comes from the feed: short enough for the connection's last_error.
        self.faults.append(f"series {uid[:80]!r} {why}")
