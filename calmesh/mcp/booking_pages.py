"""Tools on the owner's booking pages: list, get, create, update, delete.

Every setting is a parameter of its own, checked by the REST API's declaration of
that setting (:data:`calmesh.inputs.booking_pages.SETTINGS`): one list of
settings serves the endpoint, the dashboard and these tools.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Annotated, Any, Literal

from mcp_types import CallToolResult
from pydantic import Field

from calmesh import schema
from calmesh.inputs.booking_pages import SETTINGS
from calmesh.mcp.client import Api
from calmesh.mcp.client import segment as seg
from calmesh.mcp.common import Cursor, Limit, like, more, result, tool

OwnPage = like(
    schema.slug_field(), "One of your booking pages' slugs, as calmesh_list_booking_pages shows it"
)

HELP = {
    "title": "The page's title, e.g. 'Intro call'",
    "description": "Shown on the page",
    "calendar": "Slug of the unified calendar it books into (calmesh_list_calendars)",
    "timezone": "The IANA zone its hours are in, e.g. Europe/Berlin",
    "durations": "Allowed durations in minutes, the first the default, e.g. [30, 60]",
    "weekly_hours": 'Hours per weekday in the page\'s zone, e.g. {"mon": [["09:00", "12:00"], '
    '["13:00", "17:00"]], "fri": [["09:00", "13:00"]]}; days left out are closed',
    "date_overrides": 'Other hours on dates, e.g. [{"date": "2026-12-24", "hours": []}] '
    "([] = a day off)",
    "slot_interval": "Minutes between starts; null = the duration",
    "buffer_before": "Free minutes kept before each booking",
    "buffer_after": "Free minutes kept after each booking",
    "min_notice": "Minutes of notice a booking needs",
    "window_days": "Bookable this many days ahead; null = no limit",
    "window_start": "Or a fixed range: its first date, YYYY-MM-DD",
    "window_end": "The fixed range's last date, YYYY-MM-DD",
    "daily_limit": "At most this many bookings a day",
    "weekly_limit": "At most this many bookings a week",
    "requires_confirmation": "Bookings wait as pending until confirmed",
    "location": "Where, e.g. a video link or an address",
    "questions": 'Custom questions, e.g. [{"id": "topic", "label": "Topic", "type": '
    '"short_text", "required": true}]; types short_text, long_text, select (with options), '
    "checkbox, phone",
    "active": "false hides the page from visitors",
    "language": "Visitors' language when their browser asks for none of en, de, fr, es",
    "ask_notes": "false leaves the free notes field out of the booking form",
}
PYTHON_TYPE = {
    schema.Integer: int,
    schema.Boolean: bool,
    schema.List: list,
    schema.Object: dict,
}
SETTING_NAMES = [k for k in SETTINGS if k != "duration"]  # durations covers it
NULLABLE = tuple(k for k in SETTING_NAMES if SETTINGS[k].nullable)
Clear = Annotated[
    list[Literal[NULLABLE]],  # type: ignore[valid-type]
    Field(
        max_length=len(NULLABLE),
        description="Settings to reset to 'none' (no limit, no fixed window, interval = "
        "the duration): " + ", ".join(NULLABLE),
    ),
]


def _setting(key: str, optional: bool = False) -> Any:
    if key == "new_slug":
        return like(
            schema.slug_field(), "A new slug (the old link stops working)", optional=optional
        )
    field = SETTINGS[key]
    return like(field, HELP[key], PYTHON_TYPE.get(type(field), str), optional=optional)


def _signature(
    required: dict[str, Any], optional: list[str], clear: bool = False
) -> inspect.Signature:
    kw = inspect.Parameter.KEYWORD_ONLY
    params = [inspect.Parameter("api", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Api)]
    params += [inspect.Parameter(n, kw, annotation=a) for n, a in required.items()]
    params += [
        inspect.Parameter(n, kw, annotation=_setting(n, optional=True), default=None)
        for n in optional
    ]
    if clear:
        params.append(inspect.Parameter("clear", kw, annotation=Clear, default=[]))
    return inspect.Signature(params, return_annotation=CallToolResult)


def with_signature(signature: inspect.Signature) -> Callable:
    """Give a ``**kwargs`` tool the parameters the MCP SDK should list and check
    (after ``api``, as every tool's)."""

    def decorate(fn: Callable) -> Callable:
        fn.__signature__ = signature
        return fn

    return decorate


def page_line(page: dict[str, Any]) -> str:
    minutes = "/".join(str(d) for d in page["durations"])
    state = "" if page["active"] else ", inactive"
    confirm = ", needs confirmation" if page["requires_confirmation"] else ""
    open_days = ", ".join(d for d, hours in page["weekly_hours"].items() if hours) or "no days"
    return (
        f"- {page['slug']}: {page['title']!r}, {minutes} min, calendar {page['calendar']}, "
        f"{page['timezone']}, open {open_days}{confirm}{state}; share {page['url']}"
    )


@tool("calmesh_list_booking_pages", "List booking pages", "read", calls=["GET /booking-pages"])
async def list_booking_pages(api: Api, limit: Limit = 50, cursor: Cursor = None) -> CallToolResult:
    """List the owner's booking pages (like Calendly event types): each has a `slug`,
    `title`, allowed `durations` in minutes, the unified `calendar` it books into, its
    IANA `timezone`, `weekly_hours`, buffers, notice and limits, whether bookings need
    confirmation, custom `questions`, and the public `url` to share.

    Use it to find the slug that calmesh_get_slots and calmesh_create_booking need.
    The result has `data`, `has_more` and `next_cursor`."""
    page = await api.get("/booking-pages", limit=limit, cursor=cursor)
    lines = [page_line(p) for p in page["data"]]
    summary = f"{len(lines)} booking page(s):\n" + "\n".join(lines) if lines else ""
    return result((summary or "No booking pages yet.") + more(page), page)


@tool(
    "calmesh_get_booking_page",
    "Get a booking page",
    "read",
    calls=["GET /booking-pages/:slug"],
)
async def get_booking_page(api: Api, booking_page: OwnPage) -> CallToolResult:
    """Get every setting of one of the owner's booking pages, its public `url` and
    the `embed_snippet` for a website."""
    data = await api.get(f"/booking-pages/{seg(booking_page)}")
    return result("Booking page:\n" + page_line(data), data)


@tool(
    "calmesh_create_booking_page",
    "Create a booking page",
    "full",
    calls=["POST /booking-pages"],
)
@with_signature(
    _signature(
        {
            "slug": like(
                schema.slug_field(),
                "Its address: https://host/{your handle}/{slug}; lowercase letters, digits, "
                "hyphens; unique among your pages",
            ),
            "title": _setting("title"),
            "calendar": _setting("calendar"),
            "timezone": _setting("timezone"),
        },
        [n for n in SETTING_NAMES if n not in {"title", "calendar", "timezone"}],
    )
)
async def create_booking_page(api: Api, **settings: Any) -> CallToolResult:
    """Create a booking page on one of the owner's unified calendars: visitors pick a
    free slot in its weekly hours and book it. Every setting can be given: durations,
    weekly_hours (days left out are closed; default Monday to Friday 09:00-17:00),
    date_overrides, slot_interval, buffers, min_notice, a booking window, daily and
    weekly limits, requires_confirmation, location, questions, active.

    The result is the page with its public `url` (share it) and `embed_snippet`."""
    data = await api.post("/booking-pages", _present(settings))
    return result("Created booking page:\n" + page_line(data), data)


@tool(
    "calmesh_update_booking_page",
    "Change a booking page",
    "full",
    calls=["PATCH /booking-pages/:slug"],
)
@with_signature(
    _signature(
        {"booking_page": OwnPage},
        ["new_slug", *SETTING_NAMES],
        clear=True,
    )
)
async def update_booking_page(
    api: Api, booking_page: str, clear: list[str], **settings: Any
) -> CallToolResult:
    """Change settings of one of the owner's booking pages: only the settings given
    change, and those named in `clear` are reset (no limit, no fixed window).
    weekly_hours replaces the whole week: days left out are closed. new_slug renames
    its address (old links stop working). The result is the page."""
    body = {**_present(settings), **dict.fromkeys(clear)}
    if "new_slug" in body:
        body["slug"] = body.pop("new_slug")
    data = await api.patch(f"/booking-pages/{seg(booking_page)}", body, nulls=clear)
    return result("Changed booking page:\n" + page_line(data), data)


@tool(
    "calmesh_delete_booking_page",
    "Delete a booking page",
    "full",
    calls=["DELETE /booking-pages/:slug"],
    destructive=True,
    idempotent=True,
)
async def delete_booking_page(api: Api, booking_page: OwnPage) -> CallToolResult:
    """Delete one of the owner's booking pages and its bookings; its link stops
    working. Cannot be undone (to hide it for a while, set active=false with
    calmesh_update_booking_page instead)."""
    data = await api.delete(f"/booking-pages/{seg(booking_page)}")
    return result(f"Deleted booking page {booking_page!r}.", data)


TOOLS = (
    list_booking_pages,
    get_booking_page,
    create_booking_page,
    update_booking_page,
    delete_booking_page,
)


def _present(settings: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in settings.items() if v is not None}
