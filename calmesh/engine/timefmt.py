"""Times as an owner reads them: in their zone, on their clock (24h or 12h),
weeks starting on their first day. Pure: the owner's pages (Jinja filters, see
:mod:`calmesh.web.owner_time`) and owner mails use the same functions.

``Habits`` carries the three choices; :func:`habits_of` reads them from a user.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@dataclass(frozen=True)
class Habits:
    timezone: str = "UTC"
    clock: str = "24"  # "24": 14:30, "12": 2:30pm
    week_start: int = 0  # 0 = Monday ... 6 = Sunday

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def habits_of(user) -> Habits:
    """A user's (any object with timezone, clock, week_start) habits."""
    return Habits(user.timezone, user.clock, user.week_start)


def clock_time(moment: datetime, clock: str) -> str:
    """'14:30' or '2:30pm' (of ``moment`` as it is: convert it first)."""
    if clock == "12":
        return f"{moment.hour % 12 or 12}:{moment:%M}{'am' if moment.hour < 12 else 'pm'}"
    return f"{moment:%H:%M}"


def time_of(moment: datetime, habits: Habits) -> str:
    return clock_time(moment.astimezone(habits.zone), habits.clock)


def day_of(moment: datetime, habits: Habits) -> str:
    """'Mon 16 Mar 2026', the local date of ``moment``."""
    return f"{moment.astimezone(habits.zone):%a %d %b %Y}"


def long_day(moment: datetime, habits: Habits) -> str:
    """'Monday, 16 March 2026'."""
    local = moment.astimezone(habits.zone)
    return f"{local:%A}, {local.day} {local:%B} {local.year}"


def moment_of(moment: datetime, habits: Habits) -> str:
    """'Mon 16 Mar 2026, 14:30' (log lines: sessions, history)."""
    return f"{day_of(moment, habits)}, {time_of(moment, habits)}"


def span_of(start: datetime, end: datetime, habits: Habits, zone_name: bool = False) -> str:
    """'Monday, 16 March 2026, 09:00–09:30' (an end on a later day gets its date),
    then ' (Europe/Berlin)' when ``zone_name``."""
    text = f"{long_day(start, habits)}, {time_of(start, habits)}–"
    if end.astimezone(habits.zone).date() != start.astimezone(habits.zone).date():
        text += f"{long_day(end, habits)}, "
    text += time_of(end, habits)
    return f"{text} ({habits.timezone})" if zone_name else text


def week_of(day: date, week_start: int) -> date:
    """The first day of the week ``day`` is in, weeks starting on ``week_start``."""
    return day - timedelta(days=(day.weekday() - week_start) % 7)


def weekday_order(week_start: int) -> list[int]:
    """The weekdays (0 = Monday) in the order the owner's week shows them."""
    return [(week_start + i) % 7 for i in range(7)]
