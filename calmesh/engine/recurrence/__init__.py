"""Recurrence expansion: iCalendar data in, stored occurrences out.

The sync engine calls `expand` for each source over its rolling horizon and
saves the result as rows, so no request ever expands a rule. Expansion itself
is `recurring_ical_events` (RRULE, RDATE, EXDATE, overridden and cancelled
instances, X-WR-TIMEZONE); this package reads the data defensively around it
and turns every instance into an `Occurrence` in UTC.

Its modules, in the order data goes through them:

* `parsing`: `parse_calendar`, iCalendar text to a calendar the rest trusts;
* `expansion`: `expand`, a calendar and a window to occurrences, within a
  `Budget` (`budget`), on the library's internals gathered in `library`;
* `splitting`: `split_by_uid`, one text per UID for change detection;
* `occurrence`: what they hand out (`Occurrence`, `CalendarDataError`,
  `zone_from_name`).

Decisions that hold throughout:

* A floating time, or one whose TZID names no zone we know, is wall time in
  the calendar's X-WR-TIMEZONE if it has one, else in `default_tz`.
* Whole-day events keep their dates; `start`/`end` are those dates at 00:00
  UTC, a sorting convention only. They are kept when they overlap the window
  in any time zone, because the reader's zone is not known here.
* Bad data raises `CalendarDataError` and nothing else. A broken series is
  skipped and the rest of the file still expands.
* Expansion is bounded (see `Budget`): a rule is walked one instance at a
  time, never as a list, and stops at a cap, so a 250-byte `FREQ=SECONDLY`
  event costs a few thousand instances, not the worker's memory. What a cap
  cut is reported, and the rest of the calendar still expands.
"""

from calmesh.engine.recurrence.budget import WALK_FACTOR, Budget
from calmesh.engine.recurrence.expansion import expand
from calmesh.engine.recurrence.occurrence import CalendarDataError, Occurrence, zone_from_name
from calmesh.engine.recurrence.parsing import parse_calendar
from calmesh.engine.recurrence.splitting import split_by_uid

__all__ = [
    "WALK_FACTOR",
    "Budget",
    "CalendarDataError",
    "Occurrence",
    "expand",
    "parse_calendar",
    "split_by_uid",
    "zone_from_name",
]
