"""A booking page's settings: every one optional in itself; a new page needs a
slug, title, calendar and zone, a change names only what it changes."""

from __future__ import annotations

from typing import Any

from calmesh.inputs.calendars import SLUG
from calmesh.schema import (
    LANGUAGES,
    MAX_SLOT_DAYS,
    SLUG_MAX,
    Boolean,
    Choice,
    Date,
    DateTime,
    Integer,
    List,
    Object,
    String,
    TimeZone,
    minutes_field,
)

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
HHMM = r"([01]\d|2[0-3]):[0-5]\d|24:00"
TIME_RANGE = List(
    String(min_length=5, max_length=5, pattern=HHMM, pattern_help="must be HH:MM (00:00-24:00)"),
    min_items=2,
    max_items=2,
    description='["09:00", "17:00"] in the page\'s zone',
)
DAY_HOURS = List(
    TIME_RANGE, max_items=12, description="Several ranges a day are allowed; [] = closed"
)
WEEKLY_HOURS = Object(
    {
        day: List(
            TIME_RANGE,
            max_items=12,
            default=list,
            description="Several ranges a day are allowed; [] or left out = closed",
        )
        for day in DAYS
    },
    name="WeeklyHours",
    description="Hours per weekday (mon..sun) in the page's zone; days left out are closed",
)
DEFAULT_WEEKLY = {day: ([["09:00", "17:00"]] if i < 5 else []) for i, day in enumerate(DAYS)}
QUESTION_TYPES = ("short_text", "long_text", "select", "checkbox", "phone")
QUESTION = Object(
    {
        "id": String(
            min_length=1, max_length=40, pattern=r"[a-z0-9_-]+", pattern_help="lowercase id"
        ),
        "label": String(min_length=1, max_length=200),
        "type": Choice(*QUESTION_TYPES),
        "required": Boolean(default=False),
        "options": List(String(min_length=1, max_length=200), max_items=50, default=list),
    },
    name="Question",
)
MINUTES = Integer(minimum=5, maximum=720)

# Every setting, optional: POST fills in the defaults below, PATCH changes only what it names.
SETTINGS: dict[str, Any] = {
    "title": String(min_length=1, max_length=200),
    "description": String(max_length=5000),
    "calendar": String(
        min_length=1, max_length=SLUG_MAX, description="Slug of one of your unified calendars"
    ),
    "timezone": TimeZone(),
    "duration": MINUTES,
    "durations": List(
        MINUTES,
        min_items=1,
        max_items=10,
        description="Allowed durations; the first is the default",
    ),
    "weekly_hours": WEEKLY_HOURS,
    "date_overrides": List(
        Object({"date": Date(), "hours": DAY_HOURS}, name="DateOverride"),
        max_items=366,
        description="Other hours on a date; hours [] = a day off",
    ),
    "slot_interval": Integer(
        minimum=5,
        maximum=720,
        nullable=True,
        description="Minutes between starts; null = the duration",
    ),
    "buffer_before": Integer(minimum=0, maximum=720),
    "buffer_after": Integer(minimum=0, maximum=720),
    "min_notice": Integer(minimum=0, maximum=525_600, description="Minutes"),
    "window_days": Integer(
        minimum=1, maximum=730, nullable=True, description="Bookable this many days ahead"
    ),
    "window_start": Date(nullable=True, description="Or a fixed range: first date"),
    "window_end": Date(nullable=True, description="Last date"),
    "daily_limit": Integer(minimum=1, maximum=1000, nullable=True),
    "weekly_limit": Integer(minimum=1, maximum=5000, nullable=True),
    "requires_confirmation": Boolean(),
    "location": String(max_length=500),
    "questions": List(QUESTION, max_items=30),
    "active": Boolean(),
    "language": Choice(
        *LANGUAGES, description="Visitors' language when their browser asks for none of these"
    ),
    "ask_notes": Boolean(description="The booking form's free notes field"),
}
NEW_PAGE = Object(
    {"slug": SLUG, **SETTINGS},
    name="NewBookingPage",
    required=("slug", "title", "calendar", "timezone"),
)
PAGE_PATCH = Object({"slug": SLUG, **SETTINGS}, name="BookingPageUpdate", required=())


SLOTS_QUERY = Object(
    {
        "start": DateTime(default=None, description="Default: now"),
        "end": DateTime(
            default=None,
            description=f"Default: start + 7 days; at most {MAX_SLOT_DAYS} days after start",
        ),
        "tz": TimeZone(default=None, description="The visitor's zone; default the page's"),
        "duration": minutes_field(default=None, description="Minutes; default the page's first"),
    }
)
